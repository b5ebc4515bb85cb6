// Bulk import of users and groups (issue 13 point 6): `gatehouse import FILE` and user.import.
//
// Validation reads the store once (names, ids, homes of every account) and then checks each
// record in memory with the rules user.create applies (names, full name, e-mail, shell, home in a
// storage root and not shared, SSH keys, sudo commands, SMB rules), so 100,000 rows cost no round
// trip each. Every problem is reported with the record's line and field. Nothing is written when
// any record is invalid (unless `skipInvalid`), and a dry run writes nothing at all. The write is
// one transaction of batched INSERTs; provisioning runs once after it (one change event: everything).
// Homes are recorded, not created: an import describes accounts whose homes exist (or will).

import { readFileSync } from "node:fs";
import { builtinUserBase } from "./system-accounts.js";
import path from "node:path";
import { CompiledQuery, sql } from "kysely";
import type { Db, Dialect, Tx } from "../store/db.js";
import { ValidationErrors, type FieldError } from "../server/errors.js";
import { hashPassword, ntHash } from "../auth/password-hash.js";
import { validateEmail, validateFullName, validateGroupName, validateUsername } from "./names.js";
import { checkDisablingPassword, checkPasswordText, checkSmbRules, checkSshKeyHome, checkSudo, DS_ID_BASE } from "./user-rules.js";
import { EDITABLE_BUILTIN_GIDS } from "./group-entry.js";
import { ADMIN_UID } from "./user-entry.js";
import { readShellChoices } from "./shells.js";
import { NO_HOME } from "./home.js";
import { normalizeDir, storageRootOf } from "./storage-root.js";
import { GROUP_COLUMNS, HASH_COLUMNS, IMPORT_ONLY_COLUMNS, USER_COLUMNS, type GroupRecord, type RawRecord, type UserRecord } from "./transfer-format.js";
import type { Config } from "../config.js";
import type { Store } from "../store/db.js";
import type { Session } from "../auth/session.js";
import { CallError } from "../server/errors.js";
import { uploadsOf } from "../server/job-files.js";
import { readAccountsFile } from "./transfer-format.js";
import { EVERYTHING, type ChangeEvent } from "../store/change-event.js";
import { recordChange } from "../store/changes.js";
import { SEARCH_INDEXED_COLUMNS, trigramTable } from "../store/migrations/015-search-indexes.js";

export interface ImportContext {
  db: Db;
  dialect: Dialect;
  config: Pick<Config, "storageRoots" | "hostRoot" | "hashRounds">;
  /**
   * Adopting a host's accounts: homes outside the storage roots and memberships of built-in
   * groups (the host's `sudo`, `adm`, …) are kept as the host had them.
   */
  adopting?: boolean;
}

export interface RowError {
  kind: "users" | "groups";
  /** 1-based line of the file (0 when unknown). */
  line: number;
  /** The record's name (username / group name) when it has one. */
  name: string | null;
  field: string;
  message: string;
  code: string;
}

export interface ImportOptions {
  dryRun?: boolean;
  /** Import the valid records and report the others (default: all or nothing). */
  skipInvalid?: boolean;
  /** Rounds for clear-text `password` values (rare; exports carry hashes). */
  hashRounds?: number;
  progress?: (phase: "validate" | "hash" | "write", done: number, total: number) => void;
}

export interface ImportResult {
  dryRun: boolean;
  /** Records that would be (dry run) or were created. */
  groups: number;
  users: number;
  memberships: number;
  errors: RowError[];
  /** True when nothing was written because of errors (all or nothing). */
  refused: boolean;
}

interface Known {
  usernames: Set<string>;
  uids: Set<number>;
  smbNames: Set<string>;
  homes: string[];
  groupNames: Set<string>;
  /** gid → builtin of every group in the store. */
  gids: Map<number, boolean>;
}

