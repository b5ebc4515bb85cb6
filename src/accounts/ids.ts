// Automatic UID / GID allocation (reference §1.9, §2.2; SPEC: start at 1000, a setting).
// The lowest free id at or above the start is handed out, filling gaps. Ids handed out by
// get_next_uid / get_next_gid are reserved for a few minutes in the shared `counters` table, so
// successive calls — from any server process — never return the same value before it is used.

import { CompiledQuery } from "kysely";
import type { Db, Tx } from "../store/db.js";
import { idStart } from "./account-settings.js";
import { privilegeRows } from "./privileges.js";

const RESERVATION_MS = 5 * 60_000;
type Kind = "uid" | "gid";
const prefix = (kind: Kind) => `reserve.${kind}.`;

async function reserved(db: Tx, kind: Kind, now: number): Promise<Set<number>> {
  const rows = await db
    .selectFrom("counters")
    .select(["key"])
    .where("key", "like", `${prefix(kind)}%`)
    .where("window_start", ">", now - RESERVATION_MS)
    .execute();
  return new Set(rows.map((r) => Number(r.key.slice(prefix(kind).length))));
}

const TABLE = { uid: { table: "users", column: "uid" }, gid: { table: "groups", column: "gid" } } as const;

/** Is `id` taken in the table itself (one index probe)? */
async function takenInTable(db: Tx, kind: Kind, id: number): Promise<boolean> {
  const { table, column } = TABLE[kind];
  const r = await db.executeQuery(CompiledQuery.raw(`SELECT 1 FROM "${table}" WHERE "${column}" = ${Number(id)} LIMIT 1`));
  return r.rows.length > 0;
}

/**
 * The smallest id above `from` that the table does not use, found by walking the id index from
 * `from` to the first gap — it stops there, so a dense block of 100,000 ids costs one index walk
 * up to the gap, not a full read. Only called when `from` itself is taken.
 */
async function nextGapAfter(db: Tx, kind: Kind, from: number): Promise<number> {
  const { table, column } = TABLE[kind];
  const r = await db.executeQuery<{ x: number }>(
    CompiledQuery.raw(
      `SELECT "t"."${column}" + 1 AS "x" FROM "${table}" AS "t" WHERE "t"."${column}" >= ${Number(from)} ` +
        `AND NOT EXISTS (SELECT 1 FROM "${table}" AS "u" WHERE "u"."${column}" = "t"."${column}" + 1) ORDER BY "t"."${column}" LIMIT 1`,
    ),
  );
  return r.rows.length ? Number(r.rows[0].x) : from + 1;
}

/** Ids that are not free although the table does not use them: reservations, privilege GIDs. */
async function heldIds(db: Tx, kind: Kind, now: number, honourReservations: boolean): Promise<Set<number>> {
  const held = honourReservations ? await reserved(db, kind, now) : new Set<number>();
  // A privilege may name a GID whose group does not exist (yet): never hand that one out.
  if (kind === "gid") for (const p of await privilegeRows(db)) for (const g of p.gids) held.add(g);
  return held;
}

async function lowestFreeFrom(db: Tx, kind: Kind, start: number, held: Set<number>): Promise<number> {
  let id = start;
  for (;;) {
    if (held.has(id)) id++;
    else if (await takenInTable(db, kind, id)) id = await nextGapAfter(db, kind, id);
    else return id;
  }
}

/** Lowest free id (not reserving it): used inside the create transaction for automatic ids. */
export async function lowestFreeId(db: Tx, kind: Kind, opts: { honourReservations?: boolean } = {}): Promise<number> {
  const held = await heldIds(db, kind, Date.now(), opts.honourReservations !== false);
  return lowestFreeFrom(db, kind, await idStart(db), held);
}

/** get_next_uid / get_next_gid: the lowest free id, reserved for this caller. */
export async function reserveNextId(db: Db, kind: Kind): Promise<number> {
  const now = Date.now();
  await db.deleteFrom("counters").where("key", "like", `${prefix(kind)}%`).where("window_start", "<=", now - RESERVATION_MS).execute();
  const start = await idStart(db);
  const held = await heldIds(db, kind, now, true);
  // The primary key decides between concurrent callers: whoever inserts the row owns the id.
  for (;;) {
    const id = await lowestFreeFrom(db, kind, start, held);
    const won = await db
      .insertInto("counters")
      .values({ key: `${prefix(kind)}${id}`, count: 1, window_start: now, locked_until: null })
      .onConflict((oc) => oc.column("key").doNothing())
      .returning("key")
      .executeTakeFirst();
    if (won) return id;
    held.add(id);
  }
}

/** An id that is now in use needs no reservation any more. */
export async function releaseReservation(db: Tx, kind: Kind, id: number): Promise<void> {
  await db.deleteFrom("counters").where("key", "=", `${prefix(kind)}${id}`).execute();
}
