// Reading what provisioning needs from the store, in one read-only transaction so the files are
// generated from a consistent state (a user never references a group the same snapshot lacks).
//
// The full read is the hot part at 100,000 users. On SQLite it pages through each table with one
// prepared statement (eachSqliteRow), on a read-only connection of its own, pausing between
// chunks so API calls go on meanwhile. On PostgreSQL the rows are aggregated into one JSON text
// by the database (json_agg) and parsed once, which is several times faster than materialising
// row objects through the driver — except for the users, where building JSON of 19 columns per
// row costs the server more than sending the plain rows.

import { sql, type Transaction } from "kysely";
import { sqliteHandleOf } from "../store/db.js";
import type { Db, Dialect, Tx } from "../store/db.js";
import type { Database } from "../store/schema.js";
import { getSetting } from "../store/settings.js";
import { Slicer } from "./slice.js";
import { NO_HOME } from "./keys.js";
import { DEFAULT_POLICY, type ProvGroup, type ProvPolicy, type ProvUser, type Snapshot } from "./types.js";

/** Every users column the host files are made of (bench/provision.bench.ts reads them plain, beside the packed read). */
export const USER_COLS = [
  "id",
  "uid",
  "username",
  "unixhash",
  "smbhash",
  "home",
  "shell",
  "full_name",
  "builtin",
  "smb",
  "group_id",
  "password_disabled",
  "ssh_password_enabled",
  "sshpubkey",
  "locked",
  "sudo_commands",
  "sudo_commands_nopasswd",
  "last_password_change",
  "created_at",
] as const;
/** Every groups column the host files are made of. */
export const GROUP_COLS = ["id", "gid", "name", "builtin", "sudo_commands", "sudo_commands_nopasswd", "admins"] as const;

type Cell = string | number | null;

/**
 * The one empty list every account without sudo rules shares (two per user: at 1,000,000 users a
 * fresh `[]` each cost 64 MB). Frozen, so a caller that tried to change it would fail loudly.
 */
const NO_COMMANDS: string[] = Object.freeze([]) as unknown as string[];

function list(v: unknown): string[] {
  if (v == null || v === "[]" || v === "") return NO_COMMANDS;
  try {
    const parsed = typeof v === "string" ? JSON.parse(v) : v;
    return Array.isArray(parsed) ? parsed.filter((x): x is string => typeof x === "string") : [];
  } catch {
    return [];
  }
}

/** A JSON list of ids (groups.admins); anything else is no ids. */
function idList(v: unknown): number[] {
  try {
    const parsed = typeof v === "string" ? JSON.parse(v) : v;
    return Array.isArray(parsed) ? parsed.filter((x): x is number => Number.isSafeInteger(x)) : [];
  } catch {
    return [];
  }
}

const num = (v: unknown): number => (typeof v === "number" ? v : Number(v));
const numOrNull = (v: unknown): number | null => (v == null ? null : Number(v));
const str = (v: unknown): string => (v == null ? "" : String(v));
const strOrNull = (v: unknown): string | null => (v == null ? null : String(v));
const bool = (v: unknown): boolean => v === 1 || v === true || v === "1" || v === "true";

/** Shells repeat across every user: one string each instead of one per user (bounded). */
const shells = new Map<string, string>();
function shellOf(v: unknown): string {
  const s = str(v);
  const hit = shells.get(s);
  if (hit !== undefined) return hit;
  if (shells.size < 64) shells.set(s, s);
  return s;
}

/** Accounts without a home (most SMB users) share the one "/var/empty" instead of a copy each. */
function homeOf(v: unknown): string {
  const s = str(v);
  return s === NO_HOME ? NO_HOME : s;
}

