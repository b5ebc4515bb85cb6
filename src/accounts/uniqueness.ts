// One account per uid, gid, home and SMB name, whatever the concurrency and the number of server
// processes (issue 9 point 9; docs/security/concurrency.md). The store enforces it (unique
// indexes of migration 005); this module serialises what an index cannot express (a home nested
// inside another user's home) and turns a violated index back into the validation error a caller
// would have had without the race, naming the field.

import { sql } from "kysely";
import { posix } from "node:path";
import { ValidationErrors } from "../server/errors.js";
import type { Dialect, Tx } from "../store/db.js";
import { idOwner, LOCK_NAMESPACE } from "./ids.js";
import { smbCaseTwin, smbNameClash, uidTaken, usernameTaken } from "./user-rules.js";

/** Homes that any number of accounts may share (SPEC: "no home"). */
export const SHARED_HOME = "/var/empty";

/** Which uniqueness rule a failed insert or update broke. */
export type UniqueKey = "uid" | "gid" | "home" | "smb_name" | "username" | "group_name" | "group_smb_name";

// PostgreSQL reports the index (err.constraint); SQLite names the columns ("users.uid") of a
// column index and the index itself ("index 'users_smb_name_unique'") of an expression index.
const KEY_OF: Record<string, UniqueKey> = {
  users_uid_unique: "uid",
  "users.uid": "uid",
  groups_gid_unique: "gid",
  "groups.gid": "gid",
  users_home_unique: "home",
  "users.home": "home",
  users_smb_name_unique: "smb_name",
  groups_smb_name_unique: "group_smb_name",
  users_username_key: "username",
  "users.username": "username",
  groups_name_key: "group_name",
  "groups.name": "group_name",
};

/** The rule a unique violation broke; null when `err` is not one (or an unknown index). */
export function violatedKey(err: unknown): UniqueKey | null {
  const e = err as { code?: string; constraint?: string; message?: string } | null;
  if (!e) return null;
  if (e.code === "23505") return KEY_OF[e.constraint ?? ""] ?? null;
  const m = /UNIQUE constraint failed: (?:index '([^']+)'|([\w.]+))/.exec(e.message ?? "");
  return m ? (KEY_OF[m[1] ?? m[2]!] ?? null) : null;
}

/** Trailing slashes, `//`, `.` and `..` removed lexically (as validateHome stores a home). */
export function normalizeHome(home: string): string {
  const n = posix.normalize(home);
  return n.length > 1 ? n.replace(/\/+$/, "") : n;
}

export interface HomeHolder {
  username: string;
  home: string;
  /** exact: the same directory; inside: `home` is within theirs; contains: theirs is within `home`. */
  relation: "exact" | "inside" | "contains";
}

/**
 * Inside the writing transaction: serialise with every other transaction that gives a user a home
 * (PostgreSQL advisory lock, held to the commit), then find a local user whose home is `home`,
 * contains it or lies inside it. Nesting cannot be a unique index, so the lock is what makes this
 * read the truth: the previous holder has committed before we get it.
 */
export async function claimHome(trx: Tx, dialect: Dialect, home: string, exceptUserId: number | null): Promise<HomeHolder | null> {
  const h = normalizeHome(home);
  if (h === SHARED_HOME) return null;
  if (dialect === "postgres") await sql`select pg_advisory_xact_lock(${LOCK_NAMESPACE.home}::int4, 0)`.execute(trx);
  const ancestors: string[] = [];
  for (let p = h; ; p = posix.dirname(p)) {
    ancestors.push(p);
    if (p === "/") break;
  }
  // Byte order ("C" collation on PostgreSQL): every path below h sorts between "h/" and "h0".
  // The literal predicates match those of the partial unique index on home, which serves this.
  const below = h === "/" ? "/" : `${h}/`;
  const beyond = h === "/" ? "0" : `${h}0`;
  const col = dialect === "postgres" ? sql`home collate "C"` : sql`home`;
  const r = await sql<{ username: string; home: string }>`
    select username, home from users
    where builtin = 0 and home <> ${sql.lit(SHARED_HOME)}
      and (${col} in (${sql.join(ancestors)}) or (${col} > ${below} and ${col} < ${beyond}))
      ${exceptUserId === null ? sql`` : sql`and id <> ${exceptUserId}`}
    order by length(home) limit 1`.execute(trx);
  const row = r.rows[0];
  if (!row) return null;
  const relation = row.home === h ? "exact" : ancestors.includes(row.home) ? "inside" : "contains";
  return { username: row.username, home: row.home, relation };
}