async function loadKnown(db: Db): Promise<Known> {
  const users = await db.selectFrom("users").select(["username", "uid", "home", "builtin", "smb"]).execute();
  const groups = await db.selectFrom("groups").select(["name", "gid", "builtin"]).execute();
  return {
    usernames: new Set(users.map((u) => u.username)),
    uids: new Set(users.map((u) => u.uid)),
    smbNames: new Set(users.filter((u) => u.smb).map((u) => u.username.toLowerCase())),
    homes: users.filter((u) => !u.builtin && u.home !== NO_HOME).map((u) => normalizeDir(u.home)),
    groupNames: new Set(groups.map((g) => g.name)),
    gids: new Map(groups.map((g) => [g.gid, !!g.builtin])),
  };
}

// ---------------------------------------------------------------------------------------------
// field checks (each adds to `v` under the field's name)

const isInt = (x: unknown): x is number => typeof x === "number" && Number.isSafeInteger(x);
const isStrList = (x: unknown): x is string[] => Array.isArray(x) && x.every((s) => typeof s === "string");

function str(v: ValidationErrors, r: Record<string, unknown>, f: string, nullable = false): string | null {
  const x = r[f];
  if (x === null || x === undefined) {
    if (!nullable) v.add(f, "A value is required.", "import.field_invalid");
    return null;
  }
  if (typeof x !== "string") {
    v.add(f, "Must be text.", "import.field_invalid");
    return null;
  }
  return x;
}

function bool(v: ValidationErrors, r: Record<string, unknown>, f: string, dflt: boolean): boolean {
  const x = r[f];
  if (x === null || x === undefined) return dflt;
  if (typeof x !== "boolean") v.add(f, "Must be true or false.", "import.field_invalid");
  return x === true;
}

function list(v: ValidationErrors, r: Record<string, unknown>, f: string): string[] {
  const x = r[f] ?? [];
  if (!isStrList(x)) {
    v.add(f, "Must be a list of text values.", "import.field_invalid");
    return [];
  }
  return x;
}

function idmap(v: ValidationErrors, r: Record<string, unknown>): "DIRECT" | number | null {
  const x = r.userns_idmap ?? null;
  if (x === null || x === "DIRECT" || (isInt(x) && x >= 0 && x <= 4294967294)) return x as "DIRECT" | number | null;
  v.add("userns_idmap", "Must be DIRECT, a container id or empty.", "import.field_invalid");
  return null;
}

function unknownFields(v: ValidationErrors, r: Record<string, unknown>, allowed: ReadonlySet<string>): void {
  for (const k of Object.keys(r)) if (!allowed.has(k)) v.add(k, "Unknown field.", "import.field_invalid");
}

const GROUP_FIELDS = new Set<string>(GROUP_COLUMNS);
const USER_FIELDS = new Set<string>([...USER_COLUMNS, ...HASH_COLUMNS, ...IMPORT_ONLY_COLUMNS]);

/** A crypt(3) hash we can write to shadow (or "*" / a locked "!…" one). */
const CRYPT = /^(\*|!?\$(y|gy|7|6|5|2[abxy]|1)\$[./0-9A-Za-z$,=]+)$/;
const NT_HASH = /^([0-9A-F]{32}|\*)$/;

function validateGroup(ctx: ImportContext, r: Record<string, unknown>, known: Known, v: ValidationErrors): GroupRecord | null {
  unknownFields(v, r, GROUP_FIELDS);
  const name = str(v, r, "name");
  if (name !== null && validateGroupName(v, "name", name) && known.groupNames.has(name)) v.add("name", `A group named ${name} already exists.`, "import.duplicate");
  const gid = r.gid;
  if (!isInt(gid) || gid < 1 || gid >= DS_ID_BASE) v.add("gid", `Must be a whole number from 1 to ${DS_ID_BASE - 1}.`, "import.field_invalid");
  else if (known.gids.has(gid)) v.add("gid", `Gid ${gid} is already used.`, "import.duplicate");
  const g: GroupRecord = {
    name: name ?? "",
    gid: isInt(gid) ? gid : 0,
    smb: bool(v, r, "smb", false),
    sudo_commands: list(v, r, "sudo_commands"),
    sudo_commands_nopasswd: list(v, r, "sudo_commands_nopasswd"),
    userns_idmap: idmap(v, r),
    admins: list(v, r, "admins"),
  };
  if (g.sudo_commands.length || g.sudo_commands_nopasswd.length) checkSudo(ctx, v, "", g);
  return v.size ? null : g;
}

