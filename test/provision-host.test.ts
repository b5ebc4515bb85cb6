// Integration: accounts created through the API really work with the host's own programs.
//
// The generated passwd/group/shadow/gshadow and sudoers.d are bind-mounted over the host's inside
// a private mount namespace (scripts/provision-ns.sh) for getent, id, su, sudo and sshd; smbd
// reads the generated smbpasswd directly and resolves users through nss_wrapper pointed at the
// generated passwd/group. The test machine's own account files are never changed. Needs root and
// openssh-server, openssh-client, samba, smbclient, sudo, libnss-wrapper, util-linux, python3.

import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { startServer, type TestServer } from "./harness.js";
import type { RpcClient } from "../src/cli/client.js";
import { checkDrift, provisionerOf } from "../src/provision/index.js";
import { NS_SCRIPT, PTY_SCRIPT, inHostNs, requireTools, run, waitFor, type Run } from "./provision-helpers.js";
import { freePort } from "./free-port.js";

const PW = { alice: "Alice-pass-1", bob: "Bob-pass-22", dave: "Dave-pass-333", alice2: "Alice-new-pass-4" };
const NSS_WRAPPER = ["/usr/lib/x86_64-linux-gnu/libnss_wrapper.so", "/usr/lib/aarch64-linux-gnu/libnss_wrapper.so", "/usr/lib/libnss_wrapper.so"].find(existsSync);

interface Acct {
  id: number;
  uid: number;
  gid: number;
  home: string;
  username: string;
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const c = net.connect(port, "127.0.0.1");
    c.once("connect", () => {
      c.destroy();
      resolve(true);
    });
    c.once("error", () => resolve(false));
  });
}

function stopChild(c: ChildProcess | null): Promise<void> {
  if (!c || c.exitCode !== null || c.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    c.once("exit", () => resolve());
    c.kill("SIGTERM");
    setTimeout(() => c.kill("SIGKILL"), 3000).unref();
  });
}

