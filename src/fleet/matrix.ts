// fleet.access.matrix (issue 11 point 6): every (user, system) pair that has access, for access
// reviews, as CSV or JSON streamed to a writable (a file the download endpoint serves, or
// /dev/null in the bench). Systems, groups and teams' grants come from the fleet index
// (./access-index.ts, one version of the store); the users, their teams and own grants are read
// once per export; each user's pairs are then decided in memory by the same precedence rule as
// ./effective-access.ts (test/fleet-access-property.test.ts checks the two agree).

import type { Writable } from "node:stream";
import { once } from "node:events";
import { createWriteStream, rmSync } from "node:fs";
import type { Db, Store, Tx } from "../store/db.js";
import { downloadsOf } from "../server/downloads.js";
import { ACCESS_LEVELS, levelOf, sameEntry, type AccessEntry } from "./effective-access.js";
import { fleetIndex, idsOf, userParts, type FleetIndex, type FleetStore, type UserPart } from "./access-index.js";
import { sql } from "kysely";
import { param, prepare } from "../auth/prepared.js";

export type MatrixFormat = "CSV" | "JSON";

export interface MatrixOptions {
  format: MatrixFormat;
  /** Only these users (default: every user). */
  users?: readonly number[];
  /** Called after each batch of users with (done, total). */
  progress?: (done: number, total: number) => void;
  /** Called between batches; throws to stop (a job's abort). */
  checkAborted?: () => void;
}

/**
 * A candidate pair of a user: a system an entry reaches, the entry's place in the precedence order
 * (`order`: level rank * 2, + 1 for READ, so lower decides; then the lowest id) and the pair's text
 * after the user's part (system, access, level, grant id).
 */
interface Candidate {
  system: number;
  order: number;
  id: number;
  /** UTF-8, encoded once (copying bytes beats joining and encoding strings per pair). */
  tail: Buffer;
}

const RANK = { USER_SYSTEM: 0, USER_SYSTEM_GROUP: 1, TEAM_SYSTEM: 2, TEAM_SYSTEM_GROUP: 3 } as const;

/** The candidates of one entry (one per system it reaches). */
function candidatesOf(ix: FleetIndex, text: PairText, e: AccessEntry, out: Candidate[]): void {
  const rank = RANK[levelOf(e)];
  const order = rank * 2 + (e.access === "READ_WRITE" ? 0 : 1);
  const grant = text.grant[rank * 2 + (e.access === "READ_WRITE" ? 1 : 0)]! + e.id + text.end;
  for (const s of ix.systemsOf(e)) out.push({ system: s, order, id: e.id, tail: Buffer.from(text.system.get(s)! + grant) });
}

const byPrecedence = (a: Candidate, b: Candidate) => a.system - b.system || a.order - b.order || a.id - b.id;

/**
 * Each team's candidates, once per index version and format; a team's list is taken over from the
 * version read before when the team's grants, the systems they reach and those systems' names read
 * the same there (a change elsewhere, or to another team, rebuilds nothing of it).
 */
function teamCandidates(ix: FleetIndex, text: PairText, json: boolean): Map<number, Candidate[]> {
  const key = json ? "matrix.team.json" : "matrix.team.csv";
  let out = ix.derived.get(key) as Map<number, Candidate[]> | undefined;
  if (out) return out;
  const prev = ix.previous;
  const before = prev?.derived.get(key) as Map<number, Candidate[]> | undefined;
  out = new Map();
  for (const [team, grants] of ix.teamGrants) {
    const kept = before?.get(team);
    if (kept && sameReach(prev!, ix, prev!.teamGrants.get(team), grants)) {
      out.set(team, kept);
      continue;
    }
    const list: Candidate[] = [];
    for (const e of grants) candidatesOf(ix, text, e, list);
    out.set(team, list);
  }
  ix.derived.set(key, out);
  return out;
}

/** Are `was` (in `prev`) and `now` (in `ix`) the same grants reaching the same systems, named the same? */
function sameReach(prev: FleetIndex, ix: FleetIndex, was: readonly AccessEntry[] | undefined, now: readonly AccessEntry[]): boolean {
  if (!was || !sameList(was, now, sameEntry)) return false;
  for (const e of now) {
    const reached = ix.systemsOf(e);
    if (!sameList(prev.systemsOf(e), reached)) return false;
    for (const s of reached) if (prev.systems.get(s) !== ix.systems.get(s)) return false;
  }
  return true;
}

/** Do the two maps hold the same keys with values `same` says are equal? */
function sameMap<K, V>(a: ReadonlyMap<K, V>, b: ReadonlyMap<K, V>, same: (x: V, y: V) => boolean = Object.is): boolean {
  if (a.size !== b.size) return false;
  for (const [k, v] of a) {
    const w = b.get(k);
    if (w === undefined || !same(v, w)) return false;
  }
  return true;
}