/** An adopted host keeps its users' shells as its /etc/shells spells them (`/bin/bash`). */
function hostShells(hostRoot: string): string[] {
  let text = "";
  try {
    text = readFileSync(path.join(hostRoot, "etc/shells"), "utf8");
  } catch {
    // none: the choices alone
  }
  const listed = text
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l.startsWith("/"));
  return [...listed, "/sbin/nologin", "/bin/false", "/usr/bin/false"];
}

/**
 * Home: /var/empty, or a directory strictly inside a storage root — as user.create wants — except
 * for the local administrator (`/home/admin`) and for accounts adopted from a host (`/home/…`),
 * which keep the host's homes (their SSH keys still need a storage root, checkSshKeyHome).
 */
function checkHome(ctx: ImportContext, v: ValidationErrors, home: string, hostHomes: boolean): void {
  if (home === NO_HOME) return;
  if (!home.startsWith("/") || home.includes("\0") || home.includes(":") || home.includes("\n")) return void v.add("home", "Must be an absolute path.", "import.field_invalid");
  if (hostHomes) return;
  const root = storageRootOf(home, ctx.config.storageRoots);
  if (root === null || normalizeDir(root) === normalizeDir(home)) v.add("home", `The home must be a directory inside a storage root (${ctx.config.storageRoots.join(", ")}).`, "import.field_invalid");
}