function userFromCells(c: Cell[]): ProvUser {
  return {
    id: num(c[0]),
    uid: num(c[1]),
    username: str(c[2]),
    unixhash: strOrNull(c[3]),
    smbhash: strOrNull(c[4]),
    home: homeOf(c[5]),
    shell: shellOf(c[6]),
    full_name: str(c[7]),
    builtin: bool(c[8]),
    smb: bool(c[9]),
    group_id: num(c[10]),
    password_disabled: bool(c[11]),
    ssh_password_enabled: bool(c[12]),
    sshpubkey: strOrNull(c[13]),
    locked: bool(c[14]),
    sudo_commands: list(c[15]),
    sudo_commands_nopasswd: list(c[16]),
    last_password_change: numOrNull(c[17]),
    created_at: num(c[18] ?? 0),
  };
}

function groupFromCells(c: Cell[]): ProvGroup {
  const g: ProvGroup = { id: num(c[0]), gid: num(c[1]), name: str(c[2]), builtin: bool(c[3]), sudo_commands: list(c[4]), sudo_commands_nopasswd: list(c[5]) };
  if (c[6] != null && c[6] !== "[]") g.admins = idList(c[6]);
  return g;
}

/** A boolean column as bool() reads it (1 or 'true'; an integer column holds no text '1'), in SQL. */
const sqlBool = (col: string) => `("${col}" in (1, 'true'))`;

/**
 * SQLite's full read of the users, packed for the driver, which costs some 50-100 ns per cell and
 * more per string at 100,000 rows: the five flags in one integer (bit i = USER_FLAGS[i]), and the
 * four columns most accounts have at their defaults (no home, no key, no sudo rules) as one cell:
 * null for those defaults, else a JSON array of the four values (SQLITE_USER_RARE; 20 ms less
 * than four cells at 100,000 users). userFromSqliteCells reads it back into what userFromCells
 * makes of the plain columns.
 */
const USER_FLAGS = ["builtin", "smb", "password_disabled", "ssh_password_enabled", "locked"] as const;
const USER_RARE = ["home", "sshpubkey", "sudo_commands", "sudo_commands_nopasswd"] as const;
/** A blob cannot go into JSON (json_array fails): such a row says so and is read in full. */
const SQLITE_USER_RARE = `case when "home" = '${NO_HOME}' and "sshpubkey" is null and "sudo_commands" = '[]' and "sudo_commands_nopasswd" = '[]' then null when ${USER_RARE.map((c) => `typeof("${c}") = 'blob'`).join(" or ")} then 'blob' else json_array(${USER_RARE.map((c) => `"${c}"`).join(", ")}) end`;
const SQLITE_USER_SELECT = [
  "id",
  "uid",
  "username",
  "unixhash",
  "smbhash",
  SQLITE_USER_RARE,
  "shell",
  "full_name",
  "group_id",
  // (SQLite's << and | bind alike, left to right: each shift in parentheses)
  USER_FLAGS.map((f, i) => `(${sqlBool(f)} << ${i})`).join(" | "),
  "last_password_change",
  "created_at",
].join(", ");

/** A user row of SQLITE_USER_SELECT; null when its rare columns hold a blob (then read in full). */
function userFromSqliteCells(c: Cell[]): ProvUser | null {
  const flags = c[9] as number;
  let rare: Cell[] | null = null;
  if (c[5] !== null) {
    if (c[5] === "blob") return null;
    rare = JSON.parse(c[5] as string) as Cell[];
  }
  return {
    id: num(c[0]),
    uid: num(c[1]),
    username: str(c[2]),
    unixhash: strOrNull(c[3]),
    smbhash: strOrNull(c[4]),
    home: rare ? homeOf(rare[0]) : NO_HOME,
    shell: shellOf(c[6]),
    full_name: str(c[7]),
    builtin: (flags & 1) !== 0,
    smb: (flags & 2) !== 0,
    group_id: num(c[8]),
    password_disabled: (flags & 4) !== 0,
    ssh_password_enabled: (flags & 8) !== 0,
    sshpubkey: rare ? strOrNull(rare[1]) : null,
    locked: (flags & 16) !== 0,
    sudo_commands: rare ? list(rare[2]) : NO_COMMANDS,
    sudo_commands_nopasswd: rare ? list(rare[3]) : NO_COMMANDS,
    last_password_change: numOrNull(c[10]),
    created_at: num(c[11] ?? 0),
  };
}

