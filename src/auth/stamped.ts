// What a login may reuse from an earlier read while the store's change stamp stands still: the
// security and two-factor settings (read at every password login), and a row the login itself
// read a moment before. Every write to a table these are built from (settings, users, groups,
// memberships, privileges, api_keys, team_members, …) moves the stamp — in this process when the
// statement runs, from another process through SQLite's data_version, read afresh for every request
// that arrives (src/store/change-feed.ts) — so a changed setting, a locked account or a changed
// password is seen by the next login that arrives after the change committed.
//
// SQLite only, as ./api-key-login-cache.ts: on PostgreSQL another process's change reaches this
// one through a NOTIFY a fraction of a millisecond later, so there every login reads afresh.

import type { Store, Tx } from "../store/db.js";

/** Has nothing changed since `stamp` (taken before a read)? False whenever it cannot be known exactly. */
export function unchangedSince(store: Pick<Store, "dialect" | "changes">, stamp: string | null): boolean {
  return stamp !== null && store.dialect === "sqlite" && store.changes.stamp() === stamp;
}

/**
 * One value read from the store, kept while the stamp it was read at stands. A value is kept only
 * if the stamp did not move while it was read (a write in between may or may not be in it). The
 * value is shared by every caller: never change it.
 */
export class StampedRead<T> {
  private held: { stamp: string; value: T } | null = null;

  constructor(
    private readonly store: Pick<Store, "db" | "dialect" | "changes">,
    private readonly read: (db: Tx) => Promise<T>,
  ) {}

  get(): Promise<T> {
    const store = this.store;
    const stamp = store.dialect === "sqlite" ? store.changes.stamp() : null;
    if (stamp === null) return this.read(store.db);
    const held = this.held;
    if (held && held.stamp === stamp) return Promise.resolve(held.value);
    const reading = this.read(store.db);
    reading.then(
      (value) => {
        if (store.changes.stamp() === stamp) this.held = { stamp, value };
      },
      () => undefined,
    );
    return reading;
  }
}
