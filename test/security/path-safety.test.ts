// Threat: root following a user's link (issue 9 point 5; docs/security/path-safety.md).
//
// A home belongs to its user, who can swap any name in it — `.ssh`, `authorized_keys`, a file or
// a directory being copied — for a symlink to something outside the storage roots, or for a FIFO,
// at any moment. Every root operation on homes must land in the user's own tree or refuse, and
// never hang. Canaries outside the roots (a directory, a file in it) must show no read and no
// write: same listing, bytes, mode, owner, and atime/mtime/ctime (the canary file's atime is set
// before its mtime, so with relatime any read through a link would move it).
//
// Two kinds of test, against a real server (SQLite: the store plays no part here):
// - deterministic: a test-only hook (safe-fs `__testHooks.afterResolve`) runs between each
//   resolve and each use, where the test swaps exactly then; run with openat2 and with the
//   per-component openat fallback;
// - random: a real attacker process running as the user's uid (path-safety-attacker.cjs) swaps
//   directories, files, symlinks and FIFOs in a loop (renameat2 RENAME_EXCHANGE and
//   rename + symlink) during 200 attempts of each operation (edit home mode / owner, write SSH
//   keys, move the home, delete the user).

import { after, afterEach, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  chmodSync,
  closeSync,
  constants as C,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  readSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
  chownSync,
} from "node:fs";
import { spawn, spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import os from "node:os";
import path from "node:path";
import { rpcError, startServer, uniq, type TestServer } from "../harness.js";
import type { RpcClient } from "../../src/cli/client.js";
import { __testHooks, forceOpenatFallback, resolverInUse } from "../../src/accounts/safe-fs.js";

const ED25519 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJbxHqzvWNqA6oCUnxOoGT42PFoIANCNobasCPWRdh0e path-safety";
const ED25519_B = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOk4lVUvFB2bp8vZlK2xGzGc0S3Ta6bhWZcX8l3ZPrP0 path-safety-b";
const ATTACKER = fileURLToPath(new URL("./path-safety-attacker.cjs", import.meta.url));
const ADDON = fileURLToPath(new URL("../../native/build/Release/gatehouse_fsat.node", import.meta.url));
const CANARY_BYTES = "CANARY-SECRET: root must never read or write this through a user's link\n";
const ATTEMPTS = 200;
const CALL_TIMEOUT_MS = 15_000;

let ts: TestServer;
let admin: RpcClient;
let base: string;
let mnt: string;
let mnt2: string;
let canaryDir: string;
let canaryFile: string;

// ---------------------------------------------------------------------------------------------
// canaries

interface Snap {
  [p: string]: unknown;
}

/** Read without touching atime (O_NOATIME: we are root), so the check does not disturb itself. */
function readNoAtime(p: string): string {
  const fd = openSync(p, C.O_RDONLY | C.O_NOFOLLOW | (C.O_NOATIME ?? 0));
  try {
    const buf = Buffer.alloc(statSync(p).size);
    readSync(fd, buf, 0, buf.length, 0);
    return buf.toString();
  } finally {
    closeSync(fd);
  }
}

function canaryState(): Snap {
  const snap: Snap = { listing: readdirSync(canaryDir).sort() };
  for (const p of [canaryDir, canaryFile, path.join(canaryDir, "keep")]) {
    const st = lstatSync(p, { bigint: true });
    snap[p] = {
      mode: st.mode,
      uid: st.uid,
      gid: st.gid,
      size: st.size,
      nlink: st.nlink,
      atime: st.atimeNs,
      mtime: st.mtimeNs,
      ctime: st.ctimeNs,
      bytes: st.isFile() ? readNoAtime(p) : null,
    };
  }
  return snap;
}

let canaryBefore: Snap;

function assertCanariesUntouched(what: string): void {
  assert.deepEqual(canaryState(), canaryBefore, `${what}: the canaries outside the storage roots were read or written`);
}

/** No regular file under `dir` holds the canary's bytes (a copy through a link would). Links are not followed. */
function assertNoCanaryCopies(dir: string): void {
  if (!existsSync(dir)) return;
  for (const name of readdirSync(dir)) {
    const p = path.join(dir, name);
    const st = lstatSync(p);
    if (st.isDirectory()) assertNoCanaryCopies(p);
    else if (st.isFile()) assert.ok(!readFileSync(p, "utf8").includes("CANARY-SECRET"), `${p} holds a copy of the canary file`);
  }
}

// ---------------------------------------------------------------------------------------------
// helpers

function withTimeout<T>(p: Promise<T>, what: string, ms = CALL_TIMEOUT_MS): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<T>((_, rej) => {
      timer = setTimeout(() => rej(new Error(`${what} hung for ${ms} ms`)), ms);
    }),
  ]);
}

