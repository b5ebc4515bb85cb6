// Per-call authorization (reference §5.4). A session's roles are expanded once, at login, into
// the set of method names it may call; the per-call check is then one Set lookup.

import type { Session } from "../auth/session.js";
import { expandRoles, isFullAdmin } from "./roles.js";

/**
 * What authorization reads of a method definition (src/api/method.ts MethodDef satisfies it):
 * access is decided from declared data, so this module needs neither the method files nor the
 * registry that lists them.
 */
export interface MethodAccess {
  name: string;
  roles: readonly string[];
  authenticationRequired: boolean;
  authorizationRequired: boolean;
  /** Callable by a session holding no role (a fleet user); see src/api/method.ts. */
  fleetUser?: boolean;
}

/** The published methods, by name (src/api/registry.ts Registry satisfies it). */
export interface MethodTable {
  get(name: string): MethodAccess | undefined;
  all(): Iterable<MethodAccess>;
}

export interface Access {
  roles: ReadonlySet<string>;
  fullAdmin: boolean;
  allowedMethods: ReadonlySet<string>;
  /** Any compound role (FULL/READONLY/SHARING/REPLICATION_ADMIN): may use the web UI. */
  webuiAccess: boolean;
}

const COMPOUND = new Set(["FULL_ADMIN", "READONLY_ADMIN", "SHARING_ADMIN", "REPLICATION_ADMIN"]);
const cache = new Map<string, Access>();

/** Expand raw privilege roles into an Access, memoised by role set and STIG mode. */
export function accessFor(registry: MethodTable, rawRoles: Iterable<string>, stig: boolean): Access {
  const raw = [...new Set(rawRoles)].sort();
  const key = `${stig ? "S" : "N"}|${raw.join(",")}`;
  let access = cache.get(key);
  if (access) return access;
  const roles = expandRoles(raw, { stig });
  const fullAdmin = isFullAdmin(roles, stig);
  const allowed = new Set<string>();
  for (const def of registry.all()) {
    if (def.roles.some((r) => roles.has(r as never))) allowed.add(def.name);
  }
  access = {
    roles: roles as ReadonlySet<string>,
    fullAdmin,
    allowedMethods: allowed,
    webuiAccess: raw.some((r) => COMPOUND.has(r) && (!stig || roles.has(r as never))),
  };
  cache.set(key, access);
  return access;
}

export function clearAccessCache(): void {
  cache.clear();
}

export type Decision = "ALLOW" | "NOT_AUTHENTICATED" | "NOT_AUTHORIZED";

export function authorize(def: MethodAccess, session: Session | null): Decision {
  if (!def.authenticationRequired) return "ALLOW";
  if (!session) return "NOT_AUTHENTICATED";
  if (session.fullAdmin || session.internal) return "ALLOW";
  // A session holding no role signed in on its fleet access alone: only the methods marked for it.
  if (session.roles.size === 0 && !def.fleetUser) return "NOT_AUTHORIZED";
  if (!def.authorizationRequired) return "ALLOW";
  return session.allowedMethods.has(def.name) ? "ALLOW" : "NOT_AUTHORIZED";
}

/** May the session subscribe to `event`? CRUD query events need the query method's roles. */
export function canSubscribe(registry: MethodTable, session: Session, event: string): boolean {
  if (session.fullAdmin || session.internal) return true;
  if (event === "*") return false;
  if (event === "core.get_jobs") return true;
  const def = registry.get(event);
  return !!def && authorize(def, session) === "ALLOW";
}

/**
 * Does the session hold FULL_ADMIN (for handlers' "self or FULL_ADMIN" rules)? Unlike
 * `session.fullAdmin` this stays true under STIG, where FULL_ADMIN is no longer a wildcard.
 */
export function holdsFullAdmin(session: Session): boolean {
  return session.internal || session.fullAdmin || session.roles.has("FULL_ADMIN");
}

/**
 * Job visibility (reference §9): full administrators and the server itself see every job; any
 * other session only the jobs it started, never the server's own (internal) ones.
 */
export function seesAllJobs(session: Session): boolean {
  return session.fullAdmin || session.internal;
}

export function maySeeJob(session: Session, owner: { sessionId: string | null; internal: boolean }): boolean {
  return seesAllJobs(session) || (!owner.internal && owner.sessionId === session.id);
}