function validateUser(ctx: ImportContext, r: Record<string, unknown>, known: Known, shells: Record<string, string>, v: ValidationErrors): UserRecord | null {
  unknownFields(v, r, USER_FIELDS);
  const username = str(v, r, "username");
  if (username !== null && validateUsername(v, "username", username) && known.usernames.has(username)) v.add("username", `The username "${username}" already exists.`, "import.duplicate");
  const uid = r.uid;
  if (!isInt(uid) || uid < 1 || uid >= DS_ID_BASE) v.add("uid", `Must be a whole number from 1 to ${DS_ID_BASE - 1}.`, "import.field_invalid");
  else if (known.uids.has(uid)) v.add("uid", `Uid ${uid} is already used.`, "import.duplicate");
  const fullName = str(v, r, "full_name");
  if (fullName !== null) validateFullName(v, "full_name", fullName);
  const email = str(v, r, "email", true) || null;
  if (email !== null) validateEmail(v, "email", email);
  const group = r.group;
  if (!isInt(group)) v.add("group", "Must be the gid of the primary group.", "import.field_invalid");
  else if (!known.gids.has(group)) v.add("group", `No group has gid ${group}.`, "import.group_not_found");
  const groupsRaw = r.groups ?? [];
  const groups = Array.isArray(groupsRaw) && groupsRaw.every(isInt) ? (groupsRaw as number[]) : null;
  if (groups === null) v.add("groups", "Must be a list of gids.", "import.field_invalid");
  for (const g of groups ?? []) {
    if (!known.gids.has(g)) v.add("groups", `No group has gid ${g}.`, "import.group_not_found");
    else if (known.gids.get(g) && !EDITABLE_BUILTIN_GIDS.has(g) && !ctx.adopting) v.add("groups", `Membership of the built-in group ${g} may not be given.`, "import.field_invalid");
  }
  const home = normalizeDir(str(v, r, "home", true) ?? NO_HOME);
  checkHome(ctx, v, home, ctx.adopting === true || uid === ADMIN_UID);
  const shell = str(v, r, "shell");
  if (shell !== null && !Object.hasOwn(shells, shell)) v.add("shell", "Please select a valid shell.", "import.field_invalid");
  const u: UserRecord = {
    username: username ?? "",
    uid: isInt(uid) ? uid : 0,
    full_name: fullName ?? "",
    email,
    group: isInt(group) ? group : 0,
    groups: groups ?? [],
    home,
    shell: shell ?? "",
    smb: bool(v, r, "smb", false),
    password_disabled: bool(v, r, "password_disabled", false),
    ssh_password_enabled: bool(v, r, "ssh_password_enabled", false),
    locked: bool(v, r, "locked", false),
    sshpubkey: str(v, r, "sshpubkey", true)?.trim() || null,
    sudo_commands: list(v, r, "sudo_commands"),
    sudo_commands_nopasswd: list(v, r, "sudo_commands_nopasswd"),
    userns_idmap: idmap(v, r),
    unixhash: str(v, r, "unixhash", true),
    smbhash: str(v, r, "smbhash", true),
    last_password_change: null,
    password: str(v, r, "password", true),
  };
  const lpc = r.last_password_change ?? null;
  if (lpc !== null && (!isInt(lpc) || lpc < 0)) v.add("last_password_change", "Must be epoch milliseconds.", "import.field_invalid");
  else u.last_password_change = lpc as number | null;
  if (typeof u.unixhash === "string" && !CRYPT.test(u.unixhash)) v.add("unixhash", "Must be a crypt(3) hash ($y$, $6$, $5$, …) or *.", "import.field_invalid");
  if (typeof u.smbhash === "string" && !NT_HASH.test(u.smbhash)) v.add("smbhash", "Must be 32 uppercase hexadecimal digits or *.", "import.field_invalid");
  if (typeof u.password === "string") {
    checkPasswordText(v, "password", u.password);
    if (typeof u.unixhash === "string") v.add("password", "Give a password or a unixhash, not both.", "import.field_invalid");
  }
  if (u.sudo_commands.length || u.sudo_commands_nopasswd.length) checkSudo(ctx, v, "", u);
  checkSmbRules(v, "", { enabling: false, stig: false, passwordDisabled: u.smb && u.password_disabled });
  if (u.password_disabled) checkDisablingPassword(v, "", { locked: u.locked, sudoCommands: u.sudo_commands.length });
  if (u.sshpubkey !== null) checkSshKeyHome(v, "", { uid: u.uid, home: u.home, storageRoots: ctx.config.storageRoots, key: u.sshpubkey });
  if (u.smb && username !== null && known.smbNames.has(username.toLowerCase())) v.add("username", `${username}: conflicts with an SMB user whose name differs only in case.`, "import.duplicate");
  return v.size ? null : u;
}

/** Homes shared or nested between two accounts (the file's and the store's): field errors on the file's. */
function homeClashes(users: { u: UserRecord; raw: RawRecord }[], stored: string[]): Map<RawRecord, string> {
  const all: { home: string; raw: RawRecord | null }[] = [...stored.map((h) => ({ home: h, raw: null })), ...users.filter((x) => x.u.home !== NO_HOME).map((x) => ({ home: x.u.home, raw: x.raw }))];
  all.sort((a, b) => (a.home < b.home ? -1 : a.home > b.home ? 1 : 0));
  const out = new Map<RawRecord, string>();
  // Sorted, a home that equals or contains another comes right before some home it clashes with;
  // comparing each with the nearest earlier home that is a prefix finds every clash.
  const stack: { home: string; raw: RawRecord | null }[] = [];
  for (const cur of all) {
    while (stack.length && !(cur.home === stack[stack.length - 1].home || cur.home.startsWith(`${stack[stack.length - 1].home}/`))) stack.pop();
    const outer = stack[stack.length - 1];
    if (outer) {
      const msg = outer.home === cur.home ? `The home ${cur.home} belongs to another account.` : `The home ${cur.home} lies inside another account's home ${outer.home}.`;
      if (cur.raw) out.set(cur.raw, msg);
      else if (outer.raw) out.set(outer.raw, `Another account's home ${cur.home} lies inside this home.`);
    }
    stack.push(cur);
  }
  return out;
}