/** Do the two lists hold, in order, values `same` says are equal? */
function sameList<T>(a: readonly T[], b: readonly T[], same: (x: T, y: T) => boolean = Object.is): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!same(a[i]!, b[i]!)) return false;
  return true;
}

/**
 * One user's decided pairs, ascending by system: of all its own and its teams' candidates, the
 * first in precedence order for each system (the first level present, the most permissive in it,
 * the lowest id — the rule of ./effective-access.ts).
 */
function userPairs(ix: FleetIndex, text: PairText, teams: Map<number, Candidate[]>, part: UserPart | undefined): Candidate[] {
  if (!part) return [];
  const all: Candidate[] = [];
  for (const e of part.grants) candidatesOf(ix, text, e, all);
  for (const t of part.teams) {
    const list = teams.get(t);
    if (list) for (const c of list) all.push(c);
  }
  all.sort(byPrecedence);
  const out: Candidate[] = [];
  for (const c of all) if (!out.length || out[out.length - 1]!.system !== c.system) out.push(c);
  return out;
}

async function adminUsers(db: Tx): Promise<Set<number>> {
  const gids = new Set<number>();
  for (const p of await db.selectFrom("privileges").select(["roles", "local_groups"]).execute()) {
    if ((JSON.parse(p.roles) as string[]).includes("FULL_ADMIN")) for (const g of JSON.parse(p.local_groups) as number[]) gids.add(g);
  }
  if (!gids.size) return new Set();
  const list = [...gids];
  const primary = await db.selectFrom("users").innerJoin("groups", "groups.id", "users.group_id").select("users.id").where("groups.gid", "in", list).execute();
  const aux = await db.selectFrom("memberships").innerJoin("groups", "groups.id", "memberships.group_id").select("memberships.user_id as id").where("groups.gid", "in", list).execute();
  return new Set([...primary, ...aux].map((r) => r.id));
}

/**
 * The text of each system's part of a pair (escaped name and id), once per index version and
 * format; taken over from the version read before when its systems read the same.
 */
function systemTexts(ix: FleetIndex, json: boolean): Map<number, string> {
  const key = json ? "matrix.systems.json" : "matrix.systems.csv";
  let out = ix.derived.get(key) as Map<number, string> | undefined;
  if (out) return out;
  const prev = ix.previous;
  const before = prev?.derived.get(key) as Map<number, string> | undefined;
  if (before && sameMap(prev!.systems, ix.systems)) {
    ix.derived.set(key, before);
    return before;
  }
  out = new Map();
  for (const [id, name] of ix.systems) out.set(id, json ? `"system":${JSON.stringify(name)},"system_id":${id},` : `${csvCell(name)},${id},`);
  ix.derived.set(key, out);
  return out;
}

type PairText = ReturnType<typeof pairText>;

/** The pieces of a pair's text (see writeAccessMatrix): CSV lines or JSON objects. */
function pairText(json: boolean, ix: FleetIndex) {
  const grant: string[] = [];
  for (const level of ACCESS_LEVELS) {
    for (const access of ["READ", "READ_WRITE"]) grant.push(json ? `"access":"${access}","level":"${level}","grant_id":` : `${access},${level},`);
  }
  return {
    system: systemTexts(ix, json),
    grant,
    end: json ? "}" : "\n",
    admin: json ? `"access":"READ_WRITE","level":"ADMIN","grant_id":null}` : "READ_WRITE,ADMIN,\n",
    user: (username: string, id: number, comma: boolean) => (json ? `${comma ? "," : ""}\n{"username":${JSON.stringify(username)},"user_id":${id},` : `${csvCell(username)},${id},`),
  };
}

