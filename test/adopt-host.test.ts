// `gatehouse adopt --host-root DIR` against a real Debian host root: this machine's own /etc
// account files copied into a temporary root, plus generated users with $y$ (yescrypt), $6$ and
// $5$ hashes, a `!`-locked one, an expired one, one without a password, a group with members and
// a gshadow administrator (kept, written back and exported). After the adoption the generated files are bind-mounted over /etc in a
// private mount namespace (scripts/provision-ns.sh, as test/provision-host.test.ts does) and the
// host's own `su`, through a pty, is asked to log in with the adopted passwords. The machine's
// own files are never changed. Needs root, util-linux (unshare, setpriv), login (su), python3.

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { appendFileSync, chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { PTY_SCRIPT, REPO, inHostNs, requireTools, type Run } from "./provision-helpers.js";
import { GATEHOUSE_ARGS } from "./gatehouse-command.js";

const require = createRequire(import.meta.url);
const native = require(path.join(REPO, "native/build/Release/gatehouse_crypt.node")) as { crypt(password: string, setting: string): Promise<string> };

const PW = { alice: "Alice-adopted-1", bob: "Bob-adopted-22", carol: "Carol-adopted-333", erin: "Erin-adopted-4", fred: "Fred-adopted-5" };
const DAY = 86_400_000;

function cli(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [...GATEHOUSE_ARGS, ...args], {
    cwd: REPO,
    encoding: "utf8",
    env: { ...process.env, GATEHOUSE_HASH_ROUNDS: "1000" },
    timeout: 120_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("gatehouse adopt: a real Debian host root, then su with an adopted password", { timeout: 300_000 }, () => {
  let work: string;
  let hostRoot: string;
  let dataDir: string;
  let mnt: string;
  let adopted: { users: number; groups: number; memberships: number; backup: string; refused: boolean; errors: unknown[] };
  const hashes: Record<string, string> = {};

  const suAs = (target: string, password: string): Promise<Run> =>
    inHostNs(hostRoot, `exec setpriv --reuid=65534 --regid=65534 --clear-groups -- /usr/bin/python3 ${PTY_SCRIPT} su -c 'id -un' ${target}`, {
      env: { ...process.env, PTY_PASSWORD: password, PTY_TIMEOUT: "15" },
    });

  before(async () => {
    if (process.getuid?.() !== 0) throw new Error("the adopt suite must run as root (mount namespaces, su)");
    requireTools(["unshare", "setpriv", "su", "getent", "/usr/bin/python3"]);
    work = mkdtempSync(path.join(os.tmpdir(), "gh-adopt-"));
    chmodSync(work, 0o755);
    hostRoot = path.join(work, "root");
    dataDir = path.join(work, "data");
    mnt = path.join(work, "mnt");
    mkdirSync(path.join(hostRoot, "etc/sudoers.d"), { recursive: true });
    mkdirSync(mnt);
    // the machine's own account files, as a host to adopt
    for (const f of ["passwd", "shadow", "group", "gshadow", "shells"]) {
      if (existsSync(`/etc/${f}`)) copyFileSync(`/etc/${f}`, path.join(hostRoot, "etc", f));
    }
    hashes.alice = await native.crypt(PW.alice, "$y$j9T$AbCdEfGhIjKlMnOpQrStU.");
    hashes.bob = await native.crypt(PW.bob, "$y$j9T$ZyXwVuTsRqPoNmLkJiHgF.");
    hashes.carol = await native.crypt(PW.carol, "$y$j9T$QwErTyUiOpAsDfGhJkLzX.");
    hashes.erin = await native.crypt(PW.erin, "$6$rounds=5000$erinsaltsalt$");
    hashes.fred = await native.crypt(PW.fred, "$5$fredsaltsalt$");
    assert.match(hashes.alice, /^\$y\$/, "libxcrypt makes yescrypt hashes");
    const today = Math.floor(Date.now() / DAY);
    const users: [string, number, string][] = [
      ["h7alice", 3001, hashes.alice],
      ["h7bob", 3002, `!${hashes.bob}`], // usermod -L
      ["h7carol", 3003, hashes.carol], // expired below
      ["h7dave", 3004, "*"],
      ["h7erin", 3005, hashes.erin],
      ["h7fred", 3006, hashes.fred],
    ];
    for (const [name, uid, hash] of users) {
      appendFileSync(path.join(hostRoot, "etc/passwd"), `${name}:x:${uid}:${uid}:${name} Adopted,,,:/home/${name}:/bin/bash\n`);
      const expire = name === "h7carol" ? "1" : "";
      appendFileSync(path.join(hostRoot, "etc/shadow"), `${name}:${hash}:${today - 10}:0:99999:7::${expire}:\n`);
      appendFileSync(path.join(hostRoot, "etc/group"), `${name}:x:${uid}:\n`);
      appendFileSync(path.join(hostRoot, "etc/gshadow"), `${name}:!::\n`);
    }
    appendFileSync(path.join(hostRoot, "etc/group"), "h7team:x:3100:h7alice,h7bob\n");
    appendFileSync(path.join(hostRoot, "etc/gshadow"), "h7team:!:h7alice:h7alice,h7bob,h7erin\n");
  });

  after(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  test("a dry run reports and writes nothing; the adoption keeps hashes, ids and memberships and backs up the originals", () => {
    const passwdBefore = readFileSync(path.join(hostRoot, "etc/passwd"), "utf8");
    const dry = cli(["adopt", "--host-root", hostRoot, "--data-dir", dataDir, "--storage-root", mnt, "--dry-run", "--json"]);
    assert.equal(dry.status, 0, dry.stderr);
    const d = JSON.parse(dry.stdout);
    assert.equal(d.refused, false, JSON.stringify(d.errors));
    assert.ok(d.users >= 6);
    assert.equal(readFileSync(path.join(hostRoot, "etc/passwd"), "utf8"), passwdBefore, "a dry run leaves the host files");

    const r = cli(["adopt", "--host-root", hostRoot, "--data-dir", dataDir, "--storage-root", mnt, "--json"]);
    assert.equal(r.status, 0, r.stderr);
    adopted = JSON.parse(r.stdout);
    assert.equal(adopted.refused, false);
    assert.equal(adopted.users, d.users);
    // the originals, byte for byte, in a private backup
    assert.equal(statSync(adopted.backup).mode & 0o777, 0o700);
    assert.deepEqual(readdirSync(adopted.backup).sort(), ["group", "gshadow", "passwd", "shadow"]);
    assert.equal(readFileSync(path.join(adopted.backup, "passwd"), "utf8"), passwdBefore);
    assert.equal(statSync(path.join(adopted.backup, "shadow")).mode & 0o777, 0o600);
    // the rewritten host files: same ids, same hashes
    const passwd = readFileSync(path.join(hostRoot, "etc/passwd"), "utf8");
    const shadow = readFileSync(path.join(hostRoot, "etc/shadow"), "utf8");
    assert.match(passwd, /^h7alice:x:3001:3001:h7alice Adopted:\/home\/h7alice:\/bin\/bash$/m);
    assert.ok(shadow.includes(`h7alice:${hashes.alice}:`), "$y$ hash kept");
    assert.ok(shadow.includes(`h7erin:${hashes.erin}:`), "$6$ hash kept");
    assert.ok(shadow.includes(`h7fred:${hashes.fred}:`), "$5$ hash kept");
    assert.match(shadow, new RegExp(`^h7bob:!${hashes.bob.replaceAll("$", "\\$")}:`, "m"), "the locked account stays locked");
    assert.match(shadow, /^h7carol:!\$y\$/m, "the expired account is locked, not alive again");
    assert.match(shadow, /^h7dave:\*:/m, "no password stays no password");
    assert.match(readFileSync(path.join(hostRoot, "etc/group"), "utf8"), /^h7team:x:3100:h7alice,h7bob,h7erin$/m);
    // gshadow's group administrator is kept (groups.admins) and written back, and exported by name
    assert.match(readFileSync(path.join(hostRoot, "etc/gshadow"), "utf8"), /^h7team:!:h7alice:h7alice,h7bob,h7erin$/m);
    const exp = cli(["export", "--host-root", hostRoot, "--data-dir", dataDir, "--storage-root", mnt]);
    assert.equal(exp.status, 0, exp.stderr);
    const team = (JSON.parse(exp.stdout) as { groups: { name: string; admins: string[] }[] }).groups.find((g) => g.name === "h7team");
    assert.deepEqual(team?.admins, ["h7alice"], "the export names the group's administrator");
    // the machine's own system accounts are still there
    for (const sys of ["root", "daemon", "nobody"]) assert.match(passwd, new RegExp(`^${sys}:`, "m"));
  });

  test("su through a pty: the adopted yescrypt, SHA-512 and SHA-256 passwords work; locked, expired and password-less accounts do not", async () => {
    assert.ok(adopted, "adopted");
    const alice = await suAs("h7alice", PW.alice);
    assert.match(alice.stdout, /^h7alice\s*$/m, `su h7alice: ${alice.stdout} ${alice.stderr}`);
    assert.match((await suAs("h7erin", PW.erin)).stdout, /^h7erin\s*$/m);
    assert.match((await suAs("h7fred", PW.fred)).stdout, /^h7fred\s*$/m);
    assert.doesNotMatch((await suAs("h7alice", "wrong password")).stdout, /^h7alice\s*$/m);
    assert.doesNotMatch((await suAs("h7bob", PW.bob)).stdout, /^h7bob\s*$/m, "locked");
    assert.doesNotMatch((await suAs("h7carol", PW.carol)).stdout, /^h7carol\s*$/m, "expired");
    const id = await inHostNs(hostRoot, "id -Gn h7alice; getent group h7team");
    assert.match(id.stdout, /h7team/);
    assert.match(id.stdout, /^h7team:x:3100:/m);
  });

  test("a second adoption into a store that is no longer only built-ins is refused", () => {
    const r = cli(["adopt", "--host-root", hostRoot, "--data-dir", dataDir, "--storage-root", mnt, "--json"]);
    assert.equal(r.status, 1);
    const out = JSON.parse(r.stdout);
    assert.equal(out.refused, true);
    assert.equal(out.errors[0].code, "adopt.store_not_empty");
  });

  test("NIS + lines and duplicate ids are reported and nothing is adopted", () => {
    const root2 = path.join(work, "root2");
    mkdirSync(path.join(root2, "etc"), { recursive: true });
    for (const f of ["passwd", "shadow", "group", "gshadow", "shells"])
      if (existsSync(path.join(hostRoot, "etc", f))) copyFileSync(path.join(adopted.backup, f === "shells" ? "passwd" : f), path.join(root2, "etc", f));
    copyFileSync(path.join(hostRoot, "etc/shells"), path.join(root2, "etc/shells"));
    appendFileSync(path.join(root2, "etc/passwd"), "h7twin:x:3001:3001::/home/h7twin:/bin/bash\n+::::::\n");

    const before = readFileSync(path.join(root2, "etc/passwd"), "utf8");
    const data2 = path.join(work, "data2");
    const r = cli(["adopt", "--host-root", root2, "--data-dir", data2, "--storage-root", mnt, "--json"]);
    assert.equal(r.status, 1, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.equal(out.refused, true);
    assert.equal(out.users, 0);
    const msgs = out.errors.map((e: { line: number; field: string; message: string }) => `${e.line} ${e.field} ${e.message}`).join("\n");
    assert.match(msgs, /uid Id 3001 is used twice/);
    assert.match(msgs, /NIS compat entries/);
    assert.equal(readFileSync(path.join(root2, "etc/passwd"), "utf8"), before, "the refused host's files are untouched");
    assert.ok(!existsSync(path.join(data2, "adopt-backup")), "no backup: nothing was done");
  });

  test("a gshadow administrator that names no account is reported, not dropped, and nothing is adopted", () => {
    const root3 = path.join(work, "root3");
    mkdirSync(path.join(root3, "etc"), { recursive: true });
    for (const f of ["passwd", "shadow", "group", "gshadow"]) copyFileSync(path.join(adopted.backup, f), path.join(root3, "etc", f));
    copyFileSync(path.join(hostRoot, "etc/shells"), path.join(root3, "etc/shells"));
    appendFileSync(path.join(root3, "etc/group"), "h7ghost:x:3200:\n");
    appendFileSync(path.join(root3, "etc/gshadow"), "h7ghost:!:h7nobody:\n");
    const r = cli(["adopt", "--host-root", root3, "--data-dir", path.join(work, "data3"), "--storage-root", mnt, "--dry-run", "--json"]);
    assert.equal(r.status, 1, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.equal(out.refused, true);
    assert.deepEqual(
      out.errors.map((e: { name: string; field: string; message: string }) => [e.name, e.field, e.message]),
      [["h7ghost", "admins", "No account is named h7nobody."]],
    );
  });
});