function rowErrors(raw: RawRecord, v: ValidationErrors): RowError[] {
  const name = typeof raw.values.username === "string" ? raw.values.username : typeof raw.values.name === "string" ? raw.values.name : null;
  return v.errors.map((e: FieldError) => ({ kind: raw.kind, line: raw.line, name, field: e[0].replace(/^\./, ""), message: e[1], code: v.codes[v.errors.indexOf(e)] }));
}

export interface ValidatedImport {
  groups: GroupRecord[];
  users: UserRecord[];
  errors: RowError[];
}

/** Check every record against the store and each other. Reads the store once; writes nothing. */
export async function validateImport(
  ctx: ImportContext,
  records: RawRecord[],
  progress?: ImportOptions["progress"],
  extraBuiltinGroups: { name: string; gid: number }[] = [],
  extraBuiltinUsers: { name: string; uid: number }[] = [],
): Promise<ValidatedImport> {
  const known = await loadKnown(ctx.db);
  // accounts written in the same transaction before these records (adopt's system accounts)
  for (const g of extraBuiltinGroups) {
    known.groupNames.add(g.name);
    known.gids.set(g.gid, true);
  }
  for (const u of extraBuiltinUsers) {
    known.usernames.add(u.name);
    known.uids.add(u.uid);
  }
  const shells = readShellChoices(ctx.config.hostRoot, true);
  if (ctx.adopting) for (const sh of hostShells(ctx.config.hostRoot)) shells[sh] = sh;
  const errors: RowError[] = [];
  const groups: GroupRecord[] = [];
  const groupLines = new Map<GroupRecord, RawRecord>();
  const total = records.length;
  let done = 0;
  // One collector serves every valid record in a row (a new one only after a record with errors):
  // 100,000 records, 100,000 fewer Error objects.
  let v = new ValidationErrors();
  const failed = (raw: RawRecord) => {
    errors.push(...rowErrors(raw, v));
    v = new ValidationErrors();
  };
  // Groups first: users name them.
  for (const raw of records) {
    if (raw.kind !== "groups") continue;
    const g = validateGroup(ctx, raw.values, known, v);
    if (g) {
      groups.push(g);
      groupLines.set(g, raw);
      known.groupNames.add(g.name);
      known.gids.set(g.gid, false);
    } else failed(raw);
    if (++done % 5000 === 0) progress?.("validate", done, total);
  }
  const users: { u: UserRecord; raw: RawRecord }[] = [];
  for (const raw of records) {
    if (raw.kind !== "users") continue;
    const u = validateUser(ctx, raw.values, known, shells, v);
    if (u) {
      users.push({ u, raw });
      known.usernames.add(u.username);
      known.uids.add(u.uid);
      if (u.smb) known.smbNames.add(u.username.toLowerCase());
    } else failed(raw);
    if (++done % 5000 === 0) progress?.("validate", done, total);
  }
  // Group administrators name accounts of the store or of the file: checked once every user is known.
  for (const g of groups) {
    const unknown = g.admins.filter((a) => !known.usernames.has(a));
    if (!unknown.length) continue;
    const raw = groupLines.get(g)!;
    errors.push({ kind: "groups", line: raw.line, name: g.name, field: "admins", message: `No account is named ${unknown.join(", ")}.`, code: "import.field_invalid" });
    // with skipInvalid the group (which users may name) is still written, without the unknown names
    g.admins = g.admins.filter((a) => known.usernames.has(a));
  }
  const clashes = homeClashes(users, known.homes);
  const kept = users.filter(({ u, raw }) => {
    const msg = clashes.get(raw);
    if (msg) errors.push({ kind: "users", line: raw.line, name: u.username, field: "home", message: msg, code: "import.duplicate" });
    return !msg;
  });
  progress?.("validate", total, total);
  errors.sort((a, b) => a.line - b.line);
  return { groups, users: kept.map((x) => x.u), errors };
}