/** The validation error for a home another user holds (validateHome's message when exact). */
export function homeHolderError(attr: string, home: string, holder: HomeHolder): ValidationErrors {
  const h = normalizeHome(home);
  if (holder.relation === "exact") return new ValidationErrors([[attr, `${h}: homedir already used by ${holder.username}.`, "home.taken"]]);
  const how = holder.relation === "inside" ? `is inside ${holder.home}, the home directory of` : `contains ${holder.home}, the home directory of`;
  return new ValidationErrors([[attr, `${h}: ${how} ${holder.username}; a home directory may not be nested in another user's.`, "home.taken"]]);
}

/** What a failed user write tried to set. */
export interface UserKeys {
  username: string;
  uid?: number | null;
  home?: string | null;
}

/**
 * The validation error for a user write that broke `key` (the same field and message as the
 * check that runs before the write, which a concurrent write got past), or null when the
 * violation cannot be pinned on the caller's input.
 */
export async function userConflictError(db: Tx, schema: string, key: UniqueKey, u: UserKeys): Promise<ValidationErrors | null> {
  switch (key) {
    case "username":
      return new ValidationErrors([usernameTaken(`${schema}.username`, u.username)]);
    case "uid": {
      if (u.uid == null) return null;
      const owner = await idOwner(db, "uid", u.uid);
      return new ValidationErrors([uidTaken(`${schema}.uid`, u.uid, owner)]);
    }
    case "home": {
      if (!u.home) return null;
      const owner = await db.selectFrom("users").select("username").where("home", "=", normalizeHome(u.home)).where("username", "!=", u.username).executeTakeFirst();
      return homeHolderError(`${schema}.home`, u.home, { username: owner?.username ?? "another user", home: u.home, relation: "exact" });
    }
    case "smb_name": {
      const other = (await smbCaseTwin(db, "users", u.username, null)) ?? "of another case";
      return new ValidationErrors([smbNameClash(`${schema}.smb`, u.username, other)]);
    }
    default:
      return null;
  }
}

/** Same for a group write. */
export async function groupConflictError(db: Tx, schema: string, key: UniqueKey, g: { name: string; gid?: number | null }): Promise<ValidationErrors | null> {
  switch (key) {
    case "group_name":
      return new ValidationErrors([[`${schema}.name`, `A Group with the name "${g.name}" already exists.`, "group.name_taken"]]);
    case "gid": {
      if (g.gid == null) return null;
      const owner = await idOwner(db, "gid", g.gid);
      return new ValidationErrors([[`${schema}.gid`, `Gid ${g.gid} is already used${owner ? ` (group ${owner} has it)` : ""}`, "group.gid_taken"]]);
    }
    case "group_smb_name": {
      const other = (await smbCaseTwin(db, "groups", g.name, null)) ?? "another case";
      return new ValidationErrors([[`${schema}.name`, `${g.name}: group name conflicts with existing groupmap entry (${other}).`, "group.name_groupmap_conflict"]]);
    }
    default:
      return null;
  }
}

/**
 * Run `write` (one whole transaction) again, at most twice, when it broke a uniqueness rule that
 * `retriable` says is not the caller's doing — an automatic id or name another writer took
 * between our claim and our insert (only a writer that does not claim can: the claims make it
 * rare). Any other failure, and the third, goes to the caller.
 */
export async function withIdRetry<T>(retriable: (key: UniqueKey) => boolean, write: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await write();
    } catch (err) {
      const key = violatedKey(err);
      if (attempt >= 3 || key === null || !retriable(key)) throw err;
    }
  }
}
