// Crash safety of host provisioning: the server runs as a child process (`gatehouse serve`), a
// burst of user changes goes through the API, and the server is SIGKILLed at a random moment —
// ten times, 1,000 changes in all. After every kill each generated file must still parse with the
// host's tools (the writer replaces files atomically, so a crash leaves the old or the new file),
// and after every restart the files must equal what the store holds (`gatehouse provision
// --check` finds no drift).

import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { RpcClient } from "../src/cli/client.js";
import { openStore, type Store } from "../src/store/db.js";
import { detectDrift, type ProvisionContext } from "../src/provision/provisioner.js";
import { ADMIN_PASSWORD } from "./harness.js";
import { REPO, inHostNs, requireTools, run } from "./provision-helpers.js";
import { GATEHOUSE_ARGS } from "./gatehouse-command.js";

const CYCLES = Number(process.env.GATEHOUSE_CRASH_CYCLES ?? 10);
const CHANGES = Number(process.env.GATEHOUSE_CRASH_CHANGES ?? 1000);
const CLI = GATEHOUSE_ARGS;

interface Server {
  child: ChildProcess;
  url: string;
  output: () => string;
}

function startServer(dataDir: string): Promise<Server> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...CLI, "serve", "--data-dir", dataDir, "--host", "127.0.0.1", "--port", "0", "--log-level", "warn"], {
      cwd: REPO,
      env: { ...process.env, GATEHOUSE_HASH_ROUNDS: "1000", GATEHOUSE_FAIL_DELAY_MS: "1-2", GATEHOUSE_PROVISION_RECONCILE_MS: "500" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    // A server that does not start in time is stopped here: the caller never gets its pid.
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`server did not start:\n${out}`));
    }, 90_000);
    const onData = (d: Buffer) => {
      out += d;
      const m = /listening on http:\/\/127\.0\.0\.1:(\d+)\//.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ child, url: `ws://127.0.0.1:${m[1]}/api/current`, output: () => out });
      }
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    child.once("exit", (code, sig) => {
      clearTimeout(timer);
      reject(new Error(`server exited (${code ?? sig}) before listening:\n${out}`));
    });
  });
}

function exited(c: ChildProcess): Promise<void> {
  if (c.exitCode !== null || c.signalCode !== null) return Promise.resolve();
  return new Promise((r) => c.once("exit", () => r()));
}

// ---------------------------------------------------------------------------------------------
// parsers: every file must be well-formed on its own (right after a kill files may disagree
// with each other: passwd renamed, shadow not yet)

const LINE = {
  passwd: /^[^:\n]+:x:\d+:\d+:[^:\n]*:[^:\n]*:[^:\n]*$/,
  group: /^[^:\n]+:x:\d+:[^:\n]*$/,
  shadow: /^[^:\n]+:[^:\n]*:\d*:\d*:\d*:\d*:\d*:\d*:$/,
  gshadow: /^[^:\n]+:[^:\n]*:[^:\n]*:[^:\n]*$/,
  smbpasswd: /^[^:\n]+:\d+:X{32}:[0-9A-F]{32}:\[(U|DU) {9,10}\]:LCT-[0-9A-F]{8}:$/,
};

function lines(file: string): string[] {
  const text = readFileSync(file, "utf8");
  assert.ok(text === "" || text.endsWith("\n"), `${file} does not end with a newline (partial write?)`);
  return text.split("\n").slice(0, -1);
}

async function assertFilesParse(hostRoot: string, hostKey: string, consistent: boolean): Promise<{ users: number }> {
  const etc = path.join(hostRoot, "etc");
  const names: Record<string, string[]> = {};
  for (const [f, re] of Object.entries(LINE)) {
    const file = f === "smbpasswd" ? path.join(etc, "samba/smbpasswd") : path.join(etc, f);
    const ls = lines(file);
    for (const l of ls) assert.match(l, re, `${f}: ${l}`);
    names[f] = ls.map((l) => l.split(":")[0]);
    assert.equal(new Set(names[f]).size, names[f].length, `${f}: duplicate names`);
    if (f === "smbpasswd") assert.ok(ls.every((l) => l.length > 0));
  }
  assert.ok(names.passwd.includes("root"));
  if (consistent) {
    assert.deepEqual(names.shadow, names.passwd);
    assert.deepEqual(names.gshadow, names.group);
    const pw = new Set(names.passwd);
    assert.ok(names.smbpasswd.every((n) => pw.has(n)));
  }
  // the host's tools: getent through nss_files, visudo, sshd -t
  const g = await inHostNs(hostRoot, "getent passwd | cut -d: -f1; echo ---; getent group | cut -d: -f1");
  assert.equal(g.code, 0, g.stderr);
  const [gp, gg] = g.stdout.split("---\n");
  assert.deepEqual(new Set(gp.split("\n").filter(Boolean)), new Set(names.passwd));
  assert.deepEqual(new Set(gg.split("\n").filter(Boolean)), new Set(names.group));
  const v = await run("visudo", ["-cf", path.join(etc, "sudoers.d/gatehouse")]);
  assert.equal(v.code, 0, v.stdout + v.stderr);
  const cfg = path.join(path.dirname(hostKey), "sshd_config");
  writeFileSync(cfg, `Include ${etc}/ssh/sshd_config.d/*.conf\nPort 2\nListenAddress 127.0.0.1\nHostKey ${hostKey}\nUsePAM no\n`);
  const t = spawnSync("/usr/sbin/sshd", ["-t", "-f", cfg], { encoding: "utf8" });
  assert.equal(t.status, 0, t.stderr);
  return { users: names.passwd.length };
}