describe("host provisioning with the host's own tools", { timeout: 300_000 }, () => {
  let work: string;
  let ts: TestServer;
  let admin: RpcClient;
  let hostRoot: string;
  let mnt: string;
  let mnt2: string;
  const acct: Record<string, Acct> = {};
  let devsGid = 0;
  const keys: Record<string, string> = {};

  /** Wait until the writer has written every committed change. */
  const settle = async () => {
    await provisionerOf(ts.app).whenIdle();
    const err = provisionerOf(ts.app).lastError;
    if (err) throw err;
  };

  /** Run as `nobody` (so su asks for the password) through a pty, inside the namespace. */
  const suAs = (target: string, password: string): Promise<Run> =>
    inHostNs(hostRoot, `exec setpriv --reuid=65534 --regid=65534 --clear-groups -- /usr/bin/python3 ${PTY_SCRIPT} su -c 'id -un' ${target}`, {
      env: { ...process.env, PTY_PASSWORD: password, PTY_TIMEOUT: "15" },
    });

  before(async () => {
    if (process.getuid?.() !== 0) throw new Error("the host provisioning suite must run as root (mount namespaces, su, sshd, smbd)");
    requireTools(["unshare", "setpriv", "getent", "id", "su", "sudo", "visudo", "/usr/sbin/sshd", "ssh", "ssh-keygen", "smbd", "smbclient", "/usr/bin/python3"]);
    if (!NSS_WRAPPER) throw new Error("libnss_wrapper.so not found (apt-get install libnss-wrapper)");
    work = mkdtempSync(path.join(os.tmpdir(), "gh-host-"));
    chmodSync(work, 0o755); // users must reach their homes
    hostRoot = path.join(work, "root");
    mnt = path.join(work, "mnt");
    mnt2 = path.join(work, "mnt2");
    for (const d of [mnt, mnt2, path.join(hostRoot, "etc/skel")]) mkdirSync(d, { recursive: true });
    writeFileSync(path.join(hostRoot, "etc/skel/.profile"), "# skeleton profile\n");
    writeFileSync(path.join(hostRoot, "etc/skel/.bashrc"), "# skeleton bashrc\n");
    for (const u of ["alice", "bob", "carol", "dave"]) {
      const k = path.join(work, `key_${u}`);
      spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", `${u}@test`, "-f", k]);
      keys[u] = readFileSync(`${k}.pub`, "utf8").trim();
    }
    ts = await startServer({ dataDir: work, config: { storageRoots: [mnt, mnt2] } });
    admin = await ts.adminClient();
    const devs = await admin.call<number>("group.create", { name: "devs", sudo_commands: ["/usr/bin/id"], sudo_commands_nopasswd: ["/usr/bin/whoami"] });
    devsGid = (await admin.call<{ gid: number }>("group.get_instance", devs)).gid;
    const create = async (username: string, extra: Record<string, unknown>) => {
      const u = await admin.call<{ id: number; uid: number; home: string; group: { bsdgrp_gid: number } }>("user.create", {
        username,
        full_name: `${username[0].toUpperCase()}${username.slice(1)} Test`,
        group_create: true,
        home: mnt,
        home_create: true,
        shell: "/usr/bin/bash",
        sshpubkey: keys[username],
        ...extra,
      });
      acct[username] = { id: u.id, uid: u.uid, gid: u.group.bsdgrp_gid, home: u.home, username };
    };
    await create("alice", {
      password: PW.alice,
      smb: true,
      ssh_password_enabled: true,
      groups: [devs],
      sudo_commands: ["/usr/bin/ls", "/usr/bin/echo a,b"],
      sudo_commands_nopasswd: ["/usr/bin/true"],
    });
    await create("bob", { password: PW.bob, smb: true, locked: true, ssh_password_enabled: true });
    await create("carol", { password_disabled: true, smb: false });
    await create("dave", { password: PW.dave, smb: false, ssh_password_enabled: false });
    await settle();
  });

  after(async () => {
    await admin?.close().catch(() => undefined);
    await ts?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  test("generated files: owners and modes as on a real host; no drift", async () => {
    const expect: [string, number, number][] = [
      ["etc/passwd", 0o644, 0],
      ["etc/group", 0o644, 0],
      ["etc/shadow", 0o640, 42],
      ["etc/gshadow", 0o640, 42],
      ["etc/samba/smbpasswd", 0o600, 0],
      ["etc/sudoers.d/gatehouse", 0o440, 0],
      ["etc/ssh/sshd_config.d/gatehouse.conf", 0o644, 0],
    ];
    for (const [rel, mode, gid] of expect) {
      const st = statSync(path.join(hostRoot, rel));
      assert.equal(st.mode & 0o7777, mode, rel);
      assert.equal(st.uid, 0, rel);
      assert.equal(st.gid, gid, rel);
    }
    assert.deepEqual(await checkDrift(ts.app), []);
  });

  test("getent and id see the right uid, gid, groups, home and shell", async () => {
    const a = acct.alice;
    const r = await inHostNs(hostRoot, "getent passwd alice; echo ---; getent group devs; echo ---; id alice; echo ---; getent passwd root; getent shadow carol");
    assert.equal(r.code, 0, r.stderr);
    const [pw, gr, id, rest] = r.stdout.split("---\n");
    assert.equal(pw.trim(), `alice:x:${a.uid}:${a.gid}:Alice Test:${path.join(mnt, "alice")}:/usr/bin/bash`);
    assert.equal(gr.trim(), `devs:x:${devsGid}:alice`);
    assert.match(id, new RegExp(`^uid=${a.uid}\\(alice\\) gid=${a.gid}\\(alice\\) groups=`));
    const groups = /groups=(.*)$/m
      .exec(id)![1]
      .split(",")
      .map((g) => g.replace(/^\d+\((.*)\)$/, "$1"))
      .sort();
    assert.deepEqual(groups, ["alice", "builtin_users", "devs"].sort());
    assert.match(rest, /^root:x:0:0:/m);
    assert.match(rest, /^carol:\*:/m);
    // dave: not an SMB user, so not in builtin_users
    const d = await inHostNs(hostRoot, "id -Gn dave");
    assert.equal(d.stdout.trim(), "dave");
  });

  test("su accepts the right password, refuses a wrong one, a locked and a password-disabled account", async () => {
    const ok = await suAs("alice", PW.alice);
    assert.equal(ok.code, 0, ok.stdout);
    assert.match(ok.stdout, /^alice\s*$/m);
    const wrong = await suAs("alice", "not-the-password");
    assert.notEqual(wrong.code, 0);
    assert.match(wrong.stdout, /Authentication failure/i);
    const locked = await suAs("bob", PW.bob);
    assert.notEqual(locked.code, 0, locked.stdout);
    assert.doesNotMatch(locked.stdout, /^bob\s*$/m);
    const disabled = await suAs("carol", "");
    assert.notEqual(disabled.code, 0, disabled.stdout);
    assert.doesNotMatch(disabled.stdout, /^carol\s*$/m);
  });

  test("visudo accepts the sudoers file; sudo -l -U lists exactly the commands given", async () => {
    const v = await run("visudo", ["-cf", path.join(hostRoot, "etc/sudoers.d/gatehouse")]);
    assert.equal(v.code, 0, v.stdout + v.stderr);
    const list = async (u: string) => {
      const r = await inHostNs(hostRoot, `sudo -l -U ${u}`);
      const lines = r.stdout.split("\n");
      const at = lines.findIndex((l) => /may run the following commands/.test(l));
      if (at < 0) return { text: r.stdout, rules: null as string[] | null };
      return {
        text: r.stdout,
        rules: lines
          .slice(at + 1)
          .map((l) => l.trim())
          .filter(Boolean)
          .sort(),
      };
    };
    const alice = await list("alice");
    assert.deepEqual(
      alice.rules,
      [
        "(ALL) /usr/bin/id", // group devs
        "(ALL) /usr/bin/ls, /usr/bin/echo a\\,b",
        "(ALL) NOPASSWD: /usr/bin/true",
        "(ALL) NOPASSWD: /usr/bin/whoami", // group devs
      ].sort(),
      alice.text,
    );
    const dave = await list("dave");
    assert.equal(dave.rules, null);
    assert.match(dave.text, /is not allowed to run sudo/);
    // changed through the API: the file follows
    await admin.call("user.update", acct.dave.id, { sudo_commands_nopasswd: ["ALL"] });
    await settle();
    assert.deepEqual((await list("dave")).rules, ["(ALL) NOPASSWD: ALL"]);
    await admin.call("user.update", acct.dave.id, { sudo_commands_nopasswd: [] });
    await settle();
  });

  describe("a throwaway sshd with the generated sshd_config.d snippet", () => {
    let sshd: ChildProcess | null = null;
    let port = 0;
    let log = "";

    before(async () => {
      const dir = path.join(work, "sshd");
      mkdirSync(dir, { recursive: true });
      spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", path.join(dir, "host_ed25519")]);
      port = await freePort();
      writeFileSync(
        path.join(dir, "sshd_config"),
        [
          `Include ${hostRoot}/etc/ssh/sshd_config.d/*.conf`,
          `Port ${port}`,
          "ListenAddress 127.0.0.1",
          `HostKey ${dir}/host_ed25519`,
          `PidFile ${dir}/sshd.pid`,
          "AuthorizedKeysFile .ssh/authorized_keys",
          "UsePAM no",
          "StrictModes no",
          "PermitRootLogin no",
          "PubkeyAuthentication yes",
          "PasswordAuthentication yes",
          "KbdInteractiveAuthentication no",
          "LogLevel VERBOSE",
          "",
        ].join("\n"),
      );
      mkdirSync("/run/sshd", { recursive: true, mode: 0o755 });
      const t = spawnSync("/usr/sbin/sshd", ["-t", "-f", path.join(dir, "sshd_config")], { encoding: "utf8" });
      assert.equal(t.status, 0, t.stderr);
      sshd = spawn("bash", [NS_SCRIPT, hostRoot, "/usr/sbin/sshd", "-D", "-e", "-f", path.join(dir, "sshd_config")], { stdio: ["ignore", "pipe", "pipe"], detached: true });
      sshd.stdout!.on("data", (d) => (log += d));
      sshd.stderr!.on("data", (d) => (log += d));
      await waitFor(() => portOpen(port), `sshd on port ${port}`, 10_000);
    });

    after(() => stopChild(sshd));

    const common = ["-p", "", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=10"];
    const opts = () => common.map((x) => (x === "" ? String(port) : x));
    const withKey = (u: string) =>
      run("ssh", [...opts(), "-i", path.join(work, `key_${u}`), "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-o", "PasswordAuthentication=no", `${u}@127.0.0.1`, "id", "-un"]);
    const withPassword = (u: string, pw: string) =>
      run(
        "/usr/bin/python3",
        [
          PTY_SCRIPT,
          "ssh",
          ...opts(),
          "-o",
          "PubkeyAuthentication=no",
          "-o",
          "PreferredAuthentications=password,keyboard-interactive",
          "-o",
          "NumberOfPasswordPrompts=1",
          `${u}@127.0.0.1`,
          "id",
          "-un",
        ],
        { env: { ...process.env, PTY_PASSWORD: pw, PTY_TIMEOUT: "15" } },
      );

    test("key login lets a user in (also a password-disabled one)", async () => {
      const a = await withKey("alice");
      assert.equal(a.code, 0, a.stderr + log);
      assert.equal(a.stdout.trim(), "alice");
      const c = await withKey("carol");
      assert.equal(c.code, 0, c.stderr + log);
      assert.equal(c.stdout.trim(), "carol");
    });

    test("a locked user is refused, with a key too", async () => {
      const b = await withKey("bob");
      assert.notEqual(b.code, 0);
      assert.match(b.stderr, /Permission denied/);
      assert.notEqual((await withPassword("bob", PW.bob)).code, 0);
    });

    test("password login works only where ssh_password_enabled and a password exist", async () => {
      const a = await withPassword("alice", PW.alice);
      assert.equal(a.code, 0, a.stdout + log);
      assert.match(a.stdout, /^alice\s*$/m);
      const wrong = await withPassword("alice", "wrong-password");
      assert.notEqual(wrong.code, 0);
      // ssh_password_enabled=false: sshd does not even offer password authentication
      const d = await withPassword("dave", PW.dave);
      assert.notEqual(d.code, 0, d.stdout);
      assert.match(d.stdout, /Permission denied \(publickey\)/);
      // dave's key still works
      assert.equal((await withKey("dave")).stdout.trim(), "dave");
      const c = await withPassword("carol", "anything");
      assert.notEqual(c.code, 0);
    });
  });

  describe("a throwaway smbd with the generated smbpasswd", () => {
    let smbd: ChildProcess | null = null;
    let port = 0;
    let dir = "";
    let log = "";

    before(async () => {
      dir = path.join(work, "smb");
      for (const d of ["lock", "state", "cache", "private", "run", "ncalrpc", "share"]) mkdirSync(path.join(dir, d), { recursive: true });
      chmodSync(path.join(dir, "share"), 0o777);
      port = await freePort();
      writeFileSync(
        path.join(dir, "smb.conf"),
        `[global]
  netbios name = GHTEST
  workgroup = GHTEST
  server role = standalone server
  security = user
  passdb backend = smbpasswd:${hostRoot}/etc/samba/smbpasswd
  smb ports = ${port}
  interfaces = 127.0.0.1
  bind interfaces only = yes
  disable netbios = yes
  lock directory = ${dir}/lock
  state directory = ${dir}/state
  cache directory = ${dir}/cache
  private dir = ${dir}/private
  pid directory = ${dir}/run
  ncalrpc dir = ${dir}/ncalrpc
  log file = ${dir}/log.%m
  load printers = no
  printing = bsd
  printcap name = /dev/null
  disable spoolss = yes
  map to guest = never
[share]
  path = ${dir}/share
  read only = no
`,
      );
      writeFileSync(path.join(dir, "client.conf"), "[global]\n  client min protocol = SMB2\n");
      smbd = spawn("smbd", ["--foreground", "--no-process-group", "--debug-stdout", "-d", "1", "-s", path.join(dir, "smb.conf")], {
        env: {
          ...process.env,
          LD_PRELOAD: NSS_WRAPPER,
          NSS_WRAPPER_PASSWD: path.join(hostRoot, "etc/passwd"),
          NSS_WRAPPER_GROUP: path.join(hostRoot, "etc/group"),
        },
        stdio: ["ignore", "pipe", "pipe"],
        // smbd signals its whole process group when it stops: give it its own.
        detached: true,
      });
      smbd.stdout!.on("data", (d) => (log += d));
      smbd.stderr!.on("data", (d) => (log += d));
      await waitFor(() => portOpen(port), `smbd on port ${port}`, 15_000);
    });

    after(() => stopChild(smbd));

    const ls = (u: string, pw: string) => run("smbclient", [`//127.0.0.1/share`, "-p", String(port), "-s", path.join(dir, "client.conf"), "-U", `${u}%${pw}`, "-c", "ls"]);

    test("an SMB user lists the share with their password; wrong password, locked and smb=false users are refused", async () => {
      const ok = await ls("alice", PW.alice);
      assert.equal(ok.code, 0, ok.stdout + ok.stderr + log);
      assert.match(ok.stdout, /blocks of size/);
      const wrong = await ls("alice", "wrong-password");
      assert.notEqual(wrong.code, 0);
      assert.match(wrong.stdout + wrong.stderr, /NT_STATUS_LOGON_FAILURE/);
      const locked = await ls("bob", PW.bob);
      assert.notEqual(locked.code, 0);
      assert.match(locked.stdout + locked.stderr, /NT_STATUS_ACCOUNT_DISABLED/);
      const noSmb = await ls("dave", PW.dave);
      assert.notEqual(noSmb.code, 0);
      assert.match(noSmb.stdout + noSmb.stderr, /NT_STATUS_LOGON_FAILURE/);
    });

    test("a password change made through the API reaches smbd", async () => {
      await admin.call("user.update", acct.alice.id, { password: PW.alice2 });
      await settle();
      const neu = await ls("alice", PW.alice2);
      assert.equal(neu.code, 0, neu.stdout + neu.stderr + log);
      const old = await ls("alice", PW.alice);
      assert.notEqual(old.code, 0);
      assert.match(old.stdout + old.stderr, /NT_STATUS_LOGON_FAILURE/);
      // and su follows the same change
      assert.equal((await suAs("alice", PW.alice2)).code, 0);
      assert.notEqual((await suAs("alice", PW.alice)).code, 0);
    });
  });

  test("locking and unlocking through the API", async () => {
    await admin.call("user.update", acct.dave.id, { locked: true });
    await settle();
    assert.match(readFileSync(path.join(hostRoot, "etc/shadow"), "utf8"), /^dave:!\$6\$[^:]*:\d+:\d+:\d+:7::1:$/m);
    assert.notEqual((await suAs("dave", PW.dave)).code, 0);
    await admin.call("user.update", acct.dave.id, { locked: false });
    await settle();
    const r = await suAs("dave", PW.dave);
    assert.equal(r.code, 0, r.stdout);
  });

  test("a home created through the API: owner, mode, skeleton, authorized_keys; a move carries the contents", async () => {
    const a = acct.alice;
    const st = statSync(a.home);
    assert.equal(a.home, path.join(mnt, "alice"));
    assert.equal(st.uid, a.uid);
    assert.equal(st.gid, a.gid);
    assert.equal(st.mode & 0o777, 0o700);
    assert.equal(readFileSync(path.join(a.home, ".profile"), "utf8"), "# skeleton profile\n");
    assert.equal(statSync(path.join(a.home, ".profile")).uid, a.uid);
    const ak = path.join(a.home, ".ssh/authorized_keys");
    assert.equal(readFileSync(ak, "utf8"), `${keys.alice}\n`);
    assert.equal(statSync(ak).mode & 0o777, 0o600);
    assert.equal(statSync(path.dirname(ak)).mode & 0o777, 0o700);
    assert.equal(statSync(ak).uid, a.uid);

    // dave's home moves to the second storage root and keeps what was in it
    const d = acct.dave;
    writeFileSync(path.join(d.home, "notes.txt"), "dave's notes\n");
    chmodSync(path.join(d.home, "notes.txt"), 0o640);
    spawnSync("chown", [`${d.uid}:${d.gid}`, path.join(d.home, "notes.txt")]);
    await admin.call("user.update", d.id, { home: mnt2, home_create: true });
    const newHome = path.join(mnt2, "dave");
    await waitFor(() => existsSync(path.join(newHome, "notes.txt")), "the home copy job", 20_000);
    await ts.app.jobs.drain();
    await settle();
    assert.equal(readFileSync(path.join(newHome, "notes.txt"), "utf8"), "dave's notes\n");
    assert.equal(statSync(path.join(newHome, "notes.txt")).uid, d.uid);
    assert.equal(statSync(newHome).uid, d.uid);
    assert.equal(readFileSync(path.join(newHome, ".ssh/authorized_keys"), "utf8"), `${keys.dave}\n`);
    const pw = await inHostNs(hostRoot, "getent passwd dave");
    assert.equal(pw.stdout.trim().split(":")[5], newHome);
    assert.deepEqual(await checkDrift(ts.app), []);
  });
});
