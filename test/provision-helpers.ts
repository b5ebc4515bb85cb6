// Helpers of the provisioning tests: rows inserted straight into a store, a sample snapshot, and
// running host tools inside a private mount namespace where the generated files are bind-mounted
// over the host's (scripts/provision-ns.sh), so the test machine itself is never changed.

import { spawn, spawnSync } from "node:child_process";
import { builtinUserBase } from "../src/accounts/system-accounts.js";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { Db } from "../src/store/db.js";
import type { ProvGroup, ProvUser, Snapshot } from "../src/provision/types.js";

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
export const NS_SCRIPT = path.join(REPO, "scripts/provision-ns.sh");
export const PTY_SCRIPT = path.join(REPO, "scripts/pty-login.py");

// ---------------------------------------------------------------------------------------------
// snapshots for the pure generators

export function user(p: Partial<ProvUser> & { id: number; username: string }): ProvUser {
  return {
    uid: 1000 + p.id,
    unixhash: "*",
    smbhash: "*",
    home: "/var/empty",
    shell: "/usr/bin/bash",
    full_name: p.username,
    builtin: false,
    smb: false,
    group_id: p.id,
    password_disabled: false,
    ssh_password_enabled: false,
    sshpubkey: null,
    locked: false,
    sudo_commands: [],
    sudo_commands_nopasswd: [],
    last_password_change: null,
    created_at: 0,
    ...p,
  };
}

export function group(p: Partial<ProvGroup> & { id: number; name: string }): ProvGroup {
  return { gid: 1000 + p.id, builtin: false, sudo_commands: [], sudo_commands_nopasswd: [], ...p };
}

export function snapshot(users: ProvUser[], groups: ProvGroup[], members: [number, number[]][] = [], policy: Partial<Snapshot["policy"]> = {}): Snapshot {
  return {
    users: [...users].sort((a, b) => a.id - b.id),
    groups: [...groups].sort((a, b) => a.id - b.id),
    members: new Map(members.map(([g, us]) => [g, [...us].sort((a, b) => a - b)])),
    policy: { min_password_age: null, max_password_age: null, enable_gpos_stig: false, ...policy },
  };
}

// ---------------------------------------------------------------------------------------------
// direct store rows (for tests that exercise the writer without the accounts API)

export async function insertGroup(db: Db, g: { name: string; gid: number; sudo_commands?: string[]; sudo_commands_nopasswd?: string[]; smb?: boolean }): Promise<number> {
  const r = await db
    .insertInto("groups")
    .values({
      gid: g.gid,
      name: g.name,
      builtin: 0,
      smb: g.smb ? 1 : 0,
      sudo_commands: JSON.stringify(g.sudo_commands ?? []),
      sudo_commands_nopasswd: JSON.stringify(g.sudo_commands_nopasswd ?? []),
      userns_idmap: null,
    })
    .returning("id")
    .executeTakeFirstOrThrow();
  return r.id;
}

export interface UserSpec {
  username: string;
  uid: number;
  group_id: number;
  unixhash?: string;
  smbhash?: string;
  home?: string;
  shell?: string;
  full_name?: string;
  smb?: boolean;
  locked?: boolean;
  password_disabled?: boolean;
  ssh_password_enabled?: boolean;
  sshpubkey?: string | null;
  sudo_commands?: string[];
  sudo_commands_nopasswd?: string[];
  last_password_change?: number | null;
}

export async function insertUser(db: Db, u: UserSpec): Promise<number> {
  const r = await db
    .insertInto("users")
    .values({
      ...builtinUserBase(Date.now()),
      uid: u.uid,
      username: u.username,
      unixhash: u.unixhash ?? "*",
      smbhash: u.smbhash ?? "*",
      home: u.home ?? "/var/empty",
      shell: u.shell ?? "/usr/bin/bash",
      full_name: u.full_name ?? u.username,
      builtin: 0,
      smb: u.smb ? 1 : 0,
      group_id: u.group_id,
      password_disabled: u.password_disabled ? 1 : 0,
      ssh_password_enabled: u.ssh_password_enabled ? 1 : 0,
      sshpubkey: u.sshpubkey ?? null,
      locked: u.locked ? 1 : 0,
      sudo_commands: JSON.stringify(u.sudo_commands ?? []),
      sudo_commands_nopasswd: JSON.stringify(u.sudo_commands_nopasswd ?? []),
      last_password_change: u.last_password_change ?? null,
    })
    .returning("id")
    .executeTakeFirstOrThrow();
  return r.id;
}

// ---------------------------------------------------------------------------------------------
// processes

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function run(cmd: string, args: string[], opts: { input?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number; cwd?: string } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: opts.env ?? process.env, cwd: opts.cwd, stdio: [opts.input === undefined ? "ignore" : "pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout!.on("data", (d) => (stdout += d));
    child.stderr!.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs ?? 30_000);
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    if (child.stdin) {
      child.stdin.on("error", () => undefined); // the command may exit without reading it
      child.stdin.end(opts.input);
    }
  });
}

/**
 * Run a bash script inside a private mount namespace in which `<hostRoot>/etc/{passwd,group,
 * shadow,gshadow}` and `<hostRoot>/etc/sudoers.d` are bind-mounted over the host's.
 */
export function inHostNs(hostRoot: string, script: string, opts: { input?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<Run> {
  return run("bash", [NS_SCRIPT, hostRoot, "bash", "-c", script], opts);
}

/** `which` for the tools the suites need; throws naming the missing ones (never skips). */
export function requireTools(tools: string[]): void {
  const missing = tools.filter((t) => spawnSync("bash", ["-c", `command -v ${t}`]).status !== 0);
  if (missing.length) throw new Error(`missing host tools: ${missing.join(", ")} (scripts/test installs them with apt-get)`);
}

export async function waitFor<T>(fn: () => Promise<T | null | undefined | false> | T | null | undefined | false, what: string, timeoutMs = 10_000, everyMs = 50): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown = null;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ""}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
