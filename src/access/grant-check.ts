// "Nobody grants what they do not hold" (issue 9 point 4, SPEC "Security principles").
//
// Two rules, one place:
// - assertMayGrant: a change that gives an account a role (or takes one away) needs the caller to
//   hold that role; sudo rights and built-in groups need FULL_ADMIN. The domain code computes the
//   delta inside the write's transaction (src/accounts/grant-delta.ts) and calls this before
//   committing, so a concurrent change cannot slip between the check and the write.
// - assertMayActOn: acting on an account (its credentials, second factor, keys, home, lock) needs
//   the caller to hold every role that account holds; the dispatcher calls it for the `targets`
//   a method declares (src/access/targets.ts).
//
// A session's `roles` already are what it may use: the owner's roles cut down to an API key's
// roles (tokens minted from a key inherit them) or to READONLY_ADMIN after become_readonly. So a
// role-limited key acts only within its roles, on its own owner too.

import { CallError } from "../server/errors.js";
import type { Session } from "../auth/session.js";

/** Who asks: a session, or null for the server itself (first-start setup, internal jobs). */
export type Caller = Pick<Session, "roles" | "internal" | "username"> & Partial<Pick<Session, "apiKeyId" | "keyRoles" | "readonly" | "userId">>;

/** A right that only FULL_ADMIN may hand out or take away, with the attribute that asked for it. */
export interface FullAdminNeed {
  attr: string;
  what: string;
}

/** What a change would do to the rights of the accounts it touches. */
export interface GrantDelta {
  /** Roles (expanded) that some account gains. */
  gained: Iterable<string>;
  /** Roles (expanded) that some account loses. */
  lost?: Iterable<string>;
  /** Changes that need FULL_ADMIN whatever they grant (sudo rights, built-in groups). */
  fullAdmin?: readonly FullAdminNeed[];
  /** Attribute named in the error (e.g. `user_update.groups`). */
  attr?: string;
}

/** Does the caller hold `role` (FULL_ADMIN's closure holds every role)? */
export function callerHolds(caller: Caller | null, role: string): boolean {
  return !caller || caller.internal || caller.roles.has(role);
}

/** Roles of `roles` the caller does not hold, sorted. */
export function missingRoles(caller: Caller | null, roles: Iterable<string>): string[] {
  const out = new Set<string>();
  for (const r of roles) if (!callerHolds(caller, r)) out.add(r);
  return [...out].sort();
}

/**
 * A compact name for a set of missing roles: FULL_ADMIN alone when it is among them (it stands for
 * all), else the first few.
 */
function describe(missing: string[]): string {
  if (missing.includes("FULL_ADMIN")) return "FULL_ADMIN";
  return missing.length > 5 ? `${missing.slice(0, 5).join(", ")} and ${missing.length - 5} more` : missing.join(", ");
}

/** Throws EPERM unless the caller holds every role the change gives or takes away. */
export function assertMayGrant(caller: Caller | null, delta: GrantDelta): void {
  if (!caller || caller.internal) return;
  for (const need of delta.fullAdmin ?? []) {
    if (!callerHolds(caller, "FULL_ADMIN")) {
      throw new CallError(`${need.attr}: ${need.what} requires the FULL_ADMIN role.`, "access.full_admin_required");
    }
  }
  const gained = missingRoles(caller, delta.gained);
  const attr = delta.attr ? `${delta.attr}: ` : "";
  if (gained.length) {
    throw new CallError(`${attr}this change would grant ${describe(gained)}, which you do not hold: nobody grants a role they do not hold.`, "access.role_not_held");
  }
  const lost = missingRoles(caller, delta.lost ?? []);
  if (lost.length) {
    throw new CallError(`${attr}this change would take away ${describe(lost)} from an account, which you do not hold.`, "access.role_not_held");
  }
}

/** Throws EPERM unless the caller holds every role the target account holds. */
export function assertMayActOn(caller: Caller | null, targetRoles: Iterable<string>, target: string): void {
  if (!caller || caller.internal) return;
  const missing = missingRoles(caller, targetRoles);
  if (missing.length) {
    throw new CallError(`${caller.username}: acting on ${target} requires ${describe(missing)} (every role that account holds).`, "access.target_outranks");
  }
}

/**
 * May the caller use the "own account" exemption of `owner: "self-or-role"` methods? Only a
 * session with all of its owner's rights: not one limited to an API key's roles (nor a token
 * minted from such a session), not one that became read-only.
 */
export function mayActAsSelf(caller: Caller): boolean {
  return (caller.apiKeyId ?? null) === null && !caller.readonly;
}

/**
 * May the caller READ its own account's rows (own-rows-or-role listings) without the listing's
 * role? A session carrying all of its owner's rights: a password session, a read-only one (it
 * only reads), or one opened with an API key that is not limited to some roles (such a key acts
 * as its owner, as every key does in the reference). A key limited to roles (or a token minted
 * from its session) stays within them.
 */
export function mayReadOwnRows(caller: Caller): boolean {
  return (caller.apiKeyId ?? null) === null || (caller.keyRoles ?? null) === null;
}

/**
 * Changing one's own password without giving the old one: FULL_ADMIN may (reference §1.9), and
 * so may a one-time-password session (it was issued for exactly that).
 */
export function mayBypassOldPassword(caller: Session): boolean {
  return callerHolds(caller, "FULL_ADMIN") || caller.attributes.includes("OTPW");
}

/** The password minimum-age rule binds everyone but FULL_ADMIN holders (reference §1.9). */
export function bypassesPasswordAge(caller: Session): boolean {
  return callerHolds(caller, "FULL_ADMIN");
}

/** Jobs: holders of FULL_ADMIN see every job; others only their session's own. */
export function mayUseJob(caller: Session, owner: { sessionId: string | null; internal: boolean }): boolean {
  if (callerHolds(caller, "FULL_ADMIN")) return true;
  return !owner.internal && owner.sessionId === caller.id;
}