// ---------------------------------------------------------------------------------------------
// write

const BATCH = 500;

function chunks<T>(list: T[], size = BATCH): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < list.length; i += size) out.push(list.slice(i, i + size));
  return out;
}

const json = (x: string[]) => JSON.stringify(x);

/**
 * One multi-row INSERT per batch, its text built once per batch size and dialect and its values
 * bound — the query builder's per-row work cost more than SQLite's own (a third of the time).
 * It still runs through the store's Kysely connection, so the change feed sees the write.
 */
async function insertRows<R extends object>(trx: Tx, dialect: Dialect, table: string, columns: readonly string[], rows: Record<string, unknown>[], returning: string | null): Promise<R[]> {
  if (!rows.length) return [];
  const cols = columns.map((c) => `"${c}"`).join(", ");
  let n = 0;
  const tuple = () => `(${columns.map(() => (dialect === "postgres" ? `$${++n}` : "?")).join(", ")})`;
  const text = `insert into "${table}" (${cols}) values ${rows.map(tuple).join(", ")}${returning ? ` returning ${returning}` : ""}`;
  const params: unknown[] = [];
  for (const r of rows) for (const c of columns) params.push(r[c]);
  const res = await trx.executeQuery<R>(CompiledQuery.raw(text, params));
  return res.rows;
}

const GROUP_ROW_COLUMNS = ["gid", "name", "builtin", "smb", "sudo_commands", "sudo_commands_nopasswd", "userns_idmap"] as const;

export async function insertGroups(trx: Tx, dialect: Dialect, groups: GroupRecord[]): Promise<void> {
  for (const batch of chunks(groups)) {
    const rows = batch.map((g) => ({
      gid: g.gid,
      name: g.name,
      builtin: 0,
      smb: g.smb ? 1 : 0,
      sudo_commands: json(g.sudo_commands),
      sudo_commands_nopasswd: json(g.sudo_commands_nopasswd),
      userns_idmap: g.userns_idmap === null ? null : String(g.userns_idmap),
    }));
    await insertRows(trx, dialect, "groups", GROUP_ROW_COLUMNS, rows, null);
  }
}

function userRow(u: UserRecord, groupId: number, now: number) {
  const hasPassword = u.unixhash !== null && u.unixhash !== undefined && u.unixhash !== "*";
  return {
    ...builtinUserBase(now),
    uid: u.uid,
    username: u.username,
    unixhash: u.unixhash ?? "*",
    smbhash: u.smbhash ?? "*",
    home: u.home,
    shell: u.shell,
    full_name: u.full_name,
    builtin: 0,
    smb: u.smb ? 1 : 0,
    userns_idmap: u.userns_idmap === null ? null : String(u.userns_idmap),
    group_id: groupId,
    password_disabled: u.password_disabled ? 1 : 0,
    ssh_password_enabled: u.ssh_password_enabled ? 1 : 0,
    sshpubkey: u.sshpubkey,
    locked: u.locked ? 1 : 0,
    sudo_commands: json(u.sudo_commands),
    sudo_commands_nopasswd: json(u.sudo_commands_nopasswd),
    email: u.email,
    last_password_change: u.last_password_change ?? (hasPassword ? now : null),
  };
}

const USER_ROW_COLUMNS = Object.keys(userRow({ groups: [], sudo_commands: [], sudo_commands_nopasswd: [], userns_idmap: null } as unknown as UserRecord, 0, 0));

