// fleet.access.matrix (issue 11 point 6): every (user, system) pair that has access, for access
// reviews, as CSV or JSON streamed to a writable (a file the download endpoint serves, or
// /dev/null in the bench). One pass over the store: the grants, group and team memberships are
// read once; each user's pairs are then decided in memory by the same precedence rule as
// ./effective-access.ts (test/fleet-access-property.test.ts checks the two agree).

import type { Writable } from "node:stream";
import { once } from "node:events";
import { createWriteStream, rmSync } from "node:fs";
import type { Store, Tx } from "../store/db.js";
import { downloadsOf } from "../server/downloads.js";
import type { FleetAccessLevel } from "./effective-access.js";
import { ACCESS_LEVELS } from "./effective-access.js";

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

/** The best grant per system of one kind of owner: system → packed (rank*2 + rw, entry id). */
type Best = Map<number, { rank: number; access: FleetAccessLevel; id: number }>;

interface World {
  systems: Map<number, string>;
  groupSystems: Map<number, number[]>;
  /** Team id → its level-3 and level-4 best grants, merged (rank 2 or 3). */
  teamBest: Map<number, Best>;
  userTeams: Map<number, number[]>;
  /** User id → its own grants (rank 0 or 1). */
  userBest: Map<number, Best>;
  admins: Set<number>;
}

