// Built-in users, groups and privileges, seeded at first start (SPEC "Built-in accounts"): from
// the host root's passwd/group when it has them (ids below 1000, and 65534), else from the
// reference list. Plus root, builtin_administrators/users/guests, the read-only and sharing
// administrator groups, and the three built-in privileges.

import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import type { AccountsApp } from "./context.js";
import type { Tx } from "../store/db.js";
import { defaultShell } from "./shells.js";
import { builtinUserBase } from "./system-accounts.js";

interface BuiltinGroup {
  gid: number;
  name: string;
  smb?: boolean;
  userns_idmap?: string | null;
}
interface BuiltinUser {
  uid: number;
  name: string;
  gid: number;
  home: string;
  shell: string;
  gecos: string;
  userns_idmap?: string | null;
}

// Reference §3 (a Debian-based appliance's base files).
const REFERENCE_GROUPS: [number, string][] = [
  [0, "root"],
  [1, "daemon"],
  [2, "bin"],
  [3, "sys"],
  [4, "adm"],
  [5, "tty"],
  [6, "disk"],
  [7, "lp"],
  [8, "mail"],
  [9, "news"],
  [10, "uucp"],
  [12, "man"],
  [13, "proxy"],
  [14, "ftp"],
  [15, "kmem"],
  [20, "dialout"],
  [21, "fax"],
  [22, "voice"],
  [24, "cdrom"],
  [25, "floppy"],
  [26, "tape"],
  [27, "sudo"],
  [29, "audio"],
  [30, "dip"],
  [33, "www-data"],
  [34, "backup"],
  [37, "operator"],
  [38, "list"],
  [39, "irc"],
  [40, "src"],
  [41, "gnats"],
  [42, "shadow"],
  [43, "utmp"],
  [44, "video"],
  [45, "sasl"],
  [46, "plugdev"],
  [50, "staff"],
  [60, "games"],
  [100, "users"],
  [65534, "nogroup"],
  [101, "systemd-journal"],
  [102, "systemd-network"],
  [103, "systemd-resolve"],
  [104, "input"],
  [105, "kvm"],
  [106, "render"],
  [107, "crontab"],
  [108, "netdev"],
  [109, "ssh"],
  [110, "messagebus"],
  [111, "avahi"],
  [444, "truesearch"],
  [568, "apps"],
  [666, "webdav"],
  [986, "libvirt-qemu"],
  [999, "docker"],
];
const REFERENCE_USERS: [number, string, number, string, string][] = [
  [1, "daemon", 1, "/usr/sbin", "daemon"],
  [2, "bin", 2, "/bin", "bin"],
  [3, "sys", 3, "/dev", "sys"],
  [4, "sync", 65534, "/bin", "sync"],
  [5, "games", 60, "/usr/games", "games"],
  [6, "man", 12, "/var/cache/man", "man"],
  [7, "lp", 7, "/var/spool/lpd", "lp"],
  [8, "mail", 8, "/var/mail", "mail"],
  [9, "news", 9, "/var/spool/news", "news"],
  [10, "uucp", 10, "/var/spool/uucp", "uucp"],
  [13, "proxy", 13, "/bin", "proxy"],
  [33, "www-data", 33, "/var/www", "www-data"],
  [34, "backup", 34, "/var/backups", "backup"],
  [38, "list", 38, "/var/list", "Mailing List Manager"],
  [39, "irc", 39, "/run/ircd", "ircd"],
  [41, "gnats", 41, "/var/lib/gnats", "Gnats Bug-Reporting System (admin)"],
  [65534, "nobody", 65534, "/nonexistent", "nobody"],
  [100, "_apt", 65534, "/nonexistent", ""],
  [101, "systemd-network", 102, "/run/systemd", "systemd Network Management"],
  [104, "messagebus", 110, "/nonexistent", ""],
  [111, "sshd", 65534, "/run/sshd", ""],
  [568, "apps", 568, "/var/empty", "Unprivileged Apps User"],
];

/** Gatehouse's own built-in groups (SMB-enabled, reference §3). */
export const ADMIN_GROUPS: BuiltinGroup[] = [
  { gid: 544, name: "builtin_administrators", smb: true },
  { gid: 545, name: "builtin_users", smb: true },
  { gid: 546, name: "builtin_guests", smb: true },
  { gid: 951, name: "truenas_readonly_administrators", smb: true },
  { gid: 952, name: "truenas_sharing_administrators", smb: true },
];

export const BUILTIN_PRIVILEGES = [
  { builtin_name: "LOCAL_ADMINISTRATOR", name: "Local Administrator", local_groups: [544], roles: ["FULL_ADMIN"], web_shell: true },
  { builtin_name: "READONLY_ADMINISTRATOR", name: "Read-Only Administrator", local_groups: [951], roles: ["READONLY_ADMIN"], web_shell: false },
  { builtin_name: "SHARING_ADMINISTRATOR", name: "Sharing Administrator", local_groups: [952], roles: ["SHARING_ADMIN"], web_shell: false },
];

function parseColonFile(file: string): string[][] {
  if (!existsSync(file)) return [];
  return readFileSync(file, "utf8")
    .split("\n")
    .filter((l) => l && !l.startsWith("#"))
    .map((l) => l.split(":"));
}