/**
 * SQLite's full read of the groups, one text per group: `id,gid,name` (the name last, so it may
 * hold anything). Most groups are plain (no built-in, no sudo rules, no administrators, an integer
 * gid): their text is all there is to know. Any other starts with `*` and is read again in full.
 */
const SQLITE_GROUP_TEXT = `case when ${sqlBool("builtin")} = 0 and "sudo_commands" = '[]' and "sudo_commands_nopasswd" = '[]' and "admins" = '[]' and typeof("gid") = 'integer' then '' else '*' end || "id" || ',' || "gid" || ',' || "name"`;

/**
 * SQLite: every group into `out` in id order, in chunks like eachSqliteRow, each row one text
 * (SQLITE_GROUP_TEXT; a text per row costs the driver no row array).
 */
async function eachSqliteGroup(raw: SqliteHandle, out: ProvGroup[], slicer: Slicer | null): Promise<void> {
  const stmt = raw.prepare(`select ${SQLITE_GROUP_TEXT} from "groups" where id > ? order by id limit ${ROWS_PER_CHUNK}`).pluck();
  const full = raw.prepare(`select ${GROUP_COLS.map((c) => `"${c}"`).join(", ")} from "groups" where id = ?`).raw();
  let last = Number.MIN_SAFE_INTEGER;
  for (;;) {
    const rows = stmt.all(last) as string[];
    for (let i = 0; i < rows.length; i++) {
      const text = rows[i];
      const special = text.charCodeAt(0) === 42; // *
      const id = leadingInt(text, special ? 1 : 0);
      last = id;
      if (special) {
        const c = full.get(id) as Cell[] | undefined;
        if (c) out.push(groupFromCells(c));
        continue;
      }
      const gidAt = text.indexOf(",") + 1;
      const nameAt = text.indexOf(",", gidAt) + 1;
      out.push({ id, gid: leadingInt(text, gidAt), name: text.slice(nameAt), builtin: false, sudo_commands: NO_COMMANDS, sudo_commands_nopasswd: NO_COMMANDS });
    }
    if (rows.length < ROWS_PER_CHUNK) return;
    if (slicer) await slicer.maybePause();
  }
}

/** The integer written in decimal at `from` in `text` (up to the next non-digit). */
function leadingInt(text: string, from: number): number {
  let i = from;
  const neg = text.charCodeAt(i) === 45;
  if (neg) i++;
  let v = 0;
  for (; i < text.length; i++) {
    const d = text.charCodeAt(i) - 48;
    if (d < 0 || d > 9) break;
    v = v * 10 + d;
  }
  return neg ? -v : v;
}

const byId = (a: { id: number }, b: { id: number }) => a.id - b.id;

/**
 * SQLite: every row of `table` handed to `each`, in id order, read in chunks of ROWS_PER_CHUNK by
 * one prepared statement reused for every chunk (`where id > last order by id limit n`, a seek on
 * the primary key), inside the read transaction the caller opened on `raw`. `select` starts with
 * the id, which is also the key to page on. A chunk comes back from one call into the driver:
 * about a third less CPU than stepping a cursor row by row, and only one chunk of cells is held at
 * a time besides what `each` keeps. With a `slicer` the read pauses between chunks whenever its
 * turn is used up (the event loop stays free); without one it runs in one piece (an in-memory
 * store, read on the store's own connection).
 */
async function eachSqliteRow(raw: SqliteHandle, table: "users" | "groups", select: string, each: (cells: Cell[]) => void, slicer: Slicer | null): Promise<void> {
  const stmt = raw.prepare(`select ${select} from "${table}" where id > ? order by id limit ${ROWS_PER_CHUNK}`).raw();
  let last = Number.MIN_SAFE_INTEGER;
  for (;;) {
    const rows = stmt.all(last) as Cell[][];
    for (let i = 0; i < rows.length; i++) each(rows[i]);
    if (rows.length < ROWS_PER_CHUNK) return;
    last = rows[rows.length - 1][0] as number;
    if (slicer) await slicer.maybePause();
  }
}
/**
 * SQLite: the aux memberships into `members` (group id → user ids), read in chunks of
 * MEMBERS_PER_CHUNK along the primary key (group_id, user_id), each chunk's members of one group
 * coming back as one comma-separated text: a handful of cells per chunk instead of two per
 * membership (every SMB user is in builtin_users).
 */
