// The dispatcher's ownership check (method metadata `owner` and `targets`, src/api/method.ts):
// after authorization and validation, before the handler. The rule logic is in grant-check.ts.
//
// - owner "any": the roles decided who may call; each target account must hold no role the
//   caller lacks (acting on an account is as powerful as the account).
// - owner "self": every target must be the caller's own account.
// - owner "self-or-role": the caller's own account needs no role (unless the session is limited to
//   an API key's roles or became read-only: then it acts only within its roles); another account
//   needs one of the method's roles (none declared: FULL_ADMIN) and every role that account holds.
// - owner "own-rows-or-role": rows that belong to accounts (sessions, keys); holders of one of the
//   roles reach every row, any other session only its own account's: the scope is returned here
//   and the dispatcher hands it to the handler. A method that only reads (auth.sessions,
//   api_key.my_keys) also lists them to a session of an API key not limited to roles; one that
//   acts (auth.terminate_session) has the exceptions of self-or-role.

import type { Store } from "../store/db.js";
import type { CallTargets, FieldRoles, OwnerRule, RowScope } from "./ownership.js";
import type { Session } from "../auth/session.js";
import { CallError } from "../server/errors.js";
import { effectiveRolesOfUsers } from "../accounts/grant-delta.js";
import { assertMayActOn, callerHolds, mayActAsSelf, mayReadOwnRows } from "./grant-check.js";

/** What the ownership check reads of a method definition (src/api/method.ts MethodDef satisfies it). */
export interface OwnedMethod {
  name: string;
  roles: readonly string[];
  owner: OwnerRule;
  targets?: (...args: unknown[]) => CallTargets;
  args?: readonly { name: string }[];
  fieldRoles?: FieldRoles;
}

/** What the ownership check needs of the application: the store, to resolve targets. */
export interface TargetsContext {
  readonly store: Pick<Store, "db">;
}

/** Does the method have an ownership rule the dispatcher must check? */
export function hasOwnershipRule(def: OwnedMethod): boolean {
  return def.owner !== "any" || def.targets !== undefined || def.fieldRoles !== undefined;
}

/** Throws EACCES when the call sends a field whose roles (the method's fieldRoles) the caller lacks. */
function enforceFieldRoles(def: OwnedMethod, session: Session, args: unknown[]): void {
  const rule = def.fieldRoles;
  if (!rule) return;
  const value = args[(def.args ?? []).findIndex((a) => a.name === rule.arg)];
  if (!value || typeof value !== "object") return;
  for (const [field, v] of Object.entries(value)) {
    if (v === undefined) continue;
    const need = rule.fields[field] ?? rule.others;
    if (!need || need.some((r) => callerHolds(session, r))) continue;
    throw new CallError(`${rule.arg}.${field}: setting this field requires the ${need.join(" or ")} role.`, "access.field_role_required");
  }
}

/** Local user ids named by the targets (unknown names and keys are left to the handler). */
async function targetUserIds(app: TargetsContext, t: CallTargets): Promise<{ id: number; label: string }[]> {
  const db = app.store.db;
  const out = new Map<number, string>();
  for (const id of t.users ?? []) out.set(id, `user ${id}`);
  const names = [...new Set(t.usernames ?? [])];
  if (names.length) {
    for (const r of await db.selectFrom("users").select(["id", "username"]).where("username", "in", names).execute()) out.set(r.id, `user ${r.username}`);
  }
  const keys = [...new Set(t.apiKeys ?? [])];
  if (keys.length) {
    for (const r of await db.selectFrom("api_keys").select(["id", "user_id"]).where("id", "in", keys).execute()) {
      if (r.user_id !== null) out.set(r.user_id, `the owner of API key ${r.id}`);
    }
  }
  return [...out].map(([id, label]) => ({ id, label }));
}

/**
 * Lacking the method's role for another account: EACCES when the method names roles (as a role
 * check answers, e.g. api_key.* in the reference), EPERM when it needs FULL_ADMIN (user.set_password,
 * user.renew_2fa_secret in the reference).
 */
function refuseOthers(def: OwnedMethod, session: Session, whose: string): never {
  const need = def.roles.length ? def.roles.join(" or ") : "FULL_ADMIN";
  throw new CallError(
    `${session.username}: authenticated user lacks privileges to call ${def.name} on ${whose} (it requires the ${need} role).`,
    def.roles.length ? "access.target_not_authorized" : "access.target_not_permitted",
  );
}

function mayCallForOthers(def: OwnedMethod, session: Session): boolean {
  if (!def.roles.length) return callerHolds(session, "FULL_ADMIN");
  return def.roles.some((r) => callerHolds(session, r));
}

const ALL_ROWS: RowScope = { all: true };

/** Does the method only read (every role it names is a read role)? */
function readsOnly(def: OwnedMethod): boolean {
  return def.roles.length > 0 && def.roles.every((r) => r.endsWith("_READ") || r === "READONLY_ADMIN");
}

/**
 * The rows an own-rows-or-role method may show or act on for the caller; throws EACCES when none.
 * Reading its own rows needs all of the owner's rights for reading (mayReadOwnRows); acting on
 * them (ending its own sessions) the own-account exemption of self-or-role (mayActAsSelf).
 */
function rowScopeOf(def: OwnedMethod, session: Session): RowScope {
  if (mayCallForOthers(def, session)) return ALL_ROWS;
  const self = readsOnly(def) ? mayReadOwnRows(session) : mayActAsSelf(session);
  if (session.userId !== null && self) return { all: false, userId: session.userId };
  refuseOthers(def, session, session.userId === null ? "rows of accounts" : "your own rows from a session limited to some roles");
}

/**
 * Throws EPERM when the call's targets break the method's ownership rule. Returns the rows a
 * listing may show (every row unless the rule is own-rows-or-role and the caller lacks its roles).
 */
export async function enforceOwnership(app: TargetsContext, def: OwnedMethod, session: Session | null, args: unknown[]): Promise<RowScope> {
  if (!session || session.internal || !hasOwnershipRule(def)) return ALL_ROWS;
  enforceFieldRoles(def, session, args);
  if (def.owner === "own-rows-or-role") return rowScopeOf(def, session);
  const named = def.targets ? def.targets(...args) : {};
  // An unknown other account is refused like a known one (the reference answers EPERM first).
  if (def.owner === "self-or-role" && !mayCallForOthers(def, session) && (named.usernames ?? []).some((n) => n !== session.username)) {
    refuseOthers(def, session, "another account");
  }
  const targets = await targetUserIds(app, named);
  if (!targets.length) return ALL_ROWS;
  const roles = await effectiveRolesOfUsers(
    app.store.db,
    targets.map((t) => t.id),
  );
  for (const t of targets) {
    const self = session.userId !== null && t.id === session.userId;
    if (def.owner === "self" && !self) {
      throw new CallError(`${session.username}: ${def.name} may only act on your own account.`, "access.own_account_only");
    }
    if (def.owner === "self-or-role") {
      if (self && mayActAsSelf(session)) continue;
      if (!mayCallForOthers(def, session)) refuseOthers(def, session, self ? "your own account from a session limited to some roles" : "another account");
    }
    assertMayActOn(session, roles.get(t.id) ?? [], t.label);
  }
  return ALL_ROWS;
}