/** Call; a refusal (error) is an acceptable outcome, a hang is not. Returns whether it succeeded. */
async function attempt(p: Promise<unknown>, what: string): Promise<boolean> {
  try {
    await withTimeout(p, what);
    return true;
  } catch (e) {
    if ((e as Error).message.includes("hung for")) throw e;
    return false;
  }
}

async function newUser(extra: Record<string, unknown> = {}): Promise<any> {
  return admin.call<any>("user.create", {
    username: uniq("ps"),
    full_name: "Path Safety",
    password_disabled: true,
    group_create: true,
    smb: false,
    home: mnt,
    home_create: true,
    ...extra,
  });
}

/** The copy jobs of user.update moves, waited for; a job that does not finish fails the test. */
async function waitForCopyJobs(what: string): Promise<void> {
  const jobs = ts.app.jobs.all().filter((j) => j.method === "user.do_home_copy");
  await withTimeout(Promise.all(jobs.map((j) => j.done)), `${what}: home copy job`);
  for (const j of jobs) assert.notEqual(j.state, "RUNNING");
}

/** Set the hook for one swap at (op, path matching `match`); it fires once. */
function swapAt(op: string, match: (p: string) => boolean, swap: () => void): { fired: () => boolean } {
  let fired = false;
  __testHooks.afterResolve = (o, p) => {
    if (fired || o !== op || !match(p)) return;
    fired = true;
    swap();
  };
  return { fired: () => fired };
}

/** Replace `p` with a symlink to `target`, keeping the real entry at `p.real` (returned). */
function replaceWithLink(p: string, target: string): string {
  const aside = `${p}.real-${Math.random().toString(16).slice(2, 8)}`;
  renameSync(p, aside);
  symlinkSync(target, p);
  return aside;
}

function mkfifo(p: string): void {
  const r = spawnSync("mkfifo", [p]);
  assert.equal(r.status, 0, `mkfifo ${p}: ${r.stderr}`);
}

// ---------------------------------------------------------------------------------------------

before(async () => {
  assert.equal(process.getuid?.(), 0, "path-safety tests run as root (they give files away and spawn the attacker as the user)");
  base = realpathSync(mkdtempSync(path.join(os.tmpdir(), "gh-path-safety-")));
  chmodSync(base, 0o755);
  mnt = path.join(base, "mnt");
  mnt2 = path.join(base, "mnt2");
  canaryDir = path.join(base, "canary");
  canaryFile = path.join(canaryDir, "secret");
  for (const d of [mnt, mnt2, canaryDir]) mkdirSync(d, { mode: 0o755 });
  writeFileSync(canaryFile, CANARY_BYTES, { mode: 0o644 });
  writeFileSync(path.join(canaryDir, "keep"), "keep\n", { mode: 0o644 });
  // atime before mtime: with relatime, the next read of the file moves its atime. Prove it.
  utimesSync(canaryFile, 1_000_000, 2_000_000);
  readFileSync(canaryFile);
  assert.notEqual(statSync(canaryFile).atimeMs, 1_000_000_000, "reads move the canary's atime on this filesystem");
  utimesSync(canaryFile, 1_000_000, 2_000_000);
  canaryBefore = canaryState();
  ts = await startServer({ config: { storageRoots: [mnt, mnt2] } });
  admin = await ts.adminClient();
});

after(async () => {
  __testHooks.afterResolve = null;
  __testHooks.addonMissing = false;
  forceOpenatFallback(false);
  await ts?.stop();
  if (base) rmSync(base, { recursive: true, force: true });
});