async function eachSqliteMembers(raw: SqliteHandle, members: Map<number, number[]>, slicer: Slicer | null): Promise<void> {
  const stmt = raw
    .prepare(
      `select group_id, group_concat(user_id), max(user_id), count(*) from (select group_id, user_id from memberships where (group_id, user_id) > (?, ?) order by group_id, user_id limit ${MEMBERS_PER_CHUNK}) group by group_id order by group_id`,
    )
    .raw();
  let lastGroup = Number.MIN_SAFE_INTEGER;
  let lastUser = Number.MIN_SAFE_INTEGER;
  for (;;) {
    const rows = stmt.all(lastGroup, lastUser) as [number, string, number, number][];
    let n = 0;
    for (const [gid, ids, maxUser, count] of rows) {
      let arr = members.get(gid);
      if (!arr) members.set(gid, (arr = []));
      pushIds(ids, arr);
      lastGroup = gid;
      lastUser = maxUser;
      n += count;
    }
    if (n < MEMBERS_PER_CHUNK) return;
    if (slicer) await slicer.maybePause();
  }
}

/** Memberships aggregated by one call into the driver (about a millisecond of work). */
const MEMBERS_PER_CHUNK = 16384;

/** The ids of a comma-separated list of integers (group_concat of an integer column) onto `out`. */
function pushIds(text: string, out: number[]): void {
  let v = 0;
  let neg = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 44) {
      out.push(neg ? -v : v);
      v = 0;
      neg = false;
    } else if (c === 45) neg = true;
    else v = v * 10 + (c - 48);
  }
  out.push(neg ? -v : v);
}
type SqliteHandle = NonNullable<ReturnType<typeof sqliteHandleOf>>;

/** Rows fetched by one call into the driver (one to a few milliseconds of work). */
const ROWS_PER_CHUNK = 1024;

/**
 * SQLite: a read-only connection of its own to the store's file for one full read. The read then
 * holds neither the store's connection (Kysely runs one statement at a time on it: every API call
 * would wait for the whole read) nor the event loop: it pauses between chunks every few milliseconds, and WAL
 * keeps its snapshot consistent while the server goes on writing. At 1,000,000 users the read
 * takes seconds; in one piece it stalled every call for that long (and a server starting on such
 * a store missed Fastify's plugin start-up timeout). null for an in-memory store (tests), which
 * another connection cannot see.
 */
function openReader(raw: SqliteHandle): SqliteHandle | null {
  if (raw.memory || !raw.name) return null;
  const Ctor = raw.constructor as new (file: string, opts: { readonly: boolean; fileMustExist: boolean }) => SqliteHandle;
  return new Ctor(raw.name, { readonly: true, fileMustExist: true });
}

/** Every row of `table`, as arrays of cells in `cols` order. */
async function allRows(db: Tx, dialect: Dialect, table: "users" | "groups" | "memberships", cols: readonly string[]): Promise<Cell[][]> {
  const colList = sql.raw(cols.map((c) => `"${c}"`).join(", "));
  const tbl = sql.table(table);
  if (dialect === "postgres" && table === "users") {
    const r = await sql<Record<string, Cell>>`select ${colList} from ${tbl}`.execute(db);
    const out: Cell[][] = new Array(r.rows.length);
    for (let i = 0; i < r.rows.length; i++) {
      const row = r.rows[i];
      const cells: Cell[] = new Array(cols.length);
      for (let k = 0; k < cols.length; k++) cells[k] = row[cols[k]];
      out[i] = cells;
    }
    return out;
  }
  const q =
    dialect === "postgres"
      ? sql<{ j: string }>`select coalesce(json_agg(json_build_array(${colList})), '[]')::text as j from ${tbl}`
      : sql<{ j: string }>`select json_group_array(json_array(${colList})) as j from ${tbl}`;
  const r = await q.execute(db);
  const text = r.rows[0]?.j;
  return text ? (JSON.parse(text) as Cell[][]) : [];
}

