// Readable account subcommands: `gatehouse user list|show|add|edit|delete` and the same for
// `group`. They are thin clients of the API (user.* / group.*), so every rule and message is the
// server's; users and groups may be named by name or by id; `--json` prints the raw result.

import { readFileSync } from "node:fs";
import type { Command } from "commander";
import type { RpcClient } from "./client.js";
import { addClientOptions, printJson, type ClientOptions, withClient } from "./commands.js";

type Opts = ClientOptions & Record<string, unknown>;

/** A plain text table: header row, then one row per record, columns padded to fit. */
export function formatTable(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i])))
      .join("  ")
      .trimEnd();
  return [line(headers), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n") + "\n";
}

function formatValue(v: unknown): string {
  if (v === null || v === undefined) return "-";
  if (v instanceof Date) return v.toISOString();
  if (Array.isArray(v)) return v.length ? v.map(formatValue).join(", ") : "-";
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}

function printRecord(record: Record<string, unknown>, skip: string[] = []): void {
  const keys = Object.keys(record).filter((k) => !skip.includes(k));
  const width = Math.max(...keys.map((k) => k.length));
  for (const k of keys) process.stdout.write(`${k.padEnd(width)}  ${formatValue(record[k])}\n`);
}

/** The fields of a user.query entry the CLI reads (--json prints the whole entry). */
interface UserRow {
  id: number;
  username: string;
  uid: number;
  full_name: string;
  builtin: boolean;
  immutable?: boolean;
  locked: boolean;
  password_disabled: boolean;
  smb: boolean;
  roles: string[];
  group: { bsdgrp_group: string; bsdgrp_gid: number };
  /** Only in user.create's answer with random_password. */
  password?: string;
  [field: string]: unknown;
}

/** The fields of a group.query entry the CLI reads. */
interface GroupRow {
  id: number;
  name: string;
  gid: number;
  smb: boolean;
  sudo_commands: string[];
  sudo_commands_nopasswd: string[];
  roles: string[];
  users: number[];
  [field: string]: unknown;
}

const isId = (s: string) => /^\d+$/.test(s);
const list = (s: string) =>
  s
    .split(",")
    .map((x) => x.trim())
    .filter(Boolean);

async function resolveUser(c: RpcClient, ref: string): Promise<UserRow> {
  const rows = await c.call<UserRow[]>("user.query", [isId(ref) ? ["id", "=", Number(ref)] : ["username", "=", ref]]);
  if (!rows.length) throw new Error(`no such user: ${ref}`);
  return rows[0];
}

async function resolveGroup(c: RpcClient, ref: string): Promise<GroupRow> {
  const rows = await c.call<GroupRow[]>("group.query", [isId(ref) ? ["id", "=", Number(ref)] : ["name", "=", ref]]);
  if (!rows.length) throw new Error(`no such group: ${ref}`);
  return rows[0];
}

async function groupIds(c: RpcClient, refs: string[]): Promise<number[]> {
  return Promise.all(refs.map(async (r) => (await resolveGroup(c, r)).id));
}

async function userIds(c: RpcClient, refs: string[]): Promise<number[]> {
  return Promise.all(refs.map(async (r) => (await resolveUser(c, r)).id));
}

// ---- user ------------------------------------------------------------------------------------

function userOptions(cmd: Command, forAdd: boolean): Command {
  if (forAdd) cmd.option("--uid <uid>", "numeric uid (default: next free)").option("--full-name <name>", "full name (default: the username)");
  else cmd.option("--full-name <name>", "full name").option("--username <name>", "rename the user");
  return cmd
    .option("--new-password <password>", "the account password (--password is the login password)")
    .option("--random-password", "generate a 20-character password (printed)")
    .option("--password-disabled", "no password login")
    .option("--group <group>", "primary group (name or id); default on add: a new group named like the user")
    .option("--groups <groups>", "auxiliary groups, comma-separated names or ids (replaces the list)")
    .option("--home <path>", "home directory (inside a storage root, or /var/empty)")
    .option("--home-create", "create <home>/<username> (or <home> when it already ends with the username)")
    .option("--home-mode <mode>", "home directory mode, octal (default 700)")
    .option("--shell <path>", "login shell")
    .option("--email <address>", "email address")
    .option("--smb", "Samba authentication")
    .option("--no-smb", "no Samba authentication")
    .option("--sudo <commands>", "sudo commands (asking for the password), comma-separated; ALL for everything")
    .option("--sudo-nopasswd <commands>", "sudo commands without password, comma-separated")
    .option("--sshpubkey-file <file>", "SSH public key(s) to install in authorized_keys ('' file clears)")
    .option("--locked", "lock the account")
    .option("--unlocked", "unlock the account")
    .option("--json", "print the resulting entry as JSON");
}