afterEach(() => {
  __testHooks.afterResolve = null;
  __testHooks.addonMissing = false;
});

for (const resolver of ["openat2", "openat"] as const) {
  describe(`swaps between resolve and use (${resolver})`, () => {
    before(() => {
      forceOpenatFallback(resolver === "openat");
      assert.equal(resolverInUse(), resolver);
    });
    after(() => forceOpenatFallback(false));

    test("a home replaced by a symlink to a directory outside the root is not chmod-ed or chown-ed", async () => {
      const u = await newUser();
      // The link in place before the call: the home is not opened through it; the call refuses.
      const real = replaceWithLink(u.home, canaryDir);
      const e = await rpcError(admin.call("user.update", u.id, { home_mode: "751" }));
      assert.equal(e.errorCode, "home.symlink_refused", e.message);
      rmSync(u.home);
      renameSync(real, u.home);
      // Swapped right after the home was opened: chmod/chown go to the directory that was opened.
      let aside = "";
      const hook = swapAt(
        "home.chmod",
        (p) => p === u.home,
        () => {
          aside = replaceWithLink(u.home, canaryDir);
        },
      );
      await admin.call("user.update", u.id, { home_mode: "750" });
      assert.ok(hook.fired());
      assert.equal(statSync(aside).mode & 0o777, 0o750);
      rmSync(u.home);
      renameSync(aside, u.home);
      assertCanariesUntouched("home chmod");
    });

    test(".ssh replaced by a symlink to a directory outside the root gets no authorized_keys", async () => {
      const u = await newUser({ sshpubkey: ED25519 });
      const ssh = path.join(u.home, ".ssh");
      // Planted before the call: refused, nothing written through it.
      const real = replaceWithLink(ssh, canaryDir);
      const e = await rpcError(admin.call("user.update", u.id, { sshpubkey: ED25519_B }));
      assert.equal(e.errorCode, "provision.ssh_dir_not_directory", e.message);
      rmSync(ssh);
      renameSync(real, ssh);
      // Swapped after .ssh was opened: the keys land in the .ssh that was opened.
      let aside = "";
      const hook = swapAt(
        "keys.write",
        (p) => p === ssh,
        () => {
          aside = replaceWithLink(ssh, canaryDir);
        },
      );
      await admin.call("user.update", u.id, { sshpubkey: ED25519 });
      assert.ok(hook.fired());
      assert.equal(readFileSync(path.join(aside, "authorized_keys"), "utf8"), `${ED25519}\n`);
      assertCanariesUntouched(".ssh swap");
    });

    test("authorized_keys replaced by a symlink to a file outside the root is replaced, not written through", async () => {
      const u = await newUser({ sshpubkey: ED25519 });
      const file = path.join(u.home, ".ssh", "authorized_keys");
      rmSync(file);
      symlinkSync(canaryFile, file);
      await admin.call("user.update", u.id, { sshpubkey: ED25519_B });
      assert.ok(lstatSync(file).isFile());
      // And swapped between the check of the old file and the rename of the new one.
      swapAt(
        "keys.replace",
        (p) => p === path.dirname(file),
        () => {
          rmSync(file);
          symlinkSync(canaryFile, file);
        },
      );
      await admin.call("user.update", u.id, { sshpubkey: ED25519 });
      assert.equal(readFileSync(file, "utf8"), `${ED25519}\n`);
      assert.ok(lstatSync(file).isFile());
      assertCanariesUntouched("authorized_keys link");
    });

    test("authorized_keys replaced by a FIFO does not hang the keys writer", async () => {
      const u = await newUser({ sshpubkey: ED25519 });
      const file = path.join(u.home, ".ssh", "authorized_keys");
      rmSync(file);
      mkfifo(file);
      await withTimeout(admin.call("user.update", u.id, { sshpubkey: ED25519_B }), "keys write over a FIFO");
      assert.ok(lstatSync(file).isFile());
      assert.equal(readFileSync(file, "utf8"), `${ED25519_B}\n`);
    });

    test("a file swapped for a symlink to /etc/shadow-like canary between scan and copy is not read on a move", async () => {
      const u = await newUser();
      writeFileSync(path.join(u.home, "notes.txt"), "notes\n");
      writeFileSync(path.join(u.home, "later.txt"), "later\n");
      const hook = swapAt(
        "copy.entry",
        (p) => p === path.join(u.home, "notes.txt"),
        () => {
          rmSync(path.join(u.home, "notes.txt"));
          symlinkSync(canaryFile, path.join(u.home, "notes.txt"));
        },
      );
      await admin.call("user.update", u.id, { home: mnt2, home_create: true });
      await waitForCopyJobs("move");
      assert.ok(hook.fired());
      const to = path.join(mnt2, u.username);
      assert.equal(readFileSync(path.join(to, "later.txt"), "utf8"), "later\n");
      assert.equal(existsSync(path.join(to, "notes.txt")) && lstatSync(path.join(to, "notes.txt")).isFile(), false);
      assertNoCanaryCopies(to);
      assertCanariesUntouched("file swapped for a link during a move");
    });

    test("a file swapped for a FIFO between scan and copy does not hang the move", async () => {
      const u = await newUser();
      writeFileSync(path.join(u.home, "notes.txt"), "notes\n");
      const hook = swapAt(
        "copy.entry",
        (p) => p === path.join(u.home, "notes.txt"),
        () => {
          rmSync(path.join(u.home, "notes.txt"));
          mkfifo(path.join(u.home, "notes.txt"));
        },
      );
      await admin.call("user.update", u.id, { home: mnt2, home_create: true });
      await waitForCopyJobs("move over a FIFO");
      assert.ok(hook.fired());
      const job = ts.app.jobs
        .all()
        .filter((j) => j.method === "user.do_home_copy")
        .at(-1)!;
      assert.equal(job.state, "SUCCESS", job.error ?? "");
      assert.equal(existsSync(path.join(mnt2, u.username, "notes.txt")), false);
    });

    test("a directory swapped for a symlink to a directory outside the root is not descended on a move", async () => {
      const u = await newUser();
      mkdirSync(path.join(u.home, "sub"));
      writeFileSync(path.join(u.home, "sub", "inner.txt"), "inner\n");
      const hook = swapAt(
        "copy.entry",
        (p) => p === path.join(u.home, "sub"),
        () => {
          replaceWithLink(path.join(u.home, "sub"), canaryDir);
        },
      );
      await admin.call("user.update", u.id, { home: mnt2, home_create: true });
      await waitForCopyJobs("move");
      assert.ok(hook.fired());
      const to = path.join(mnt2, u.username);
      assert.equal(existsSync(path.join(to, "sub", "keep")), false);
      assertNoCanaryCopies(to);
      assertCanariesUntouched("directory swapped for a link during a move");
    });

    test("symlinks in a moved home are copied as links, never followed; planted destination links are replaced", async () => {
      const u = await newUser();
      symlinkSync(canaryFile, path.join(u.home, "shadow-link"));
      writeFileSync(path.join(u.home, "notes.txt"), "mine\n");
      // The destination exists already, with a link planted where a file will go.
      const to = path.join(mnt2, u.username);
      mkdirSync(to);
      chownSync(to, u.uid, u.group.bsdgrp_gid);
      symlinkSync(canaryFile, path.join(to, "notes.txt"));
      await admin.call("user.update", u.id, { home: to });
      await waitForCopyJobs("move");
      assert.equal(readlinkSync(path.join(to, "shadow-link")), canaryFile);
      assert.ok(lstatSync(path.join(to, "notes.txt")).isFile());
      assert.equal(readFileSync(path.join(to, "notes.txt"), "utf8"), "mine\n");
      assertNoCanaryCopies(to);
      assertCanariesUntouched("links in a moved home");
    });

    test(".ssh replaced by a symlink to a directory outside the root is not emptied when the user is deleted", async () => {
      const u = await newUser({ sshpubkey: ED25519 });
      const ssh = path.join(u.home, ".ssh");
      let aside = "";
      const hook = swapAt(
        "home.remove_ssh",
        (p) => p === u.home,
        () => {
          aside = replaceWithLink(ssh, canaryDir);
        },
      );
      await admin.call("user.delete", u.id);
      await ts.app.jobs.drain();
      assert.ok(hook.fired());
      assert.equal(existsSync(ssh), false, "the link itself is removed");
      assert.ok(existsSync(path.join(aside, "authorized_keys")), "the directory swapped away is not ours to remove");
      assertCanariesUntouched("delete");
    });

    test("a new home's parent swapped for a symlink after it was opened gets nothing outside the root", async () => {
      const parent = path.join(mnt, uniq("par"));
      mkdirSync(parent);
      let aside = "";
      const hook = swapAt(
        "home.create",
        (p) => path.dirname(p) === parent,
        () => {
          aside = replaceWithLink(parent, canaryDir);
        },
      );
      const u = await newUser({ home: parent, home_create: true });
      assert.ok(hook.fired());
      assert.ok(statSync(path.join(aside, u.username)).isDirectory(), "the home is made in the directory that was opened");
      assertCanariesUntouched("home create");
    });

    test("filesystem.mkdir in a parent swapped for a symlink after it was opened makes nothing outside the root", async () => {
      const parent = path.join(mnt, uniq("mk"));
      mkdirSync(parent);
      let aside = "";
      const hook = swapAt(
        "filesystem.mkdir",
        (p) => path.dirname(p) === parent,
        () => {
          aside = replaceWithLink(parent, canaryDir);
        },
      );
      // The call may answer that the directory is gone from the path it named (it now leads
      // elsewhere); either way the directory is made in the parent that was opened, with its mode.
      await attempt(admin.call("filesystem.mkdir", { path: path.join(parent, "made"), options: { mode: "750" } }), "mkdir");
      assert.ok(hook.fired());
      assert.equal(statSync(path.join(aside, "made")).mode & 0o7777, 0o750);
      assertCanariesUntouched("mkdir");
    });

    test("filesystem.listdir of a directory swapped for a symlink after it was opened lists nothing outside the root", async () => {
      const dir = path.join(mnt, uniq("ls"));
      mkdirSync(dir);
      writeFileSync(path.join(dir, "mine.txt"), "x");
      let aside = "";
      const hook = swapAt(
        "filesystem.listdir",
        (p) => p === dir,
        () => {
          aside = replaceWithLink(dir, canaryDir);
        },
      );
      const rows = await admin.call<any[]>("filesystem.listdir", dir);
      assert.ok(hook.fired());
      assert.deepEqual(
        rows.map((r) => r.name),
        ["mine.txt"],
      );
      assert.ok(existsSync(aside));
      assertCanariesUntouched("listdir");
    });
  });
}