const csvCell = (v: string) => (/[",\n\r]/.test(v) || /^[=+\-@\t]/.test(v) ? `"${(/^[=+\-@\t]/.test(v) ? `'${v}` : v).replace(/"/g, '""')}"` : v);

/** Bytes gathered into 256 KiB chunks, each written once full (the pieces are small). */
class ChunkWriter {
  private chunk = Buffer.allocUnsafe(CHUNK);
  private pos = 0;
  private readonly spill: Buffer[] = [];
  constructor(private readonly out: Writable) {}
  get full(): boolean {
    return this.pos >= CHUNK - 4096 || this.spill.length > 0;
  }
  put(b: Buffer): void {
    if (this.pos + b.length > CHUNK) {
      this.spill.push(this.chunk.subarray(0, this.pos));
      this.chunk = Buffer.allocUnsafe(Math.max(CHUNK, b.length));
      this.pos = 0;
    }
    this.chunk.set(b, this.pos);
    this.pos += b.length;
  }
  async flush(): Promise<void> {
    const parts = [...this.spill.splice(0), this.chunk.subarray(0, this.pos)];
    // The written chunk is the stream's now: fill a new one.
    this.chunk = Buffer.allocUnsafe(CHUNK);
    this.pos = 0;
    for (const p of parts) if (p.length && !this.out.write(p)) await once(this.out, "drain");
  }
}

const CHUNK = 262_144;

const usersByIds = prepare<[string]>()(1, (db) => sql<{ id: number; username: string }>`select "id", "username" from "users" where "id" in ${idsOf(db, param(0))}`.compile(db));

/** Users (id, username) ascending: `ids` only, or every user. */
async function usersOf(db: Db, ids: readonly number[] | null): Promise<{ id: number; username: string }[]> {
  const json = ids ? JSON.stringify(ids) : null;
  // SQLite with its connection free: read at once (rowsNow), else awaited.
  const rows = json !== null ? (usersByIds.rowsNow(db, json) ?? (await usersByIds.rows(db, json))) : await db.selectFrom("users").select(["id", "username"]).execute();
  return rows.map((r) => ({ id: Number(r.id), username: r.username })).sort((a, b) => a.id - b.id);
}

/**
 * Write the matrix to `out`; returns the number of pairs written. Does not end `out`. Systems,
 * groups and teams' grants come from the fleet index (./access-index.ts); the users, their own
 * grants and teams are read for this export.
 */
export async function writeAccessMatrix(store: FleetStore, out: Writable, opts: MatrixOptions): Promise<number> {
  const db = store.db;
  const ids = opts.users ?? null;
  const [ix, users, ownRows, admins] = await Promise.all([fleetIndex(store), usersOf(db, ids), userParts(db, ids), adminUsers(db)]);
  const json = opts.format === "JSON";
  const w = new ChunkWriter(out);
  w.put(Buffer.from(json ? "[" : "username,user_id,system,system_id,access,level,grant_id\n"));
  let pairs = 0;
  // The bytes of a pair are made of pieces encoded once: the user's part once per user, the rest
  // (system, access, level, grant) once per team grant and index version, or per system for an
  // administrator's lines (every system, READ_WRITE).
  const text = pairText(json, ix);
  const teams = teamCandidates(ix, text, json);
  let adminLines: Buffer[] | null = null;
  for (let i = 0; i < users.length; i++) {
    const u = users[i]!;
    const head = Buffer.from(text.user(u.username, u.id, pairs > 0));
    // Before each further pair of this user (JSON: with the separating comma).
    const next = json ? Buffer.from(text.user(u.username, u.id, true)) : head;
    if (admins.has(u.id)) {
      adminLines ??= [...ix.systems.keys()].map((s) => Buffer.from(text.system.get(s)! + text.admin));
      for (let k = 0; k < adminLines.length; k++) {
        w.put(k === 0 ? head : next);
        w.put(adminLines[k]!);
        if (w.full) await w.flush();
      }
      pairs += adminLines.length;
    } else {
      const decided = userPairs(ix, text, teams, ownRows.get(u.id));
      for (let k = 0; k < decided.length; k++) {
        w.put(k === 0 ? head : next);
        w.put(decided[k]!.tail);
      }
      pairs += decided.length;
    }
    if (w.full) await w.flush();
    if (i % 200 === 199 || i === users.length - 1) {
      opts.checkAborted?.();
      opts.progress?.(i + 1, users.length);
    }
  }
  if (json) w.put(Buffer.from("\n]\n"));
  await w.flush();
  return pairs;
}

// ---- the job -----------------------------------------------------------------------------------

export interface MatrixJobContext {
  app: { store: FleetStore & Store; config: { dataDir: string } };
  session: { id: string; ephemeral?: boolean } | null;
  job?: { id: number; setProgress(percent: number | null, description?: string | null, extra?: unknown): void; checkAborted(): void };
}

export interface MatrixResult {
  format: MatrixFormat;
  pairs: number;
  /** Path of the one-time download (GET, same host); valid until expires_at. */
  url: string;
  expires_at: Date;
}

/** Write the matrix to a private file and offer it for one download bound to this job and session. */
export async function accessMatrixJob(ctx: MatrixJobContext, format: MatrixFormat): Promise<MatrixResult> {
  const downloads = downloadsOf(ctx.app);
  const file = downloads.newFile(format.toLowerCase());
  const out = createWriteStream(file, { mode: 0o600 });
  try {
    const pairs = await writeAccessMatrix(ctx.app.store, out, {
      format,
      progress: (done, total) => ctx.job?.setProgress(Math.floor((done * 100) / Math.max(total, 1)), `${done} of ${total} users`),
      checkAborted: () => ctx.job?.checkAborted(),
    });
    out.end();
    await once(out, "close");
    const ttl = 10 * 60_000;
    const url = downloads.offer(
      {
        jobId: ctx.job?.id ?? 0,
        file,
        filename: `fleet-access-matrix.${format.toLowerCase()}`,
        contentType: format === "CSV" ? "text/csv; charset=utf-8" : "application/json",
        sessionId: ctx.session?.id ?? null,
        ephemeral: !!ctx.session?.ephemeral,
      },
      ttl,
    );
    return { format, pairs, url, expires_at: new Date(Date.now() + ttl) };
  } catch (err) {
    out.destroy();
    rmSync(file, { force: true });
    throw err;
  }
}