// ---------------------------------------------------------------------------------------------

describe("host files survive SIGKILL during a burst of account changes", { timeout: 240_000 }, () => {
  let dataDir: string;
  let hostRoot: string;
  let hostKey: string;
  let store: Store | null = null;
  let server: Server | null = null;

  before(() => {
    if (process.getuid?.() !== 0) throw new Error("the crash suite must run as root (mount namespaces for getent)");
    requireTools(["unshare", "getent", "visudo", "/usr/sbin/sshd", "ssh-keygen"]);
    dataDir = mkdtempSync(path.join(os.tmpdir(), "gh-crash-"));
    chmodSync(dataDir, 0o755);
    hostRoot = path.join(dataDir, "root");
    mkdirSync(path.join(dataDir, "ssh"));
    hostKey = path.join(dataDir, "ssh/host_ed25519");
    spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", hostKey]);
    mkdirSync("/run/sshd", { recursive: true });
  });

  after(async () => {
    if (server) {
      server.child.kill("SIGKILL");
      await exited(server.child);
    }
    await store?.close();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  const ctx = (): ProvisionContext => ({
    db: store!.db,
    dialect: store!.dialect,
    hostRoot,
    storageRoots: [path.join(dataDir, "mnt")],
    log: { info() {}, warn() {}, error() {}, debug() {} },
  });

  async function noDriftSoon(what: string): Promise<void> {
    const end = Date.now() + 30_000;
    let drift = await detectDrift(ctx());
    while (drift.length && Date.now() < end) {
      await new Promise((r) => setTimeout(r, 100));
      drift = await detectDrift(ctx());
    }
    assert.deepEqual(drift, [], `${what}: drift remains`);
  }

  async function cliCheck(): Promise<void> {
    const r = await run(process.execPath, [...CLI, "provision", "--check", "--data-dir", dataDir], { cwd: REPO, timeoutMs: 60_000 });
    assert.equal(r.code, 0, `gatehouse provision --check: ${r.stdout}${r.stderr}`);
    assert.match(r.stdout, /no drift/);
  }

  test(`a burst of ${CHANGES} user changes, killed ${CYCLES} times`, async () => {
    const created: { id: number; username: string }[] = [];
    let attempted = 0;
    let succeeded = 0;
    let kills = 0;
    let tempsSeen = 0;
    let next = 0; // index of the next change of the burst
    for (let cycle = 0; cycle <= CYCLES; cycle++) {
      const last = cycle === CYCLES;
      server = await startServer(dataDir);
      store ??= await openStore({ dataDir });
      if (cycle > 0) {
        // the restarted server's first run repairs whatever the kill interrupted
        await noDriftSoon(`restart ${cycle}`);
        await assertFilesParse(hostRoot, hostKey, true);
        await cliCheck();
      }
      const client = await RpcClient.connect(server.url);
      if (cycle === 0) await client.call("user.setup_local_administrator", "admin", ADMIN_PASSWORD);
      const login = await client.login("admin", ADMIN_PASSWORD);
      assert.equal(login.response_type, "SUCCESS");
      // RpcClient.call never settles when sent after the socket closed: fail those calls here
      const closed = new Promise<never>((_, reject) => client.ws.once("close", () => reject(new Error("connection closed"))));
      closed.catch(() => undefined);
      const call = <T>(method: string, ...params: unknown[]): Promise<T> =>
        client.closeInfo ? Promise.reject(new Error("connection closed")) : Promise.race([client.call<T>(method, ...params), closed]);

      // this life's share of the burst, several calls in flight; it ends with SIGKILL after a
      // random number of completed changes (the last life finishes the burst)
      const left = CHANGES - next;
      const share = last ? left : Math.max(1, Math.round((left / (CYCLES - cycle)) * (0.5 + Math.random())));
      const killAt = last ? Infinity : Math.floor(share * Math.random());
      let done = 0;
      let stop = false;
      let killed: () => void = () => undefined;
      const killTime = new Promise<void>((r) => (killed = r));
      const ops: Promise<void>[] = [];
      const worker = async () => {
        while (!stop && !client.closeInfo && next < CHANGES) {
          const i = next++;
          attempted++;
          const roll = Math.random();
          try {
            if (roll < 0.45 || created.length < 5) {
              const username = `c${cycle}u${i}`;
              const u = await call<{ id: number }>("user.create", {
                username,
                full_name: `Crash ${cycle} ${i}`,
                password: `Pw-${cycle}-${i}-x`,
                group_create: true,
                smb: Math.random() < 0.5,
                sudo_commands: Math.random() < 0.2 ? ["/usr/bin/id"] : [],
              });
              created.push({ id: u.id, username });
            } else if (roll < 0.85) {
              const u = created[Math.floor(Math.random() * created.length)];
              const r = Math.random();
              const patch =
                r < 0.25
                  ? { password: `New-${cycle}-${i}-pw` }
                  : r < 0.5
                    ? { locked: Math.random() < 0.5 }
                    : r < 0.75
                      ? { full_name: `Renamed ${cycle} ${i}` }
                      : { sudo_commands_nopasswd: Math.random() < 0.5 ? ["/usr/bin/true"] : [] };
              await call("user.update", u.id, patch);
            } else {
              const k = Math.floor(Math.random() * created.length);
              const u = created[k];
              created.splice(k, 1);
              await call("user.delete", u.id, { delete_group: true });
            }
            succeeded++;
          } catch {
            // validation errors, and the calls in flight when the server dies
          }
          if (++done >= killAt) {
            // a little later, so the kill may also land in the middle of a provisioning write
            setTimeout(killed, Math.random() * 40);
          }
        }
      };
      for (let w = 0; w < 6; w++) ops.push(worker());
      if (last) {
        await Promise.all(ops);
        await client.close();
        break;
      }
      await Promise.race([killTime, Promise.all(ops)]);
      server.child.kill("SIGKILL");
      kills++;
      await exited(server.child);
      stop = true;
      await Promise.all(ops);
      await client.close().catch(() => undefined);
      // ids of users whose create may or may not have committed: ask the store
      const live = new Set((await store.db.selectFrom("users").select("id").execute()).map((r) => r.id));
      for (let k = created.length - 1; k >= 0; k--) if (!live.has(created[k].id)) created.splice(k, 1);

      // right after the kill: every file parses on its own
      await assertFilesParse(hostRoot, hostKey, false);
      // no temporary file is mistaken for a real one by the tools (and they are ours to clean)
      for (const d of ["etc", "etc/samba", "etc/sudoers.d", "etc/ssh/sshd_config.d"]) {
        for (const name of readdirSync(path.join(hostRoot, d))) {
          if (!name.endsWith(".tmp")) continue;
          assert.match(name, /^\..*\.gh-\d+-[0-9a-f]+\.tmp$/);
          tempsSeen++;
        }
      }
      server = null;
    }

    // the last life finished the burst: consistent, and the CLI agrees; then a clean shutdown
    assert.ok(server);
    await noDriftSoon("end of the burst");
    const { users } = await assertFilesParse(hostRoot, hostKey, true);
    await cliCheck();
    server.child.kill("SIGTERM");
    await exited(server.child);
    server = null;
    await cliCheck();
    // with the server down: a hand edit is drift (exit 1), `gatehouse provision` repairs it
    const passwd = path.join(hostRoot, "etc/passwd");
    writeFileSync(passwd, readFileSync(passwd, "utf8").replace(/^root:x:0:0:/m, "root:x:0:0:edited "));
    const check = await run(process.execPath, [...CLI, "provision", "--check", "--data-dir", dataDir], { cwd: REPO, timeoutMs: 60_000 });
    assert.equal(check.code, 1, check.stdout + check.stderr);
    assert.equal(check.stdout.trim(), `content\t${passwd}`);
    const fix = await run(process.execPath, [...CLI, "provision", "--data-dir", dataDir], { cwd: REPO, timeoutMs: 60_000 });
    assert.equal(fix.code, 0, fix.stdout + fix.stderr);
    assert.equal(fix.stdout.trim(), `wrote\t${passwd}`);
    await cliCheck();
    for (const d of ["etc", "etc/samba", "etc/sudoers.d", "etc/ssh/sshd_config.d"]) {
      assert.deepEqual(
        readdirSync(path.join(hostRoot, d)).filter((n) => n.endsWith(".tmp")),
        [],
        `stale temporary files in ${d}`,
      );
    }
    assert.equal(kills, CYCLES);
    assert.equal(attempted, CHANGES);
    assert.ok(succeeded > CHANGES / 2, `only ${succeeded} of ${CHANGES} changes committed`);
    process.stdout.write(`# crash: ${kills} kills, ${attempted} changes sent, ${succeeded} answered, ${tempsSeen} interrupted writes seen, ${users} accounts at the end\n`);
  });
});