describe("refusals", () => {
  test("a home through a symlink below the storage root is refused, naming the home field", async () => {
    const link = path.join(mnt, uniq("lnk"));
    symlinkSync(mnt2, link);
    const e = await rpcError(newUser({ home: link, home_create: true }));
    assert.equal(e.extra[0][0], "user_create.home");
    assert.equal(e.codes[0], "home.symlink");
  });

  test("a home nested inside another user's home is refused, naming the home field", async () => {
    // Nested, a user could swap the other's home (or its parents) for links.
    const victim = await newUser();
    const sub = path.join(victim.home, "sub");
    mkdirSync(sub);
    const e = await rpcError(newUser({ home: sub }));
    assert.equal(e.extra[0][0], "user_create.home");
    assert.equal(e.codes[0], "home.taken");
    assert.match(e.extra[0][1], new RegExp(victim.username), "names the other user");
    const other = await newUser();
    const e2 = await rpcError(admin.call("user.update", other.id, { home: sub }));
    assert.equal(e2.extra[0][0], "user_update.home");
    // The other way round: a home that would contain another user's home.
    const holder = path.join(mnt, uniq("hold"));
    mkdirSync(holder);
    const inner = await newUser({ home: holder, home_create: true });
    const e3 = await rpcError(admin.call("user.update", other.id, { home: holder }));
    assert.equal(e3.extra[0][0], "user_update.home");
    assert.equal(e3.codes[0], "home.taken");
    assert.match(e3.extra[0][1], new RegExp(inner.username), "names the other user");
  });

  test("without the native addon, home operations refuse instead of falling back to path calls", async () => {
    const u = await newUser();
    __testHooks.addonMissing = true;
    const e = await rpcError(admin.call("user.update", u.id, { home_mode: "755" }));
    assert.equal(e.errorCode, "home.native_addon_missing", e.message);
    const name = uniq("nofs");
    const e2 = await rpcError(newUser({ username: name }));
    assert.equal(e2.errorCode, "home.native_addon_missing", e2.message);
    __testHooks.addonMissing = false;
    assert.equal(existsSync(path.join(mnt, name)), false);
    assert.equal((await admin.call<any[]>("user.query", [["username", "=", name]])).length, 0, "the create was rolled back");
  });

  test("a leftover temporary home of a dead process is removed at startup, nothing else", async () => {
    const dead = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"]).stdout.toString();
    const leftover = path.join(mnt, `.gatehouse-home.${dead}.0123456789ab`);
    const alive = path.join(mnt, `.gatehouse-home.${process.pid}.0123456789ab`);
    const lookalike = path.join(mnt, ".gatehouse-home.notes");
    for (const d of [leftover, alive, lookalike]) mkdirSync(d);
    const second = await startServer({ config: { storageRoots: [mnt, mnt2] } });
    try {
      assert.equal(existsSync(leftover), false);
      assert.ok(existsSync(alive) && existsSync(lookalike));
    } finally {
      await second.stop();
      for (const d of [alive, lookalike]) rmSync(d, { recursive: true, force: true });
    }
  });
});