const isSystemId = (id: number) => id < 1000 || id === 65534;

/** The host's built-in accounts: from <hostRoot>/etc when present, else the reference list. */
export function builtinAccounts(hostRoot: string): { groups: BuiltinGroup[]; users: BuiltinUser[] } {
  const pw = parseColonFile(path.join(hostRoot, "etc/passwd"));
  const gr = parseColonFile(path.join(hostRoot, "etc/group"));
  let groups: BuiltinGroup[];
  let users: BuiltinUser[];
  if (pw.length && gr.length) {
    groups = gr.filter((f) => f.length >= 3 && isSystemId(Number(f[2]))).map((f) => ({ gid: Number(f[2]), name: f[0] }));
    users = pw.filter((f) => f.length >= 7 && isSystemId(Number(f[2])) && f[0] !== "root").map((f) => ({ uid: Number(f[2]), name: f[0], gid: Number(f[3]), gecos: f[4], home: f[5], shell: f[6] }));
  } else {
    groups = REFERENCE_GROUPS.map(([gid, name]) => ({ gid, name, userns_idmap: name === "apps" ? "DIRECT" : null }));
    users = REFERENCE_USERS.map(([uid, name, gid, home, gecos]) => ({
      uid,
      name,
      gid,
      home,
      gecos,
      shell: "/usr/sbin/nologin",
      userns_idmap: name === "apps" ? "DIRECT" : null,
    }));
  }
  // Our administrator groups replace any same-id host group.
  const adminGids = new Set(ADMIN_GROUPS.map((g) => g.gid));
  groups = groups.filter((g) => !adminGids.has(g.gid) && !ADMIN_GROUPS.some((a) => a.name === g.name));
  if (!groups.some((g) => g.gid === 0)) groups.unshift({ gid: 0, name: "root" });
  if (!groups.some((g) => g.gid === 65534)) groups.push({ gid: 65534, name: "nogroup" });
  return { groups: [...groups, ...ADMIN_GROUPS], users };
}

export async function seedBuiltins(app: Pick<AccountsApp, "store" | "config">): Promise<void> {
  const db = app.store.db;
  const seeded = await db.selectFrom("settings").select("key").where("key", "=", "builtins_seeded").executeTakeFirst();
  if (!seeded) await seedOnce(app);
}

async function seedOnce(app: Pick<AccountsApp, "store" | "config">): Promise<void> {
  const db = app.store.db;
  await db.transaction().execute(async (trx) => {
    // Another process may have seeded while we waited for the transaction.
    if (await trx.selectFrom("settings").select("key").where("key", "=", "builtins_seeded").executeTakeFirst()) return;
    await seedInto(trx, app.config.hostRoot);
    await trx.insertInto("settings").values({ key: "builtins_seeded", value: "true" }).execute();
  });
}

async function seedInto(trx: Tx, hostRoot: string): Promise<void> {
  const { groups, users } = builtinAccounts(hostRoot);
  const groupIdByGid = new Map<number, number>();
  for (const g of groups) {
    // gids are unique (migration 005): of host groups sharing a gid, the first one is kept.
    const exists = await trx
      .selectFrom("groups")
      .select("id")
      .where((eb) => eb.or([eb("name", "=", g.name), eb("gid", "=", g.gid)]))
      .executeTakeFirst();
    if (exists) continue;
    const row = await trx
      .insertInto("groups")
      .values({ gid: g.gid, name: g.name, builtin: 1, smb: g.smb ? 1 : 0, sudo_commands: "[]", sudo_commands_nopasswd: "[]", userns_idmap: g.userns_idmap ?? null })
      .returning("id")
      .executeTakeFirstOrThrow();
    if (!groupIdByGid.has(g.gid)) groupIdByGid.set(g.gid, row.id);
  }
  const now = Date.now();
  const base = builtinUserBase(now);

  // root is DB id 1, a member of builtin_administrators (reference §3).
  const rootGroup = groupIdByGid.get(0)!;
  const root = await trx
    .insertInto("users")
    .values({ ...base, uid: 0, username: "root", home: "/root", shell: defaultShell(hostRoot), full_name: "root", userns_idmap: null, group_id: rootGroup })
    .returning("id")
    .executeTakeFirstOrThrow();
  await trx
    .insertInto("memberships")
    .values({ group_id: groupIdByGid.get(544)!, user_id: root.id })
    .execute();
  for (const u of users) {
    const gid = groupIdByGid.get(u.gid) ?? groupIdByGid.get(65534)!;
    await trx
      .insertInto("users")
      .values({ ...base, uid: u.uid, username: u.name, home: u.home, shell: u.shell, full_name: u.gecos.split(",")[0] || u.name, userns_idmap: u.userns_idmap ?? null, group_id: gid })
      // A taken name or uid (uids are unique, migration 005): the first host entry is kept.
      .onConflict((oc) => oc.doNothing())
      .execute();
  }
  for (const p of BUILTIN_PRIVILEGES) {
    await trx
      .insertInto("privileges")
      .values({ builtin_name: p.builtin_name, name: p.name, local_groups: JSON.stringify(p.local_groups), ds_groups: "[]", roles: JSON.stringify(p.roles), web_shell: p.web_shell ? 1 : 0 })
      .execute();
  }
}