function offer(best: Best, system: number, rank: number, access: FleetAccessLevel, id: number): void {
  const cur = best.get(system);
  if (!cur || rank < cur.rank || (rank === cur.rank && ((access === "READ_WRITE" && cur.access === "READ") || (access === cur.access && id < cur.id)))) best.set(system, { rank, access, id });
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

/** Rows of `table` whose `column` is one of `ids` (all rows when ids is null), in chunks. */
async function byIds<T>(ids: readonly number[] | null, read: (chunk: number[] | null) => Promise<T[]>): Promise<T[]> {
  if (!ids) return read(null);
  const out: T[] = [];
  for (let i = 0; i < ids.length; i += 500) out.push(...(await read(ids.slice(i, i + 500))));
  return out;
}

/** Everything the decisions need, read once; user-specific rows only for `users` (null: all). */
async function loadWorld(db: Tx, users: readonly number[] | null): Promise<World> {
  const w: World = { systems: new Map(), groupSystems: new Map(), teamBest: new Map(), userTeams: new Map(), userBest: new Map(), admins: await adminUsers(db) };
  for (const s of await db.selectFrom("fleet_systems").select(["id", "name"]).orderBy("id").execute()) w.systems.set(s.id, s.name);
  for (const m of await db.selectFrom("fleet_system_group_members").select(["system_group_id", "system_id"]).execute()) {
    const list = w.groupSystems.get(m.system_group_id);
    if (list) list.push(m.system_id);
    else w.groupSystems.set(m.system_group_id, [m.system_id]);
  }
  const memberships = await byIds(users, (chunk) => {
    const q = db.selectFrom("team_members").select(["team_id", "user_id"]);
    return (chunk ? q.where("user_id", "in", chunk) : q).execute();
  });
  for (const t of memberships) {
    const list = w.userTeams.get(t.user_id);
    if (list) list.push(t.team_id);
    else w.userTeams.set(t.user_id, [t.team_id]);
  }
  const cols = ["id", "owner_kind", "owner_id", "target_kind", "target_id", "access"] as const;
  const teamGrants = await db.selectFrom("fleet_access").select(cols).where("owner_kind", "=", "TEAM").execute();
  const userGrants = await byIds(users, (chunk) => {
    const q = db.selectFrom("fleet_access").select(cols).where("owner_kind", "=", "USER");
    return (chunk ? q.where("owner_id", "in", chunk) : q).execute();
  });
  for (const a of [...teamGrants, ...userGrants]) {
    const byOwner = a.owner_kind === "USER" ? w.userBest : w.teamBest;
    let best = byOwner.get(a.owner_id);
    if (!best) byOwner.set(a.owner_id, (best = new Map()));
    const rank = (a.owner_kind === "USER" ? 0 : 2) + (a.target_kind === "SYSTEM" ? 0 : 1);
    const access: FleetAccessLevel = a.access === "READ_WRITE" ? "READ_WRITE" : "READ";
    const systems = a.target_kind === "SYSTEM" ? (w.systems.has(a.target_id) ? [a.target_id] : []) : (w.groupSystems.get(a.target_id) ?? []);
    for (const s of systems) offer(best, s, rank, access, a.id);
  }
  return w;
}

/** One user's decided pairs: system → best entry (first level present, most permissive in it). */
function userPairs(w: World, userId: number): Best {
  const own = w.userBest.get(userId);
  const teams = w.userTeams.get(userId) ?? [];
  if (!teams.length) return own ?? new Map();
  const out: Best = new Map(own ?? []);
  for (const t of teams) {
    const best = w.teamBest.get(t);
    if (best) for (const [s, e] of best) offer(out, s, e.rank, e.access, e.id);
  }
  return out;
}

/** The pieces of a pair's text (see writeAccessMatrix): CSV lines or JSON objects. */
function pairText(json: boolean, systems: Map<number, string>) {
  const system = new Map<number, string>();
  for (const [id, name] of systems) system.set(id, json ? `"system":${JSON.stringify(name)},"system_id":${id},` : `${csvCell(name)},${id},`);
  const grant: string[] = [];
  for (const level of ACCESS_LEVELS) {
    for (const access of ["READ", "READ_WRITE"]) grant.push(json ? `"access":"${access}","level":"${level}","grant_id":` : `${access},${level},`);
  }
  return {
    system,
    grant,
    end: json ? "}" : "\n",
    admin: json ? `"access":"READ_WRITE","level":"ADMIN","grant_id":null}` : "READ_WRITE,ADMIN,\n",
    user: (username: string, id: number, comma: boolean) => (json ? `${comma ? "," : ""}\n{"username":${JSON.stringify(username)},"user_id":${id},` : `${csvCell(username)},${id},`),
  };
}

const csvCell = (v: string) => (/[",\n\r]/.test(v) || /^[=+\-@\t]/.test(v) ? `"${(/^[=+\-@\t]/.test(v) ? `'${v}` : v).replace(/"/g, '""')}"` : v);

/** Write the matrix to `out`; returns the number of pairs written. Does not end `out`. */
export async function writeAccessMatrix(db: Tx, out: Writable, opts: MatrixOptions): Promise<number> {
  const w = await loadWorld(db, opts.users ?? null);
  const users = await byIds(opts.users ?? null, (chunk) => {
    const q = db.selectFrom("users").select(["id", "username"]).orderBy("id");
    return (chunk ? q.where("id", "in", chunk.length ? chunk : [-1]) : q).execute();
  });
  users.sort((a, b) => a.id - b.id);
  const json = opts.format === "JSON";
  let buf = json ? "[" : "username,user_id,system,system_id,access,level,grant_id\n";
  let pairs = 0;
  const flush = async () => {
    if (!out.write(buf)) await once(out, "drain");
    buf = "";
  };
  // The text of a pair is made of pieces built once: the user's part once per user, the
  // system's part (its escaped name and id) once per system, the access and level once per kind;
  // an administrator's lines (every system, READ_WRITE) are the same pieces joined by its part.
  const text = pairText(json, w.systems);
  const adminLines = [...w.systems.keys()].map((s) => text.system.get(s)! + text.admin);
  for (let i = 0; i < users.length; i++) {
    const u = users[i]!;
    const head = text.user(u.username, u.id, pairs > 0);
    // Before each further pair of this user (JSON: with the separating comma).
    const next = json ? text.user(u.username, u.id, true) : head;
    if (w.admins.has(u.id)) {
      if (adminLines.length) buf += head + adminLines.join(next);
      pairs += adminLines.length;
    } else {
      const decided = [...userPairs(w, u.id)].sort((a, b) => a[0] - b[0]);
      for (let k = 0; k < decided.length; k++) {
        const [s, e] = decided[k]!;
        buf += (k === 0 ? head : next) + text.system.get(s)! + text.grant[e.rank * 2 + (e.access === "READ_WRITE" ? 1 : 0)]! + e.id + text.end;
      }
      pairs += decided.length;
    }
    if (buf.length > 262_144) await flush();
    if (i % 200 === 199 || i === users.length - 1) {
      opts.checkAborted?.();
      opts.progress?.(i + 1, users.length);
    }
  }
  buf += json ? "\n]\n" : "";
  await flush();
  return pairs;
}

// ---- the job -----------------------------------------------------------------------------------

export interface MatrixJobContext {
  app: { store: Store; config: { dataDir: string } };
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
    const pairs = await writeAccessMatrix(ctx.app.store.db, out, {
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