async function userPayload(c: RpcClient, o: Opts, forAdd: boolean): Promise<Record<string, unknown>> {
  const p: Record<string, unknown> = {};
  if (o.fullName !== undefined) p.full_name = o.fullName;
  if (o.username !== undefined && !forAdd) p.username = o.username;
  if (o.uid !== undefined) p.uid = Number(o.uid);
  if (o.newPassword !== undefined) p.password = o.newPassword;
  if (o.randomPassword) p.random_password = true;
  if (o.passwordDisabled) p.password_disabled = true;
  if (o.group !== undefined) p.group = (await resolveGroup(c, String(o.group))).id;
  if (o.groups !== undefined) p.groups = await groupIds(c, list(String(o.groups)));
  if (o.home !== undefined) p.home = o.home;
  if (o.homeCreate) p.home_create = true;
  if (o.homeMode !== undefined) p.home_mode = String(o.homeMode);
  if (o.shell !== undefined) p.shell = o.shell;
  if (o.email !== undefined) p.email = o.email;
  if (o.smb !== undefined) p.smb = o.smb;
  if (o.sudo !== undefined) p.sudo_commands = list(String(o.sudo));
  if (o.sudoNopasswd !== undefined) p.sudo_commands_nopasswd = list(String(o.sudoNopasswd));
  if (o.sshpubkeyFile !== undefined) p.sshpubkey = readFileSync(String(o.sshpubkeyFile), "utf8");
  if (o.locked) p.locked = true;
  if (o.unlocked) p.locked = false;
  return p;
}

function printUserResult(entry: UserRow, o: Opts): void {
  if (o.json) {
    printJson(entry);
    return;
  }
  process.stdout.write(`${entry.username} (id ${entry.id}, uid ${entry.uid}, group ${entry.group?.bsdgrp_group})\n`);
  if (entry.password && o.randomPassword) process.stdout.write(`password: ${entry.password}\n`);
}

function registerUser(program: Command): void {
  const user = program.command("user").description("Manage local users");

  addClientOptions(
    user.command("list").description("List users (local ones and root; --all adds the built-in accounts)").option("--all", "include built-in accounts").option("--json", "print JSON"),
  ).action((o: Opts) =>
    withClient(o, async (c) => {
      const filters = o.all
        ? []
        : [
            [
              "OR",
              [
                ["builtin", "=", false],
                ["username", "=", "root"],
              ],
            ],
          ];
      const rows = await c.call<UserRow[]>("user.query", filters, { order_by: ["uid"] });
      if (o.json) return printJson(rows);
      const flags = (u: UserRow) =>
        [u.builtin && "builtin", u.immutable && !u.builtin && "immutable", u.locked && "locked", u.password_disabled && "no-password", u.smb && "smb"].filter(Boolean).join(",") || "-";
      process.stdout.write(
        formatTable(
          ["ID", "USERNAME", "UID", "GROUP", "FULL NAME", "ROLES", "FLAGS"],
          rows.map((u) => [String(u.id), u.username, String(u.uid), u.group.bsdgrp_group, u.full_name, formatValue(u.roles), flags(u)]),
        ),
      );
    }),
  );

  addClientOptions(user.command("show <user>").description("Show one user (name or id)").option("--json", "print JSON")).action((ref: string, o: Opts) =>
    withClient(o, async (c) => {
      const u = await resolveUser(c, ref);
      if (o.json) return printJson(u);
      printRecord({ ...u, group: `${u.group.bsdgrp_group} (gid ${u.group.bsdgrp_gid})` }, ["unixhash", "smbhash", "password_history"]);
    }),
  );

  addClientOptions(userOptions(user.command("add <username>").description("Create a user"), true)).action((username: string, o: Opts) =>
    withClient(o, async (c) => {
      const p = await userPayload(c, o, true);
      p.username = username;
      p.full_name ??= username;
      if (p.group === undefined) p.group_create = true;
      printUserResult(await c.call<UserRow>("user.create", p), o);
    }),
  );

  addClientOptions(userOptions(user.command("edit <user>").description("Change a user (name or id); only the given options change"), false)).action((ref: string, o: Opts) =>
    withClient(o, async (c) => {
      const u = await resolveUser(c, ref);
      printUserResult(await c.call<UserRow>("user.update", u.id, await userPayload(c, o, false)), o);
    }),
  );

  addClientOptions(
    user.command("delete <user>").description("Delete a user (name or id); the home directory is kept").option("--keep-group", "keep the user's private primary group").option("--json", "print JSON"),
  ).action((ref: string, o: Opts) =>
    withClient(o, async (c) => {
      const u = await resolveUser(c, ref);
      const id = await c.call("user.delete", u.id, { delete_group: !o.keepGroup });
      if (o.json) printJson(id);
      else process.stdout.write(`deleted user ${u.username} (id ${id})\n`);
    }),
  );
}

