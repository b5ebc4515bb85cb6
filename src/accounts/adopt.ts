// Taking a host's own accounts into the store:
// - the system accounts a package's maintainer script added while Gatehouse ran become built-ins
//   (drift: src/provision/drift.ts finds them, ./system-accounts.ts writes them);
// - `gatehouse adopt --host-root DIR` takes over a whole host's passwd, shadow, group and gshadow
//   into a store that holds only built-ins (adoptHost): regular accounts (ids from 1000) with their
//   hashes ($y$, $6$, $5$, …), ids and memberships; system accounts the store lacks as built-ins.
//   What the store cannot say as the host did is made safe rather than kept: `!` / `*` / empty
//   passwords become password-disabled, a `!`-locked hash a locked account, and an account whose
//   expiry date or password ageing has run out a locked one — an expired account does not come
//   back to life. NIS `+`/`-` lines, malformed lines and duplicate names or ids are reported, and
//   nothing is adopted while any is there. The four files are copied to a backup first.

import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { packageAccounts } from "../provision/drift.js";
import { insertSystemAccountsIn } from "./system-accounts.js";
import { hashClearPasswords, insertGroups, insertUsers, setGroupAdmins, validateImport, withBulkSearchIndex, type ImportContext, type ImportResult, type RowError } from "./import.js";
import type { RawRecord } from "./transfer-format.js";

// ---------------------------------------------------------------------------------------------
// gatehouse adopt

export interface AdoptOptions {
  dryRun?: boolean;
  /** The originals are copied into a new directory below this one. */
  backupDir: string;
}

export interface AdoptResult extends ImportResult {
  /** System accounts the store lacked, added as built-ins. */
  systemUsers: number;
  systemGroups: number;
  /** Where the original files were copied (null: dry run or refused). */
  backup: string | null;
}

interface Line {
  line: number;
  f: string[];
}

const FILES = ["passwd", "shadow", "group", "gshadow"] as const;
const FIELDS = { passwd: 7, shadow: 9, group: 4, gshadow: 4 } as const;
const DAY_MS = 86_400_000;

const isRegularId = (id: number) => id >= 1000 && id !== 65534;

function hostError(kind: "users" | "groups", line: number, name: string | null, field: string, message: string): RowError {
  return { kind, line, name, field, message, code: "adopt.host_files_invalid" };
}

/** The file's entries with their lines; NIS and malformed lines and duplicate keys as errors. */
function parseHostFile(file: (typeof FILES)[number], text: string, errors: RowError[]): Map<string, Line> {
  const kind = file === "passwd" || file === "shadow" ? "users" : "groups";
  const out = new Map<string, Line>();
  const ids = new Map<string, number>();
  text.split("\n").forEach((raw, i) => {
    const line = i + 1;
    if (!raw || raw.startsWith("#")) return;
    if (raw.startsWith("+") || raw.startsWith("-"))
      return void errors.push(hostError(kind, line, null, `etc/${file}`, "NIS compat entries (+/-) cannot be adopted: resolve them into local entries first."));
    const f = raw.split(":");
    if (f.length !== FIELDS[file]) return void errors.push(hostError(kind, line, f[0] ?? null, `etc/${file}`, `${f.length} fields where ${FIELDS[file]} belong.`));
    const prev = out.get(f[0]);
    if (prev) return void errors.push(hostError(kind, line, f[0], "name", `${f[0]} appears twice in etc/${file} (also on line ${prev.line}).`));
    if (file === "passwd" || file === "group") {
      const id = f[2];
      if (!/^\d+$/.test(id) || (file === "passwd" && !/^\d+$/.test(f[3]))) return void errors.push(hostError(kind, line, f[0], file === "passwd" ? "uid" : "gid", "Not a number."));
      const other = ids.get(id);
      if (other !== undefined) return void errors.push(hostError(kind, line, f[0], file === "passwd" ? "uid" : "gid", `Id ${id} is used twice in etc/${file} (also on line ${other}).`));
      ids.set(id, line);
    }
    out.set(f[0], { line, f });
  });
  return out;
}

