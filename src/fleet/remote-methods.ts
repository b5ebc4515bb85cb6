// Which of a system's methods are read methods (the proxy lets READ callers call only those) and
// which run as jobs — decided from the system's own `core.get_methods`: a method is a read method
// when it requires roles and every one of them is a read role (`*_READ`, or READONLY_ADMIN, which
// `*_choices` methods carry). A method with no role (FULL_ADMIN only) or none required (self-or-role
// account methods, core.bulk, ...) is not, apart from a few harmless informational ones. The list
// is cached per system and fetched again when the system's version changes. Only when the list is
// unavailable do the names decide (`*.query`, `*.get_instance`, `*.config`, `*_choices`).

import type { RemoteConnection } from "./remote-connection.js";

export interface MethodInfo {
  read: boolean;
  job: boolean;
}

interface CachedList {
  version: string | null;
  /** null: the system would not list its methods (fall back to names). */
  methods: Map<string, MethodInfo> | null;
  at: number;
}

/** Informational methods needing no role that READ callers may use through the proxy. */
const HARMLESS = new Set(["core.ping", "core.get_methods", "system.version", "auth.me"]);

/** Session methods the proxy never forwards: it owns the system's session and its subscriptions. */
const NEVER_PROXIED = /^(auth\.(login.*|logout|generate_token|terminate_session|terminate_other_sessions)|core\.(set_options|subscribe|unsubscribe|job_wait|job_abort))$/;

/** A list that could not be fetched is tried again after this long (ms). */
const RETRY_UNAVAILABLE_MS = 60_000;
const GET_METHODS_TIMEOUT_MS = 15_000;

export function neverProxied(method: string): boolean {
  return NEVER_PROXIED.test(method);
}

/** Read by the name alone (only when the system does not list its methods). */
export function readByName(method: string): boolean {
  return /^[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*\.(query|get_instance|config)$/.test(method) || /^[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*_choices$/.test(method);
}

/** Is a method with these declared roles a read method? */
export function readByRoles(method: string, doc: { roles?: unknown; require_authorization?: unknown; no_authz_required?: unknown }): boolean {
  const roles = Array.isArray(doc.roles) ? doc.roles.filter((r): r is string => typeof r === "string") : [];
  if (roles.length) return roles.every((r) => r.endsWith("_READ") || r === "READONLY_ADMIN");
  return HARMLESS.has(method);
}

function parseList(raw: unknown): Map<string, MethodInfo> | null {
  if (!raw || typeof raw !== "object" || Array.isArray(raw)) return null;
  const out = new Map<string, MethodInfo>();
  for (const [name, doc] of Object.entries(raw as Record<string, unknown>)) {
    if (!doc || typeof doc !== "object") continue;
    const d = doc as { roles?: unknown; job?: unknown };
    out.set(name, { read: readByRoles(name, d), job: d.job === true });
  }
  return out;
}

function infoOf(l: CachedList, method: string): MethodInfo & { listed: boolean } {
  if (!l.methods) return { read: readByName(method), job: false, listed: false };
  const m = l.methods.get(method);
  return { read: !!m?.read, job: !!m?.job, listed: true };
}

export class RemoteMethodCache {
  private readonly bySystem = new Map<number, CachedList>();
  private readonly fetching = new Map<number, Promise<CachedList>>();

  /** The method list of `systemId`, as `conn` (the main key's connection) reports it. */
  async list(systemId: number, conn: RemoteConnection): Promise<CachedList> {
    const cached = this.bySystem.get(systemId);
    if (cached && cached.version === conn.version && (cached.methods || Date.now() - cached.at < RETRY_UNAVAILABLE_MS)) return cached;
    let p = this.fetching.get(systemId);
    if (!p) {
      p = conn
        .call("core.get_methods", [], GET_METHODS_TIMEOUT_MS)
        .then(parseList, () => null)
        .then((methods) => {
          const entry = { version: conn.version, methods, at: Date.now() };
          this.bySystem.set(systemId, entry);
          return entry;
        })
        .finally(() => this.fetching.delete(systemId));
      this.fetching.set(systemId, p);
    }
    return p;
  }

  /** What the proxy knows of `method` on the system (unknown to a listed system: not read, not a job). */
  async info(systemId: number, conn: RemoteConnection, method: string): Promise<MethodInfo & { listed: boolean }> {
    return infoOf(await this.list(systemId, conn), method);
  }

  /** `info` without a wait when the list is cached and current for `conn`'s version; null: ask `info`. */
  cachedInfo(systemId: number, conn: RemoteConnection, method: string): (MethodInfo & { listed: boolean }) | null {
    const cached = this.bySystem.get(systemId);
    if (!cached || cached.version !== conn.version || !cached.methods) return null;
    return infoOf(cached, method);
  }

  forget(systemId: number): void {
    this.bySystem.delete(systemId);
  }
}