// ---------------------------------------------------------------------------------------------
// random: a real attacker process running as the user

interface Attacker {
  stop(): Promise<{ iterations: number; exchanges: number; renames: number; errors: number; uid: number }>;
}

function startAttacker(uid: number, gid: number, homes: string[], seed: number): Attacker {
  const stopFile = path.join(base, `stop-${seed}`);
  const cfg = { addon: ADDON, homes, canaryFile, canaryDir, stopFile, seconds: 50, seed };
  const child = spawn(process.execPath, [ATTACKER, JSON.stringify(cfg)], { uid, gid, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stdout.on("data", (d) => (out += d));
  child.stderr.on("data", (d) => (err += d));
  const exited = new Promise<number | null>((res) => child.on("exit", (code) => res(code)));
  return {
    async stop() {
      writeFileSync(stopFile, "");
      const code = await withTimeout(exited, "attacker exit", 10_000);
      rmSync(stopFile, { force: true });
      assert.equal(code, 0, `attacker failed: ${err}`);
      return JSON.parse(out.trim().split("\n").at(-1)!);
    },
  };
}

/** The attacker really ran as the user and really swapped. */
function assertAttacked(counts: { iterations: number; exchanges: number; renames: number; uid: number }, what: string, uid: number): void {
  assert.equal(counts.uid, uid, `${what}: the attacker ran as the user`);
  console.log(`# ${what}: attacker ${JSON.stringify(counts)}`);
  assert.ok(counts.exchanges + counts.renames >= ATTEMPTS, `${what}: the attacker swapped only ${counts.exchanges + counts.renames} times`);
}

/** Put the files the attacker swaps in place in a home (owned by the user). */
function seedHome(home: string, uid: number, gid: number): void {
  writeFileSync(path.join(home, "notes.txt"), "notes\n");
  mkdirSync(path.join(home, "sub"), { recursive: true });
  writeFileSync(path.join(home, "sub", "inner.txt"), "inner\n");
  for (const p of [path.join(home, "notes.txt"), path.join(home, "sub"), path.join(home, "sub", "inner.txt")]) chownSync(p, uid, gid);
}

describe(`a real attacker process swapping links, files, directories and FIFOs (${ATTEMPTS} attempts per operation)`, () => {
  test("editing a home's mode and owner never follows the user's links", async () => {
    const u = await newUser({ sshpubkey: ED25519 });
    const gid = u.group.bsdgrp_gid;
    const other = await admin.call<number>("group.create", { name: uniq("psg"), smb: false });
    seedHome(u.home, u.uid, gid);
    const attacker = startAttacker(u.uid, gid, [u.home], 1);
    const modes = ["700", "750", "755", "711"];
    let ok = 0;
    for (let i = 0; i < ATTEMPTS; i++) {
      const args = i % 2 ? { home_mode: modes[i % 4] } : { group: i % 4 ? u.group.id : other };
      if (await attempt(admin.call("user.update", u.id, args), "home mode/owner edit")) ok++;
    }
    assertAttacked(await attacker.stop(), "mode/owner", u.uid);
    assert.equal(ok, ATTEMPTS, "the user cannot swap their home itself: every edit applies");
    assertCanariesUntouched("mode/owner edits under attack");
  });

  test("writing SSH keys never follows the user's links and never hangs on a FIFO", async () => {
    const u = await newUser({ sshpubkey: ED25519 });
    const gid = u.group.bsdgrp_gid;
    seedHome(u.home, u.uid, gid);
    const attacker = startAttacker(u.uid, gid, [u.home], 2);
    let ok = 0;
    for (let i = 0; i < ATTEMPTS; i++) {
      if (await attempt(admin.call("user.update", u.id, { sshpubkey: [ED25519, ED25519_B, ""][i % 3] }), "keys write")) ok++;
    }
    assertAttacked(await attacker.stop(), "keys", u.uid);
    // Host provisioning writes the same file (the one writer): let it settle too.
    const { provisionerOf } = await import("../../src/provision/index.js");
    await withTimeout(provisionerOf(ts.app).whenIdle(), "provisioning");
    assert.ok(ok > 0, "some writes went through");
    assertCanariesUntouched("keys writes under attack");
  });

  test("moving a home never reads through the user's links and no copy job hangs", async () => {
    const u = await newUser();
    const gid = u.group.bsdgrp_gid;
    seedHome(u.home, u.uid, gid);
    const homes = [u.home, path.join(mnt2, u.username)];
    const attacker = startAttacker(u.uid, gid, homes, 3);
    for (let i = 0; i < ATTEMPTS; i++) {
      await attempt(admin.call("user.update", u.id, { home: i % 2 ? mnt : mnt2, home_create: true }), "home move");
      await waitForCopyJobs(`move ${i}`);
    }
    assertAttacked(await attacker.stop(), "move", u.uid);
    const failed = ts.app.jobs.all().filter((j) => j.method === "user.do_home_copy" && j.state === "FAILED");
    for (const j of failed) assert.doesNotMatch(j.error ?? "", /hung|timed out/);
    for (const h of homes) assertNoCanaryCopies(h);
    assertCanariesUntouched("moves under attack");
  });

  test("deleting a user never removes or writes anything through the user's links", async () => {
    const group = await admin.call<number>("group.create", { name: uniq("psd"), smb: false });
    const gid = (await admin.call<any>("group.get_instance", group)).gid;
    const first = await newUser({ group_create: false, group, sshpubkey: ED25519 });
    const uid = first.uid;
    const home = first.home;
    const username = first.username;
    seedHome(home, uid, gid);
    await admin.call("user.delete", first.id, { delete_group: false });
    const attacker = startAttacker(uid, gid, [home], 4);
    let created = 0;
    for (let i = 0; i < ATTEMPTS; i++) {
      let id: number | null = null;
      try {
        const u = await withTimeout(
          admin.call<any>("user.create", {
            username,
            full_name: "Path Safety",
            password_disabled: true,
            group_create: false,
            group,
            smb: false,
            uid,
            home,
            sshpubkey: ED25519,
          }),
          "create",
        );
        id = u.id;
        created++;
      } catch (e) {
        if ((e as Error).message.includes("hung for")) throw e;
      }
      if (id !== null) assert.ok(await attempt(admin.call("user.delete", id, { delete_group: false }), "delete"), "delete succeeds");
    }
    assertAttacked(await attacker.stop(), "delete", uid);
    assert.ok(created > 0, "some creates went through");
    assertCanariesUntouched("deletes under attack");
  });
});