/** Password, lock and ageing of one account as the store says them (see the file comment). */
function passwordState(sp: string[] | undefined, today: number): { unixhash: string | null; locked: boolean; password_disabled: boolean; last_password_change: number | null } {
  let hash = sp?.[1] ?? "*";
  let locked = false;
  if (hash.startsWith("!") && hash.length > 2 && hash[1] === "$") {
    locked = true;
    hash = hash.slice(1);
  }
  const noPassword = !hash.startsWith("$");
  const day = (i: number) => (sp?.[i] && /^\d+$/.test(sp[i]) ? Number(sp[i]) : null);
  const lastchg = day(2);
  const max = day(4);
  const inactive = day(6);
  const expire = day(7);
  if (expire !== null && expire <= today) locked = true;
  if (lastchg !== null && max !== null && max < 99999 && lastchg + max + (inactive ?? 0) < today) locked = true;
  return {
    unixhash: noPassword ? "*" : hash,
    // an expired account is locked (with or without a password); one with no password and not
    // locked has password logins disabled
    locked,
    password_disabled: noPassword && !locked,
    last_password_change: lastchg ? lastchg * DAY_MS : null,
  };
}

/** gshadow administrators of a group the store keeps from the host's system groups. */
interface SystemGroupAdmins {
  group: string;
  names: string[];
  line: number;
}

/**
 * The regular accounts of the host's files as import records (and the system ones to add). A
 * group's gshadow administrators go with its record; those of system groups are returned apart.
 */
function hostRecords(files: Record<(typeof FILES)[number], Map<string, Line>>): { records: RawRecord[]; members: Map<string, Set<number>>; systemAdmins: SystemGroupAdmins[] } {
  const records: RawRecord[] = [];
  const members = new Map<string, Set<number>>();
  const systemAdmins: SystemGroupAdmins[] = [];
  for (const [name, { line, f }] of files.group) {
    const gid = Number(f[2]);
    const gs = files.gshadow.get(name);
    for (const m of [...f[3].split(","), ...(gs?.f[3] ?? "").split(",")].filter(Boolean)) {
      let set = members.get(m);
      if (!set) members.set(m, (set = new Set()));
      set.add(gid);
    }
    const admins = (gs?.f[2] ?? "").split(",").filter(Boolean);
    if (isRegularId(gid)) records.push({ kind: "groups", line, values: { name, gid, smb: false, admins } });
    else if (admins.length && gs) systemAdmins.push({ group: name, names: admins, line: gs.line });
  }
  const today = Math.floor(Date.now() / DAY_MS);
  for (const [name, { line, f }] of files.passwd) {
    const uid = Number(f[2]);
    if (!isRegularId(uid)) continue;
    const pw = passwordState(files.shadow.get(name)?.f, today);
    records.push({
      kind: "users",
      line,
      values: {
        username: name,
        uid,
        full_name: f[4].split(",")[0] || name,
        email: null,
        group: Number(f[3]),
        groups: [...(members.get(name) ?? [])].filter((g) => g !== Number(f[3])).sort((a, b) => a - b),
        home: f[5] || "/var/empty",
        shell: f[6] || "/usr/sbin/nologin",
        smb: false,
        ssh_password_enabled: false,
        sshpubkey: null,
        sudo_commands: [],
        sudo_commands_nopasswd: [],
        userns_idmap: null,
        smbhash: "*",
        ...pw,
      },
    });
  }
  return { records, members, systemAdmins };
}

/** System groups' administrators must name accounts the store will hold, of groups it holds. */
function checkSystemAdmins(admins: SystemGroupAdmins[], groups: Set<string>, users: Set<string>, errors: RowError[]): SystemGroupAdmins[] {
  const kept = admins.filter((a) => groups.has(a.group));
  for (const a of kept) {
    const unknown = a.names.filter((n) => !users.has(n));
    if (unknown.length) errors.push(hostError("groups", a.line, a.group, "admins", `etc/gshadow names ${unknown.join(", ")} as administrators, which etc/passwd does not hold.`));
  }
  return kept;
}

