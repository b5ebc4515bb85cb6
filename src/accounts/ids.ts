// Automatic UID / GID allocation (reference §1.9, §2.2; SPEC: start at 1000, a setting).
// The lowest free id at or above the start is handed out, filling gaps. Ids handed out by
// get_next_uid / get_next_gid are reserved for a few minutes in the shared `counters` table, so
// successive calls — from any server process — never return the same value before it is used.
//
// Uniqueness (docs/security/concurrency.md): the store's unique indexes (migration 005) make a
// duplicate uid or gid impossible; claiming an id inside the writing transaction keeps concurrent
// creates from even trying one. On PostgreSQL a claim is a transaction-scoped advisory lock on
// the id: an automatic allocation *tries* it and moves on to the next free id when another
// transaction holds it (no waiting, so creates stay parallel); an explicit id waits for it, then
// sees the other's committed row. On SQLite one connection runs one transaction at a time and
// SQLite transactions are serialisable, so a read inside the transaction is already the truth.

import { sql } from "kysely";
import type { Db, Dialect, Tx } from "../store/db.js";
import { idStart } from "./account-settings.js";
import { privilegeRows } from "./privileges.js";

const RESERVATION_MS = 5 * 60_000;
export type Kind = "uid" | "gid";

/** Advisory-lock namespaces (first key of pg_advisory_xact_lock(int4, int4)). */
export const LOCK_NAMESPACE = { uid: 0x47480001, gid: 0x47480002, home: 0x47480003 } as const;
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

/** Is `id` taken in the table itself (one index probe)? Values are bound: one statement text. */
async function takenInTable(db: Tx, kind: Kind, id: number): Promise<boolean> {
  const { table, column } = TABLE[kind];
  const r = await sql`SELECT 1 FROM ${sql.table(table)} WHERE ${sql.ref(column)} = ${Number(id)} LIMIT 1`.execute(db);
  return r.rows.length > 0;
}

/**
 * The smallest id above `from` that the table does not use, found by walking the id index from
 * `from` to the first gap — it stops there, so a dense block of 100,000 ids costs one index walk
 * up to the gap, not a full read. Only called when `from` itself is taken.
 */
async function nextGapAfter(db: Tx, kind: Kind, from: number): Promise<number> {
  const { table, column } = TABLE[kind];
  const t = sql.ref(`t.${column}`);
  const u = sql.ref(`u.${column}`);
  const r = await sql<{
    x: number;
  }>`SELECT ${t} + 1 AS "x" FROM ${sql.table(table)} AS "t" WHERE ${t} >= ${Number(from)} AND NOT EXISTS (SELECT 1 FROM ${sql.table(table)} AS "u" WHERE ${u} = ${t} + 1) ORDER BY ${t} LIMIT 1`.execute(
    db,
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

/** Lowest free id (not reserving it, not claiming it). */
export async function lowestFreeId(db: Tx, kind: Kind, opts: { honourReservations?: boolean } = {}): Promise<number> {
  const held = await heldIds(db, kind, Date.now(), opts.honourReservations !== false);
  return lowestFreeFrom(db, kind, await idStart(db), held);
}

/** PostgreSQL: take `id`'s claim for this transaction, waiting for it or only if free now. */
async function lockId(db: Tx, kind: Kind, id: number, wait: boolean): Promise<boolean> {
  // Ids are below 2^31 (MAX_LOCAL_ID); `| 0` keeps any other value a valid int4 key.
  const key = id | 0;
  if (wait) {
    await sql`select pg_advisory_xact_lock(${LOCK_NAMESPACE[kind]}::int4, ${key}::int4)`.execute(db);
    return true;
  }
  const r = await sql<{ ok: boolean }>`select pg_try_advisory_xact_lock(${LOCK_NAMESPACE[kind]}::int4, ${key}::int4) as ok`.execute(db);
  return r.rows[0]?.ok === true;
}

/**
 * Claim an automatic id inside the writing transaction `trx`: the lowest free one (or `prefer`
 * when it is free, e.g. a user-private group's gid equal to the uid), which no concurrent
 * transaction — in this process or another sharing the store — can be handed too.
 */
export async function allocateId(trx: Tx, dialect: Dialect, kind: Kind, prefer?: number): Promise<number> {
  const held = await heldIds(trx, kind, Date.now(), true);
  if (prefer !== undefined && !held.has(prefer) && (await claim(trx, dialect, kind, prefer, false)) === "won") return prefer;
  let id = await lowestFreeFrom(trx, kind, await idStart(trx), held);
  for (;;) {
    const outcome = await claim(trx, dialect, kind, id, true);
    if (outcome === "won") return id;
    held.add(id);
    if (outcome === "busy") {
      // Another create is committing this id; the next ones are most likely free (or being
      // claimed too): try them without reading the table first — the claim reads it anyway.
      do id++;
      while (held.has(id));
    } else {
      id = await lowestFreeFrom(trx, kind, id + 1, held);
    }
  }
}

/**
 * Claim `id`: "won" (ours until the commit), "busy" (a concurrent transaction holds its claim)
 * or "taken" (a row uses it). `readFree`: the caller just read the table and found it free.
 */
async function claim(trx: Tx, dialect: Dialect, kind: Kind, id: number, readFree: boolean): Promise<"won" | "busy" | "taken"> {
  if (dialect !== "postgres") {
    // SQLite: this transaction is the only one running; a read made inside it is the truth.
    return readFree || !(await takenInTable(trx, kind, id)) ? "won" : "taken";
  }
  if (!(await lockId(trx, kind, id, false))) return "busy";
  // Read after the lock: a transaction that held it before us has committed its row by now
  // (PostgreSQL makes a transaction visible before it releases its locks).
  return (await takenInTable(trx, kind, id)) ? "taken" : "won";
}

/**
 * Claim an id the caller chose, inside the writing transaction: waits while a concurrent
 * transaction holds it, then answers who has it (`null`: it is now this transaction's).
 */
export async function claimExplicitId(trx: Tx, dialect: Dialect, kind: Kind, id: number): Promise<string | null> {
  if (dialect === "postgres") await lockId(trx, kind, id, true);
  return idOwner(trx, kind, id);
}

/** The name of the user (uid) or group (gid) that has `id`, if any. */
export async function idOwner(db: Tx, kind: Kind, id: number): Promise<string | null> {
  const row =
    kind === "uid"
      ? await db.selectFrom("users").select("username as owner").where("uid", "=", id).executeTakeFirst()
      : await db.selectFrom("groups").select("name as owner").where("gid", "=", id).executeTakeFirst();
  return row?.owner ?? null;
}

/** get_next_uid / get_next_gid: the lowest free id, reserved for this caller. */
export async function reserveNextId(db: Db, kind: Kind): Promise<number> {
  const now = Date.now();
  await db
    .deleteFrom("counters")
    .where("key", "like", `${prefix(kind)}%`)
    .where("window_start", "<=", now - RESERVATION_MS)
    .execute();
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
  await db
    .deleteFrom("counters")
    .where("key", "=", `${prefix(kind)}${id}`)
    .execute();
}