/** Sort by id unless already sorted (rows usually arrive in primary key order). */
function sortById<T extends { id: number }>(xs: T[]): T[] {
  for (let i = 1; i < xs.length; i++) if (xs[i - 1].id > xs[i].id) return xs.sort(byId);
  return xs;
}

export async function readPolicy(db: Tx): Promise<ProvPolicy> {
  return policyOf(await getSetting<Partial<ProvPolicy>>(db, "system.security", {}));
}

function policyOf(s: Partial<ProvPolicy>): ProvPolicy {
  const age = (v: unknown) => (typeof v === "number" && Number.isFinite(v) && v > 0 ? Math.floor(v) : null);
  return {
    min_password_age: age(s.min_password_age),
    max_password_age: age(s.max_password_age),
    enable_gpos_stig: s.enable_gpos_stig === true,
  };
}

/** Run `fn` in one read transaction (repeatable read on PostgreSQL). */
export function readTransaction<T>(db: Db, dialect: Dialect, fn: (trx: Transaction<Database>) => Promise<T>): Promise<T> {
  const tb = db.transaction();
  return (dialect === "postgres" ? tb.setIsolationLevel("repeatable read") : tb).execute(fn);
}

/** Everything, in one transaction. */
export async function readSnapshot(db: Db, dialect: Dialect): Promise<Snapshot> {
  const raw = dialect === "sqlite" ? sqliteHandleOf(db) : undefined;
  const reader = raw ? openReader(raw) : null;
  if (reader) {
    try {
      reader.exec("BEGIN");
      return await readSqliteSnapshot(reader, new Slicer());
    } finally {
      reader.close();
    }
  }
  if (raw) return readTransaction(db, dialect, () => readSqliteSnapshot(raw, null));
  return readTransaction(db, dialect, async (trx) => {
    const users: ProvUser[] = [];
    const groups: ProvGroup[] = [];
    const { members, member } = membershipCollector();
    // one table at a time: each table's cells become garbage before the next is read
    for (const c of await allRows(trx, dialect, "users", USER_COLS)) users.push(userFromCells(c));
    for (const c of await allRows(trx, dialect, "groups", GROUP_COLS)) groups.push(groupFromCells(c));
    for (const c of await allRows(trx, dialect, "memberships", ["group_id", "user_id"])) member(c);
    const policy = await readPolicy(trx).catch(() => DEFAULT_POLICY);
    return { users: sortById(users), groups: sortById(groups), members: sortedMembers(members), policy };
  });
}

/**
 * SQLite: one streaming pass per table over `raw`, inside the read transaction the caller opened
 * on it: no per-row object is kept but the account's own.
 */
async function readSqliteSnapshot(raw: SqliteHandle, slicer: Slicer | null): Promise<Snapshot> {
  const users: ProvUser[] = [];
  const groups: ProvGroup[] = [];
  const members = new Map<number, number[]>();
  // A row with a blob in its rare columns is read again whole; the statement is made only if one is met.
  let fullUser: ReturnType<SqliteHandle["prepare"]> | null = null;
  const eachUser = (c: Cell[]) => {
    const u = userFromSqliteCells(c) ?? userFromCells((fullUser ??= raw.prepare(`select ${USER_COLS.map((col) => `"${col}"`).join(", ")} from "users" where id = ?`).raw()).get(c[0]) as Cell[]);
    users.push(u);
  };
  await eachSqliteRow(raw, "users", SQLITE_USER_SELECT, eachUser, slicer);
  await eachSqliteGroup(raw, groups, slicer);
  await eachSqliteMembers(raw, members, slicer);
  let policy = DEFAULT_POLICY;
  try {
    const row = raw.prepare(`select "value" from "settings" where "key" = ?`).get("system.security") as { value: unknown } | undefined;
    policy = policyOf(row ? JSON.parse(String(row.value)) : {});
  } catch {
    // unreadable setting: defaults
  }
  return { users: sortById(users), groups: sortById(groups), members: sortedMembers(members), policy };
}