function backUp(hostRoot: string, backupDir: string): string {
  const dir = path.join(backupDir, new Date().toISOString().replace(/[:.]/g, "-"));
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  for (const f of FILES) {
    const src = path.join(hostRoot, "etc", f);
    if (!existsSync(src)) continue;
    const dst = path.join(dir, f);
    copyFileSync(src, dst);
    chmodSync(dst, 0o600);
  }
  return dir;
}

/** `gatehouse adopt`: see the file comment. The caller audits and announces the change. */
export async function adoptHost(ctx: ImportContext, opts: AdoptOptions): Promise<AdoptResult> {
  const root = ctx.config.hostRoot;
  const errors: RowError[] = [];
  const text = (f: string) => {
    const p = path.join(root, "etc", f);
    return existsSync(p) ? readFileSync(p, "utf8") : "";
  };
  const files = Object.fromEntries(FILES.map((f) => [f, parseHostFile(f, text(f), errors)])) as Record<(typeof FILES)[number], Map<string, Line>>;
  if (!files.passwd.size || !files.group.size) errors.push(hostError("users", 0, null, "etc/passwd", `No accounts in ${path.join(root, "etc/passwd")} and etc/group.`));
  const empty: AdoptResult = { dryRun: !!opts.dryRun, groups: 0, users: 0, memberships: 0, errors, refused: true, systemUsers: 0, systemGroups: 0, backup: null };
  const own = await ctx.db.selectFrom("users").select("username").where("builtin", "=", 0).limit(1).execute();
  const ownGroups = await ctx.db.selectFrom("groups").select("name").where("builtin", "=", 0).limit(1).execute();
  if (own.length || ownGroups.length) {
    errors.push({
      kind: "users",
      line: 0,
      name: own[0]?.username ?? ownGroups[0]?.name ?? null,
      field: "store",
      message: "The store already holds accounts besides the built-ins: adopt a host into a new store.",
      code: "adopt.store_not_empty",
    });
  }
  if (errors.length) return empty;
  // System accounts the store lacks (the store was seeded from another list) become built-ins.
  const knownUsers = await ctx.db.selectFrom("users").select(["username as name", "uid as id"]).execute();
  const knownGroups = await ctx.db.selectFrom("groups").select(["name", "gid as id"]).execute();
  const sys = packageAccounts(text("passwd"), text("group"), { users: knownUsers, groups: knownGroups });
  const { records, systemAdmins } = hostRecords(files);
  const checked = await validateImport(
    { ...ctx, adopting: true },
    records,
    undefined,
    sys.groups,
    sys.users.map((u) => ({ name: u.name, uid: u.uid })),
  );
  const storeGroups = new Set([...knownGroups.map((g) => g.name), ...sys.groups.map((g) => g.name)]);
  const allUsers = new Set([...knownUsers.map((u) => u.name), ...sys.users.map((u) => u.name), ...checked.users.map((u) => u.username)]);
  const sysAdmins = checkSystemAdmins(systemAdmins, storeGroups, allUsers, checked.errors);
  const memberships = checked.users.reduce((n, u) => n + u.groups.length, 0);
  const result: AdoptResult = {
    ...empty,
    errors: checked.errors,
    refused: checked.errors.length > 0,
    groups: checked.groups.length,
    users: checked.users.length,
    memberships,
    systemUsers: sys.users.length,
    systemGroups: sys.groups.length,
  };
  if (result.refused) return { ...result, groups: 0, users: 0, memberships: 0, systemUsers: 0, systemGroups: 0 };
  if (opts.dryRun) return result;
  result.backup = backUp(root, opts.backupDir);
  await hashClearPasswords(checked.users, 1000);
  await ctx.db.transaction().execute(async (trx) => {
    await insertSystemAccountsIn(trx, { groups: sys.groups, users: [] });
    await insertGroups(trx, ctx.dialect, checked.groups);
    await withBulkSearchIndex(trx, ctx.dialect, async () => {
      await insertSystemAccountsIn(trx, { groups: [], users: sys.users });
      await insertUsers(trx, ctx.dialect, checked.users);
    });
    await setGroupAdmins(trx, [...checked.groups.map((g) => ({ group: g.name, names: g.admins })), ...sysAdmins]);
  });
  return result;
}
