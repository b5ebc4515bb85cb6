// What an API-key login read of the store (the key with its stored hash, its owner, the owner's
// grant and the security settings), kept per key while the store's change stamp says nothing the
// row is built from has changed, so a client signing in again and again with the same key costs no
// read. The cache never decides a login: every login still hashes the key it was given and compares
// it, in constant time, with the stored hash in the row; revocation, expiry (checked against the
// clock at every login), the owner's lock and every other change end an entry because they move
// the stamp (./service.ts AuthService.authStamp).
//
// SQLite only. There the stamp is exact and synchronous: this process's writes to the watched tables
// move it as they run, and PRAGMA data_version moves with every commit of any other connection or
// process, read afresh for every request that arrives (src/store/change-feed.ts), so a key
// revoked anywhere fails on the next login that arrives afterwards. On PostgreSQL another
// process's change reaches this one through a NOTIFY a fraction of a millisecond later; a login arriving inside that window would still be
// answered from the entry, so PostgreSQL reads the row at every login instead.

import type { Store } from "../store/db.js";
import type { Grant } from "../access/privileges.js";
import type { SecurityConfig } from "./policy.js";

/** Everything a login derived from one read, valid at `stamp`. */
export interface ApiKeyLoginEntry<Row> {
  stamp: string;
  row: Row;
  sec: SecurityConfig;
  grant: Grant;
  keyRoles: string[] | null;
}

/** Keys remembered per store: enough for every client of a busy server, bounded against a caller cycling key ids. */
const MAX_ENTRIES = 4096;

const caches = new WeakMap<Store, Map<number, ApiKeyLoginEntry<unknown>>>();

function cacheOf(store: Store): Map<number, ApiKeyLoginEntry<unknown>> | null {
  if (store.dialect !== "sqlite") return null;
  let c = caches.get(store);
  if (!c) caches.set(store, (c = new Map()));
  return c;
}

/** The entry of key `id` when the store has not changed since it was read (`stamp`: the current one). */
export function cachedApiKeyLogin<Row>(store: Store, id: number, stamp: string | null): ApiKeyLoginEntry<Row> | null {
  if (stamp === null) return null;
  const c = cacheOf(store);
  const e = c?.get(id);
  if (!e) return null;
  if (e.stamp !== stamp) {
    c!.delete(id);
    return null;
  }
  return e as ApiKeyLoginEntry<Row>;
}

/** Remember what a login read of key `id` at `stamp` (taken before the read). */
export function rememberApiKeyLogin<Row>(store: Store, id: number, entry: ApiKeyLoginEntry<Row>): void {
  const c = cacheOf(store);
  if (!c) return;
  if (c.size >= MAX_ENTRIES && !c.has(id)) c.clear();
  c.set(id, entry as ApiKeyLoginEntry<unknown>);
}