export async function insertUsers(trx: Tx, dialect: Dialect, users: UserRecord[], progress?: ImportOptions["progress"]): Promise<number> {
  const groupRows = await trx.selectFrom("groups").select(["id", "gid"]).execute();
  const groupId = new Map(groupRows.map((g) => [g.gid, g.id]));
  const now = Date.now();
  let memberships = 0;
  let done = 0;
  for (const batch of chunks(users)) {
    const ids = await insertRows<{ id: number; uid: number }>(
      trx,
      dialect,
      "users",
      USER_ROW_COLUMNS,
      batch.map((u) => userRow(u, groupId.get(u.group)!, now)),
      `"id", "uid"`,
    );
    const idOf = new Map(ids.map((r) => [Number(r.uid), Number(r.id)]));
    const mem = batch.flatMap((u) => [...new Set(u.groups)].map((g) => ({ group_id: groupId.get(g)!, user_id: idOf.get(u.uid)! })));
    for (const m of chunks(mem, 2000)) await insertRows(trx, dialect, "memberships", ["group_id", "user_id"], m, null);
    memberships += mem.length;
    done += batch.length;
    progress?.("write", done, users.length);
  }
  return memberships;
}

/**
 * SQLite keeps the users' trigram indexes (migration 015) with one trigger per indexed column,
 * which costs two FTS5 inserts per imported row. A bulk write drops those insert triggers inside
 * its transaction, fills each index with one INSERT … SELECT of the rows it added, and recreates
 * the triggers from their own stored text — the index ends as the triggers would have left it.
 * DDL is transactional in SQLite: a write that fails rolls the triggers back with the rows, and
 * other connections (which cannot write meanwhile) never see the store without them.
 */
export async function withBulkSearchIndex<T>(trx: Tx, dialect: Dialect, write: () => Promise<T>): Promise<T> {
  if (dialect !== "sqlite") return write();
  const names = SEARCH_INDEXED_COLUMNS.map((c) => `${trigramTable(c)}_ai`);
  const triggers = (await sql<{ name: string; sql: string }>`select name, sql from sqlite_master where type = 'trigger' and tbl_name = 'users' and name in (${sql.join(names)})`.execute(trx)).rows;
  const maxId = (await sql<{ m: number | null }>`select max(id) as m from users`.execute(trx)).rows[0]?.m ?? 0;
  for (const t of triggers) await sql.raw(`drop trigger "${t.name}"`).execute(trx);
  const out = await write();
  for (const c of SEARCH_INDEXED_COLUMNS) {
    // only columns whose trigger was there (a later migration may index differently)
    if (!triggers.some((t) => t.name === `${trigramTable(c)}_ai`)) continue;
    await sql.raw(`insert into ${trigramTable(c)}(rowid, ${c}) select id, ${c} from users where id > ${Number(maxId)} order by id`).execute(trx);
  }
  for (const t of triggers) await sql.raw(t.sql).execute(trx);
  return out;
}

/**
 * Group administrators (groups.admins: users.id) of the groups named, set once every account of
 * the write exists. Only groups that name some: an ordinary import sets none.
 */
export async function setGroupAdmins(trx: Tx, admins: { group: string; names: string[] }[]): Promise<void> {
  const wanted = admins.filter((a) => a.names.length);
  const names = [...new Set(wanted.flatMap((a) => a.names))];
  const idOf = new Map<string, number>();
  for (const part of chunks(names)) {
    for (const u of await trx.selectFrom("users").select(["id", "username"]).where("username", "in", part).execute()) idOf.set(u.username, u.id);
  }
  for (const a of wanted) {
    const ids = a.names.flatMap((n) => idOf.get(n) ?? []);
    await trx
      .updateTable("groups")
      .set({ admins: JSON.stringify(ids) })
      .where("name", "=", a.group)
      .execute();
  }
}

/** Clear-text passwords become hashes (and NT hashes for SMB users) before the transaction. */
export async function hashClearPasswords(users: UserRecord[], rounds: number, progress?: ImportOptions["progress"]): Promise<void> {
  const todo = users.filter((u) => u.password);
  let done = 0;
  for (const u of todo) {
    u.unixhash = await hashPassword(u.password!, rounds);
    if (u.smb) u.smbhash = await ntHash(u.password!);
    u.password = null;
    progress?.("hash", ++done, todo.length);
  }
}

