// What the account area derives entries from besides the account rows: the privileges table
// (which GIDs carry which raw roles) and the system.security setting (STIG hides SMB, password
// aging). Both are read together in one small query, parsed only when the stored text changed;
// queries through the store reuse the result while the change feed says no account table changed
// (`storeSnapshot`), exactly like cached query results.

import { CompiledQuery } from "kysely";
import type { Store, Tx } from "../store/db.js";
import { SECURITY_DEFAULTS, SECURITY_KEY, type SecurityConfig } from "../auth/policy.js";

export interface PrivilegeGids {
  id: number;
  name: string;
  builtinName: string | null;
  gids: Set<number>;
  roles: string[];
}

export interface AccountSnapshot {
  privileges: PrivilegeGids[];
  security: SecurityConfig;
}

/** A JSON list column: null, empty or malformed text reads as []. */
export function jsonList<T>(text: string | null): T[] {
  if (!text) return [];
  try {
    const v = JSON.parse(text);
    return Array.isArray(v) ? v : [];
  } catch {
    return [];
  }
}

interface RawRow {
  k: string;
  id: number;
  name: string;
  builtin_name: string | null;
  a: string | null;
  b: string | null;
}

const SNAPSHOT_SQL = CompiledQuery.raw(
  `SELECT 'p' AS "k", "id", "name", "builtin_name", "local_groups" AS "a", "roles" AS "b" FROM "privileges" ` +
    `UNION ALL SELECT 's' AS "k", 0 AS "id", "key" AS "name", NULL AS "builtin_name", "value" AS "a", NULL AS "b" FROM "settings" WHERE "key" = '${SECURITY_KEY}' ` +
    `ORDER BY 1, 2`,
);

let last: { text: string; snapshot: AccountSnapshot } | null = null;

export async function accountSnapshot(db: Tx): Promise<AccountSnapshot> {
  const rows = (await db.executeQuery<RawRow>(SNAPSHOT_SQL)).rows;
  const text = JSON.stringify(rows);
  if (last && last.text === text) return last.snapshot;
  let security: SecurityConfig = { ...SECURITY_DEFAULTS };
  const privileges: PrivilegeGids[] = [];
  for (const r of rows) {
    if (r.k === "s") {
      try {
        security = { ...SECURITY_DEFAULTS, ...(JSON.parse(r.a ?? "{}") as Partial<SecurityConfig>) };
      } catch {
        // unreadable setting: defaults
      }
    } else {
      privileges.push({ id: r.id, name: r.name, builtinName: r.builtin_name, gids: new Set(jsonList<number>(r.a)), roles: jsonList<string>(r.b) });
    }
  }
  const snapshot = { privileges, security };
  last = { text, snapshot };
  return snapshot;
}

const byStore = new WeakMap<Store, { stamp: string; snapshot: AccountSnapshot }>();

/** `accountSnapshot` of the store itself (not a transaction), reused until the store changes. */
export async function storeSnapshot(store: Store): Promise<AccountSnapshot> {
  const stamp = store.changes.stamp();
  const hit = byStore.get(store);
  if (stamp !== null && hit && hit.stamp === stamp) return hit.snapshot;
  const snapshot = await accountSnapshot(store.db);
  // Taken before the read: a change during the read makes the next call read again.
  if (stamp !== null) byStore.set(store, { stamp, snapshot });
  return snapshot;
}

/** Every privilege with its local GIDs and raw roles. */
export async function privilegeRows(db: Tx): Promise<PrivilegeGids[]> {
  return (await accountSnapshot(db)).privileges;
}

/** Raw roles of privileges naming any of `gids`, in privilege order, without duplicates. */
export function rolesForGids(privileges: PrivilegeGids[], gids: Iterable<number>): string[] {
  const list = [...gids];
  const roles = new Set<string>();
  for (const p of privileges) if (list.some((g) => p.gids.has(g))) for (const r of p.roles) roles.add(r);
  return [...roles];
}
