// The `changes` log (migration 016): the typed event of each commit, written in the commit's own
// transaction, read by other server processes when PostgreSQL announces its sequence number.

import { sql, type Kysely, type Transaction } from "kysely";
import type { Tx } from "./db.js";
import type { Database as Schema } from "./schema.js";
import { decodeChange, encodeChange, type ChangeEvent } from "./change-event.js";

/** Rows older than this are pruned: a process that was away longer does a full pass anyway. */
export const CHANGE_RETENTION_MS = 24 * 3600_000;

/** Write `ev` to the log; call inside the transaction that made the change. */
export async function recordChange(trx: Tx, ev: ChangeEvent): Promise<void> {
  await trx
    .insertInto("changes")
    .values({ payload: encodeChange(ev), at: Date.now() })
    .execute();
}

/** The events after `seq`, oldest first, and the last sequence number read. */
export async function changesSince(db: Tx, seq: number, limit = 1000): Promise<{ events: ChangeEvent[]; last: number; more: boolean }> {
  const rows = await db
    .selectFrom("changes")
    .select(["seq", "payload"])
    .where("seq", ">", seq)
    .orderBy("seq")
    .limit(limit + 1)
    .execute();
  const more = rows.length > limit;
  const kept = more ? rows.slice(0, limit) : rows;
  return { events: kept.map((r) => decodeChange(r.payload)), last: kept.length ? Number(kept[kept.length - 1]!.seq) : seq, more };
}

/** The newest sequence number (0 when the log is empty). */
export async function lastChangeSeq(db: Tx): Promise<number> {
  const r = await db.selectFrom("changes").select(sql<number>`max(seq)`.as("m")).executeTakeFirst();
  return Number(r?.m ?? 0);
}

/** Drop rows older than the retention. */
export async function pruneChanges(db: Tx, now = Date.now()): Promise<void> {
  await db
    .deleteFrom("changes")
    .where("at", "<", now - CHANGE_RETENTION_MS)
    .execute();
}

/** What commitChange needs: the store and the publisher of this process (src/app.ts App). */
export interface ChangeCommitter {
  readonly store: { readonly db: Kysely<Schema> };
  changed(ev: ChangeEvent): void;
}

/**
 * Run `write` in a transaction that also records `ev`, then publish `ev` in this process: for
 * writes whose event is known before they run.
 */
export async function commitChange<T>(app: ChangeCommitter, ev: ChangeEvent, write: (trx: Transaction<Schema>) => Promise<T>): Promise<T> {
  const result = await app.store.db.transaction().execute(async (trx) => {
    const r = await write(trx);
    await recordChange(trx, ev);
    return r;
  });
  app.changed(ev);
  return result;
}