/** Aux members by gid, collected from (group_id, user_id) cells that arrive grouped. */
function membershipCollector(): { members: Map<number, number[]>; member: (c: Cell[]) => void } {
  const members = new Map<number, number[]>();
  let lastGid = Number.NaN;
  let arr: number[] = [];
  const member = (c: Cell[]): void => {
    const gid = num(c[0]);
    if (gid !== lastGid) {
      lastGid = gid;
      let a = members.get(gid);
      if (!a) members.set(gid, (a = []));
      arr = a;
    }
    arr.push(num(c[1]));
  };
  return { members, member };
}

function sortedMembers(members: Map<number, number[]>): Map<number, number[]> {
  for (const ids of members.values()) {
    for (let i = 1; i < ids.length; i++) {
      if (ids[i - 1] > ids[i]) {
        ids.sort((a, b) => a - b);
        break;
      }
    }
  }
  return members;
}

// ---------------------------------------------------------------------------------------------
// partial reads for incremental updates

const chunks = <T>(xs: T[], n = 500): T[][] => {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += n) out.push(xs.slice(i, i + n));
  return out;
};

export async function readUsers(db: Tx, where: { ids?: number[]; groupIds?: number[] }): Promise<ProvUser[]> {
  const out: ProvUser[] = [];
  const run = async (col: "id" | "group_id", vals: number[]) => {
    for (const part of chunks(vals)) {
      const rows = await db
        .selectFrom("users")
        .select([...USER_COLS])
        .where(col, "in", part)
        .execute();
      for (const r of rows) out.push(userFromCells(USER_COLS.map((c) => (r as Record<string, Cell>)[c])));
    }
  };
  if (where.ids?.length) await run("id", where.ids);
  if (where.groupIds?.length) await run("group_id", where.groupIds);
  return out;
}

export async function readGroups(db: Tx, ids: number[]): Promise<ProvGroup[]> {
  const out: ProvGroup[] = [];
  for (const part of chunks(ids)) {
    const rows = await db
      .selectFrom("groups")
      .select([...GROUP_COLS])
      .where("id", "in", part)
      .execute();
    for (const r of rows) out.push(groupFromCells(GROUP_COLS.map((c) => (r as Record<string, Cell>)[c])));
  }
  return out;
}

export async function readMemberships(db: Tx, where: { userIds?: number[]; groupIds?: number[] }): Promise<{ group_id: number; user_id: number }[]> {
  const out: { group_id: number; user_id: number }[] = [];
  const run = async (col: "user_id" | "group_id", vals: number[]) => {
    for (const part of chunks(vals)) {
      const rows = await db.selectFrom("memberships").select(["group_id", "user_id"]).where(col, "in", part).execute();
      for (const r of rows) out.push({ group_id: num(r.group_id), user_id: num(r.user_id) });
    }
  };
  if (where.userIds?.length) await run("user_id", where.userIds);
  if (where.groupIds?.length) await run("group_id", where.groupIds);
  return out;
}

/** Aux member counts of `groupIds` (groups without members are absent). */
export async function memberCounts(db: Tx, groupIds: number[]): Promise<Map<number, number>> {
  const out = new Map<number, number>();
  for (const part of chunks(groupIds)) {
    const rows = await db
      .selectFrom("memberships")
      .select(["group_id", (eb) => eb.fn.countAll<number>().as("n")])
      .where("group_id", "in", part)
      .groupBy("group_id")
      .execute();
    for (const r of rows) out.set(num(r.group_id), num(r.n));
  }
  return out;
}