// ---- group -----------------------------------------------------------------------------------

function groupOptions(cmd: Command, forAdd: boolean): Command {
  if (forAdd) cmd.option("--gid <gid>", "numeric gid (default: next free)");
  else cmd.option("--name <name>", "rename the group");
  return cmd
    .option("--smb", "Samba group mapping")
    .option("--no-smb", "no Samba group mapping")
    .option("--users <users>", "members, comma-separated usernames or ids (replaces the list)")
    .option("--sudo <commands>", "sudo commands (asking for the password), comma-separated")
    .option("--sudo-nopasswd <commands>", "sudo commands without password, comma-separated")
    .option("--json", "print JSON");
}

async function groupPayload(c: RpcClient, o: Opts, forAdd: boolean): Promise<Record<string, unknown>> {
  const p: Record<string, unknown> = {};
  if (o.gid !== undefined) p.gid = Number(o.gid);
  if (o.name !== undefined && !forAdd) p.name = o.name;
  if (o.smb !== undefined) p.smb = o.smb;
  if (o.users !== undefined) p.users = await userIds(c, list(String(o.users)));
  if (o.sudo !== undefined) p.sudo_commands = list(String(o.sudo));
  if (o.sudoNopasswd !== undefined) p.sudo_commands_nopasswd = list(String(o.sudoNopasswd));
  return p;
}

function registerGroup(program: Command): void {
  const group = program.command("group").description("Manage local groups");

  addClientOptions(group.command("list").description("List groups (local ones; --all adds the built-in groups)").option("--all", "include built-in groups").option("--json", "print JSON")).action(
    (o: Opts) =>
      withClient(o, async (c) => {
        const rows = await c.call<GroupRow[]>("group.query", o.all ? [] : [["builtin", "=", false]], { order_by: ["gid"] });
        if (o.json) return printJson(rows);
        const names = new Map((await c.call<Pick<UserRow, "id" | "username">[]>("user.query", [], { select: ["id", "username"] })).map((u) => [u.id, u.username]));
        process.stdout.write(
          formatTable(
            ["ID", "NAME", "GID", "SMB", "SUDO", "ROLES", "MEMBERS"],
            rows.map((g) => [
              String(g.id),
              g.name,
              String(g.gid),
              g.smb ? "yes" : "no",
              g.sudo_commands.length || g.sudo_commands_nopasswd.length ? "yes" : "no",
              formatValue(g.roles),
              formatValue(g.users.map((id: number) => names.get(id) ?? id)),
            ]),
          ),
        );
      }),
  );

  addClientOptions(group.command("show <group>").description("Show one group (name or id)").option("--json", "print JSON")).action((ref: string, o: Opts) =>
    withClient(o, async (c) => {
      const g = await resolveGroup(c, ref);
      if (o.json) return printJson(g);
      printRecord(g);
    }),
  );

  addClientOptions(groupOptions(group.command("add <name>").description("Create a group"), true)).action((name: string, o: Opts) =>
    withClient(o, async (c) => {
      const id = await c.call<number>("group.create", { name, ...(await groupPayload(c, o, true)) });
      const g = await c.call<GroupRow>("group.get_instance", id);
      if (o.json) printJson(g);
      else process.stdout.write(`${g.name} (id ${g.id}, gid ${g.gid})\n`);
    }),
  );

  addClientOptions(groupOptions(group.command("edit <group>").description("Change a group (name or id); only the given options change"), false)).action((ref: string, o: Opts) =>
    withClient(o, async (c) => {
      const before = await resolveGroup(c, ref);
      const id = await c.call<number>("group.update", before.id, await groupPayload(c, o, false));
      const g = await c.call<GroupRow>("group.get_instance", id);
      if (o.json) printJson(g);
      else process.stdout.write(`${g.name} (id ${g.id}, gid ${g.gid})\n`);
    }),
  );

  addClientOptions(
    group
      .command("delete <group>")
      .description("Delete a group (name or id); its primary members move to nogroup")
      .option("--delete-users", "delete the users whose primary group it is instead")
      .option("--json", "print JSON"),
  ).action((ref: string, o: Opts) =>
    withClient(o, async (c) => {
      const g = await resolveGroup(c, ref);
      const id = await c.call("group.delete", g.id, { delete_users: !!o.deleteUsers });
      if (o.json) printJson(id);
      else process.stdout.write(`deleted group ${g.name} (id ${id})\n`);
    }),
  );
}

export function registerAccountCommands(program: Command): void {
  registerUser(program);
  registerGroup(program);
}