/**
 * Validate, then (unless a dry run, or any record is invalid without `skipInvalid`) write every
 * valid record in one transaction. The caller announces the change (one provisioning run) and
 * audits it.
 */
export async function importAccounts(ctx: ImportContext, records: RawRecord[], opts: ImportOptions = {}): Promise<ImportResult> {
  const checked = await validateImport(ctx, records, opts.progress);
  const memberships = checked.users.reduce((n, u) => n + new Set(u.groups).size, 0);
  const result: ImportResult = { dryRun: !!opts.dryRun, groups: checked.groups.length, users: checked.users.length, memberships, errors: checked.errors, refused: false };
  if (checked.errors.length && !opts.skipInvalid) return { ...result, groups: 0, users: 0, memberships: 0, refused: true };
  if (opts.dryRun || (!checked.groups.length && !checked.users.length)) return result;
  await hashClearPasswords(checked.users, opts.hashRounds ?? 656_000, opts.progress);
  await ctx.db.transaction().execute(async (trx) => {
    if (ctx.dialect === "postgres") await sql`set local synchronous_commit = on`.execute(trx);
    await insertGroups(trx, ctx.dialect, checked.groups);
    await withBulkSearchIndex(trx, ctx.dialect, () => insertUsers(trx, ctx.dialect, checked.users, opts.progress));
    await setGroupAdmins(
      trx,
      checked.groups.map((g) => ({ group: g.name, names: g.admins })),
    );
    // A bulk change: every process does one full pass rather than a list of every new row.
    await recordChange(trx, EVERYTHING);
  });
  return result;
}

// ---------------------------------------------------------------------------------------------
// user.import (the API job): the file arrives through the job-bound upload (src/server/job-files.ts)

export interface ImportJobContext {
  app: { store: Store; config: Pick<Config, "storageRoots" | "hostRoot" | "hashRounds">; changed(ev: ChangeEvent): void };
  session: Session | null;
  job?: { id: number; setProgress(percent: number | null, description?: string | null, extra?: unknown): void };
}

/**
 * Offer the upload (its URL in the job's progress, `extra.upload_url`), wait for the file, then
 * import it as `gatehouse import` does; one change announcement (one provisioning run).
 */
export async function importAccountsJob(ctx: ImportJobContext, opts: { dry_run: boolean; skip_invalid: boolean }): Promise<ImportResult> {
  const offer = uploadsOf(ctx.app).offer({ jobId: ctx.job?.id ?? 0, sessionId: ctx.session?.id ?? null, ephemeral: !!ctx.session?.ephemeral });
  ctx.job?.setProgress(0, "Waiting for the file: PUT it to extra.upload_url", { upload_url: offer.url });
  let text: string;
  try {
    text = (await offer.body).toString("utf8");
  } catch (err) {
    throw new CallError(`user_import: ${(err as Error).message}`, "import.file_invalid");
  }
  let records: RawRecord[];
  try {
    records = readAccountsFile(text);
  } catch (err) {
    throw new CallError(`user_import: ${(err as Error).message}`, "import.file_invalid");
  }
  const { db, dialect } = ctx.app.store;
  const result = await importAccounts({ db, dialect, config: ctx.app.config }, records, {
    dryRun: opts.dry_run,
    skipInvalid: opts.skip_invalid,
    hashRounds: ctx.app.config.hashRounds ?? undefined,
    progress: (phase, done, total) => ctx.job?.setProgress(Math.floor((done * 100) / Math.max(total, 1)), `${phase}: ${done} of ${total}`),
  });
  if (!result.dryRun && !result.refused && (result.users || result.groups)) ctx.app.changed(EVERYTHING);
  return result;
}
