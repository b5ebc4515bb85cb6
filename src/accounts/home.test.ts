import { test, before, after, describe } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, mkdirSync, writeFileSync, symlinkSync, rmSync, statSync, lstatSync, readFileSync, readlinkSync, existsSync, readdirSync, utimesSync, chmodSync, chownSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { spawnSync } from "node:child_process";
import { pathToFileURL } from "node:url";
import { ValidationErrors, ERRNO, CallError } from "../server/errors.js";
import {
  NO_HOME,
  applyHomeMode,
  copyHome,
  createHome,
  parseHomeMode,
  readAuthorizedKeys,
  removeSshDir,
  validateHome,
  validateHomeMode,
  writeAuthorizedKeys,
  type HomeValidationInput,
} from "./home.js";

const isRoot = process.getuid?.() === 0;
const UID = 1234;
const GID = 2345;
const A = "user_create.home";

let tmp: string;
let mnt: string; // storage root
let mnt2: string; // second storage root

before(() => {
  tmp = mkdtempSync(path.join(tmpdir(), "gh-home-"));
  mnt = path.join(tmp, "mnt");
  mnt2 = path.join(tmp, "srv");
  mkdirSync(path.join(mnt, "tank/alice"), { recursive: true });
  mkdirSync(path.join(mnt, "tank/bob"), { recursive: true });
  mkdirSync(mnt2);
  mkdirSync(path.join(tmp, "other"));
  writeFileSync(path.join(mnt, "tank/file"), "x");
  symlinkSync(path.join(tmp, "other"), path.join(mnt, "tank/escape"));
  symlinkSync(mnt, path.join(mnt2, "to-mnt-root"));
});

after(() => rmSync(tmp, { recursive: true, force: true }));

async function validate(input: Partial<HomeValidationInput> & { home: string }) {
  const errors = new ValidationErrors();
  const home = await validateHome(errors, A, {
    username: "alice",
    storageRoots: [mnt],
    otherUserHomes: new Map([
      [path.join(mnt, "tank/bob") + "/", "bob"],
      [NO_HOME, "carl"],
    ]),
    ...input,
  });
  return { home, errors: errors.errors };
}

describe("home_mode", () => {
  test("parseHomeMode follows Python's int(value, 8) and the 0o777 bound", () => {
    assert.equal(parseHomeMode("700"), 0o700);
    assert.equal(parseHomeMode("0o755"), 0o755);
    assert.equal(parseHomeMode(" 7_55\n"), 0o755);
    assert.equal(parseHomeMode("+0"), 0);
    for (const bad of ["qqq", "", "800", "1000", "-1", "7__5", "_7", "0x1", "7 5", null, 700, undefined]) {
      assert.equal(parseHomeMode(bad), null, String(bad));
    }
  });

  test("validateHomeMode messages", () => {
    const attr = "user_create.home_mode";
    const check = (v: unknown) => {
      const errors = new ValidationErrors();
      const mode = validateHomeMode(errors, attr, v);
      return { mode, errors: errors.errors };
    };
    assert.deepEqual(check("700"), { mode: 0o700, errors: [] });
    assert.deepEqual(check("500"), { mode: 0o500, errors: [] });
    assert.deepEqual(check("qqq"), { mode: null, errors: [[attr, "Please provide a valid value for home_mode attribute", ERRNO.EINVAL]] });
    assert.deepEqual(check("600"), { mode: null, errors: [[attr, "Home directory must be executable by User.", ERRNO.EINVAL]] });
    assert.deepEqual(check("300"), { mode: null, errors: [[attr, "Home directory must be readable by User.", ERRNO.EINVAL]] });
    assert.deepEqual(check("777"), { mode: null, errors: [[attr, "Home directory may not be writable by others.", ERRNO.EINVAL]] });
    assert.deepEqual(check("772"), { mode: null, errors: [[attr, "Home directory may not be writable by others.", ERRNO.EINVAL]] });
    assert.deepEqual(check("775"), { mode: 0o775, errors: [] });
    assert.deepEqual(check("077"), {
      mode: null,
      errors: [
        [attr, "Home directory must be readable by User.", ERRNO.EINVAL],
        [attr, "Home directory must be executable by User.", ERRNO.EINVAL],
        [attr, "Home directory may not be writable by others.", ERRNO.EINVAL],
      ],
    });
  });
});

describe("validateHome", () => {
  test("/var/empty means no home and skips every check", async () => {
    assert.deepEqual(await validate({ home: "/var/empty" }), { home: NO_HOME, errors: [] });
    assert.deepEqual(await validate({ home: "/var/empty/", homeCreate: true, storageRoots: [] }), { home: NO_HOME, errors: [] });
  });

  test("path shape errors", async () => {
    assert.deepEqual((await validate({ home: "tank/alice" })).errors, [[A, '"Home Directory" must be an absolute path.', ERRNO.EINVAL]]);
    assert.deepEqual((await validate({ home: "" })).errors, [[A, '"Home Directory" must be an absolute path.', ERRNO.EINVAL]]);
    assert.deepEqual((await validate({ home: `${mnt}/tank/a\nb` })).errors, [[A, '"Home Directory" cannot contain control characters.', ERRNO.EINVAL]]);
    assert.deepEqual((await validate({ home: `${mnt}/tank/a\0b` })).errors, [[A, '"Home Directory" cannot contain control characters.', ERRNO.EINVAL]]);
    assert.deepEqual((await validate({ home: `${mnt}/tank/file` })).errors, [[A, '"Home Directory" cannot be a file.', ERRNO.EINVAL]]);
    assert.deepEqual((await validate({ home: `${mnt}/tank/file`, homeCreate: true })).errors, [[A, '"Home Directory" cannot be a file.', ERRNO.EINVAL]]);
    assert.deepEqual((await validate({ home: `${mnt}/tank/a:b`, homeCreate: true })).errors, [[A, '"Home Directory" cannot contain colons (:).', ERRNO.EINVAL]]);
  });

  test("an existing directory is used as the home itself", async () => {
    assert.deepEqual(await validate({ home: `${mnt}/tank/alice` }), { home: `${mnt}/tank/alice`, errors: [] });
    assert.deepEqual(await validate({ home: `${mnt}/tank//alice/` }), { home: `${mnt}/tank/alice`, errors: [] });
    // Without home_create the name does not matter.
    assert.deepEqual(await validate({ home: `${mnt}/tank`, username: "zed" }), { home: `${mnt}/tank`, errors: [] });
  });

  test("missing directories", async () => {
    assert.deepEqual((await validate({ home: `${mnt}/tank/nobody` })).errors, [[A, `${mnt}/tank/nobody: path specified to use as home directory does not exist.`, ERRNO.EINVAL]]);
    assert.deepEqual((await validate({ home: `${mnt}/nope/x` })).errors, [
      [A, `${mnt}/nope/x: path specified to use as home directory does not exist.`, ERRNO.EINVAL],
      [A, `${mnt}/nope: parent path of specified home directory does not exist.`, ERRNO.EINVAL],
    ]);
    assert.deepEqual((await validate({ home: `${mnt}/nope`, homeCreate: true, username: "carol" })).errors, [
      [
        A,
        `${mnt}/nope: path specified to use for home directory creation does not exist. Gatehouse uses the ` + "provided path as the parent directory of the newly-created home directory.",
        ERRNO.EINVAL,
      ],
    ]);
    // Ends with the username: that is the home, so only its parent must exist.
    assert.deepEqual((await validate({ home: `${mnt}/nope/carol`, homeCreate: true, username: "carol" })).errors, [
      [A, `${mnt}/nope: parent path of specified home directory does not exist.`, ERRNO.EINVAL],
    ]);
  });

  test("seed 001: home_create appends the username unless the path already ends with it", async () => {
    assert.deepEqual(await validate({ home: `${mnt}/tank`, homeCreate: true, username: "carol" }), { home: `${mnt}/tank/carol`, errors: [] });
    assert.deepEqual(await validate({ home: `${mnt}/tank/`, homeCreate: true, username: "carol" }), { home: `${mnt}/tank/carol`, errors: [] });
    assert.deepEqual(await validate({ home: `${mnt}/tank/carol`, homeCreate: true, username: "carol" }), { home: `${mnt}/tank/carol`, errors: [] });
    assert.deepEqual(await validate({ home: `${mnt}/tank/alice`, homeCreate: true }), { home: `${mnt}/tank/alice`, errors: [] });
    // A storage root itself is fine as the parent.
    assert.deepEqual(await validate({ home: mnt, homeCreate: true, username: "carol" }), { home: `${mnt}/carol`, errors: [] });
    // Something that is not a directory already sits where the home would be created.
    assert.deepEqual((await validate({ home: `${mnt}/tank`, homeCreate: true, username: "file" })).errors, [[A, "Path for home directory already exists and is not a directory", ERRNO.EEXIST]]);
    // An invalid username is never joined into a path (its own field reports it).
    assert.deepEqual(await validate({ home: `${mnt}/tank`, homeCreate: true, username: "../../etc" }), { home: `${mnt}/tank`, errors: [] });
  });

  test("another user's home is rejected", async () => {
    assert.deepEqual((await validate({ home: `${mnt}/tank/bob` })).errors, [[A, `${mnt}/tank/bob: homedir already used by bob.`, ERRNO.EEXIST]]);
    assert.deepEqual((await validate({ home: `${mnt}/tank/bob`, homeCreate: true })).errors, [[A, `${mnt}/tank/bob: homedir already used by bob.`, ERRNO.EEXIST]]);
    assert.deepEqual((await validate({ home: `${mnt}/tank`, homeCreate: true, username: "bob" })).errors, [[A, `${mnt}/tank/bob: homedir already used by bob.`, ERRNO.EEXIST]]);
  });

  test("homes must be inside a storage root and not a root", async () => {
    const outside = `"Home Directory" must be inside a storage root (${mnt}, ${mnt2}) or set to /var/empty.`;
    const roots = [mnt + "/", mnt2];
    assert.deepEqual((await validate({ home: `${tmp}/other`, storageRoots: roots })).errors, [[A, outside, ERRNO.EINVAL]]);
    assert.deepEqual((await validate({ home: `${mnt}/../other`, storageRoots: roots })).errors, [[A, outside, ERRNO.EINVAL]]);
    // A symlink inside a root that leads out of every root.
    assert.deepEqual((await validate({ home: `${mnt}/tank/escape`, storageRoots: roots })).errors, [[A, outside, ERRNO.EINVAL]]);
    assert.deepEqual((await validate({ home: `${mnt}/tank/escape`, homeCreate: true, storageRoots: roots })).errors, [[A, outside, ERRNO.EINVAL]]);
    assert.deepEqual((await validate({ home: mnt, storageRoots: roots })).errors, [[A, `"Home Directory" cannot be at root of "${mnt}"`, ERRNO.EINVAL]]);
    assert.deepEqual((await validate({ home: `${mnt2}/to-mnt-root`, storageRoots: roots })).errors, [[A, `"Home Directory" cannot be at root of "${mnt}"`, ERRNO.EINVAL]]);
    // A home reached through a symlink below a root is refused, even one that stays inside the
    // roots: root never follows a link below a storage root (docs/security/path-safety.md).
    assert.deepEqual((await validate({ home: `${mnt2}/to-mnt-root/tank/alice`, storageRoots: roots })).errors, [
      [A, `"Home Directory" must not pass through a symbolic link (${mnt2}/to-mnt-root).`, ERRNO.EINVAL],
    ]);
    assert.deepEqual((await validate({ home: `${mnt}/tank/alice`, storageRoots: roots })).errors, []);
    assert.deepEqual((await validate({ home: `${mnt}/tank/alice`, storageRoots: [] })).errors, [[A, '"Home Directory" must be set to /var/empty: no storage roots are configured.', ERRNO.EINVAL]]);
  });

  test("errors accumulate like upstream's", async () => {
    assert.deepEqual(
      (await validate({ home: "/nonexistent/x" })).errors.map((e) => e[1]),
      [
        "/nonexistent/x: path specified to use as home directory does not exist.",
        "/nonexistent: parent path of specified home directory does not exist.",
        `"Home Directory" must be inside a storage root (${mnt}) or set to /var/empty.`,
      ],
    );
  });

  test("immutable directories are rejected", async (t) => {
    const frozen = path.join(mnt, "tank/frozen");
    mkdirSync(frozen);
    if (spawnSync("chattr", ["+i", frozen]).status !== 0) {
      t.skip("chattr +i not possible here");
      return;
    }
    try {
      assert.deepEqual((await validate({ home: frozen })).errors, [[A, `${frozen}: home directory path is immutable.`, ERRNO.EINVAL]]);
      assert.deepEqual((await validate({ home: frozen, homeCreate: true, username: "carol" })).errors, [[A, `${frozen}: home directory path is immutable.`, ERRNO.EINVAL]]);
    } finally {
      spawnSync("chattr", ["-i", frozen]);
    }
  });

  test("read-only filesystems are rejected", async (t) => {
    // Needs a private mount namespace to mount a read-only tmpfs.
    const ro = path.join(mnt, "ro");
    mkdirSync(ro);
    const script = path.join(tmp, "ro-check.mts");
    const homeModule = pathToFileURL(path.resolve(import.meta.dirname, "home.ts")).href;
    const errorsModule = pathToFileURL(path.resolve(import.meta.dirname, "../server/errors.ts")).href;
    writeFileSync(
      script,
      `import { validateHome } from ${JSON.stringify(homeModule)};
       import { ValidationErrors } from ${JSON.stringify(errorsModule)};
       const out = [];
       for (const [home, homeCreate] of [[${JSON.stringify(ro)}, false], [${JSON.stringify(ro)}, true]]) {
         const errors = new ValidationErrors();
         await validateHome(errors, "a", { home, homeCreate, username: "carol", storageRoots: [${JSON.stringify(mnt)}], otherUserHomes: new Map() });
         out.push(errors.errors);
       }
       console.log(JSON.stringify(out));`,
    );
    const probe = spawnSync("unshare", ["-m", "true"]);
    if (probe.status !== 0) {
      t.skip("no mount namespaces here");
      return;
    }
    const res = spawnSync("unshare", ["-m", "sh", "-c", `mount -t tmpfs -o ro tmpfs "$1" && exec "$2" --import tsx "$3"`, "sh", ro, process.execPath, script], {
      encoding: "utf8",
      cwd: process.cwd(),
    });
    assert.equal(res.status, 0, res.stderr);
    assert.deepEqual(JSON.parse(res.stdout), [[["a", "Path is on a read-only filesystem.", ERRNO.EINVAL]], [["a", "Path is on a read-only filesystem.", ERRNO.EINVAL]]]);
  });
});

describe("filesystem operations", { skip: !isRoot && "needs root to give files away" }, () => {
  const mode = (p: string) => lstatSync(p).mode & 0o7777;
  const owner = (p: string) => [lstatSync(p).uid, lstatSync(p).gid];
  /** createHome then commit; whether the call made the directory. */
  const made = async (home: string, opts: Parameters<typeof createHome>[1]) => {
    const h = await createHome(home, opts);
    assert.equal(await h.commit(), true);
    return h.created;
  };

  test("createHome creates the directory, owner, mode and skeleton", async () => {
    const skel = path.join(tmp, "skel");
    mkdirSync(path.join(skel, ".config"), { recursive: true, mode: 0o700 });
    chmodSync(path.join(skel, ".config"), 0o700);
    writeFileSync(path.join(skel, ".profile"), "profile\n", { mode: 0o644 });
    writeFileSync(path.join(skel, ".bashrc"), "bashrc\n", { mode: 0o600 });
    writeFileSync(path.join(skel, "dot.cshrc"), "cshrc\n", { mode: 0o640 });
    writeFileSync(path.join(skel, ".config/app.conf"), "conf\n", { mode: 0o600 });
    symlinkSync(".profile", path.join(skel, ".link"));

    const home = path.join(mnt, "tank/carol");
    // Made under a temporary name, renamed into place by commit().
    const pending = await createHome(home, { uid: UID, gid: GID, mode: "750", skelDir: skel });
    assert.equal(pending.created, true);
    assert.equal(existsSync(home), false);
    assert.equal(readdirSync(path.join(mnt, "tank")).filter((n) => n.startsWith(".gatehouse-home.")).length, 1);
    assert.equal(await pending.commit(), true);
    assert.equal(mode(home), 0o750);
    assert.deepEqual(owner(home), [UID, GID]);
    assert.deepEqual(readdirSync(home).sort(), [".bashrc", ".config", ".cshrc", ".link", ".profile"]);
    assert.equal(readFileSync(path.join(home, ".cshrc"), "utf8"), "cshrc\n");
    assert.equal(mode(path.join(home, ".profile")), 0o644);
    assert.equal(mode(path.join(home, ".bashrc")), 0o600);
    assert.equal(mode(path.join(home, ".cshrc")), 0o640);
    assert.equal(mode(path.join(home, ".config")), 0o700);
    assert.equal(readlinkSync(path.join(home, ".link")), ".profile");
    for (const name of [".bashrc", ".config", ".config/app.conf", ".cshrc", ".link", ".profile"]) {
      assert.deepEqual(owner(path.join(home, name)), [UID, GID], name);
    }

    // An existing directory is taken over; the user's files are not overwritten.
    writeFileSync(path.join(home, ".profile"), "mine\n");
    assert.equal(await made(home, { uid: UID + 1, gid: GID + 1, skelDir: skel }), false);
    assert.equal(readFileSync(path.join(home, ".profile"), "utf8"), "mine\n");
    assert.equal(mode(home), 0o700); // the default mode
    assert.deepEqual(owner(home), [UID + 1, GID + 1]);

    // Missing skeleton directory: just the home.
    const bare = path.join(mnt, "tank/dave");
    assert.equal(await made(bare, { uid: UID, gid: GID, skelDir: path.join(tmp, "no-skel") }), true);
    assert.deepEqual(readdirSync(bare), []);

    // discard() leaves nothing behind.
    const gone = await createHome(path.join(mnt, "tank/gone"), { uid: UID, gid: GID, skelDir: skel });
    await gone.discard();
    assert.equal(existsSync(path.join(mnt, "tank/gone")), false);
    assert.deepEqual(
      readdirSync(path.join(mnt, "tank")).filter((n) => n.startsWith(".gatehouse-home.")),
      [],
    );
  });

  test("createHome failures", async () => {
    await assert.rejects(createHome(path.join(mnt, "tank/file"), { uid: UID, gid: GID }), (e: unknown) => {
      assert.ok(e instanceof CallError);
      assert.equal(e.message, "Path for home directory already exists and is not a directory");
      assert.equal(e.errno, ERRNO.EEXIST);
      return true;
    });
    await assert.rejects(createHome(path.join(mnt, "nope/erin"), { uid: UID, gid: GID }), /parent path of the home directory does not exist/);
    await assert.rejects(createHome(path.join(mnt, "tank/erin"), { uid: UID, gid: GID, mode: "abc" }), /Invalid home directory mode/);
    assert.equal(existsSync(path.join(mnt, "tank/erin")), false);
  });

  test("applyHomeMode", async () => {
    const home = path.join(mnt, "tank/frank");
    mkdirSync(home);
    await applyHomeMode(home, "711", UID, GID);
    assert.equal(mode(home), 0o711);
    assert.deepEqual(owner(home), [UID, GID]);
    await applyHomeMode(home, 0o700);
    assert.equal(mode(home), 0o700);
    assert.deepEqual(owner(home), [UID, GID]);
  });

  test("copyHome copies contents with modes, owners and times, and reports progress", async () => {
    const from = path.join(mnt, "tank/old");
    mkdirSync(path.join(from, "docs/deep"), { recursive: true });
    mkdirSync(path.join(from, ".zfs/snapshot"), { recursive: true });
    writeFileSync(path.join(from, "notes.txt"), "hello", { mode: 0o600 });
    writeFileSync(path.join(from, "run.sh"), "#!/bin/sh\n", { mode: 0o755 });
    writeFileSync(path.join(from, "docs/deep/a.txt"), "a".repeat(100000));
    writeFileSync(path.join(from, "docs/root-owned"), "r");
    symlinkSync("notes.txt", path.join(from, "link"));
    spawnSync("mkfifo", [path.join(from, "fifo")]);
    chmodSync(path.join(from, "docs/deep"), 0o500); // read-only directory, filled before locking
    chmodSync(from, 0o750);
    for (const p of [from, "notes.txt", "run.sh", "docs", "docs/deep", "docs/deep/a.txt"].map((p) => path.resolve(from, p))) chownSync(p, UID, GID);
    utimesSync(path.join(from, "notes.txt"), new Date("2020-01-02T03:04:05Z"), new Date("2020-01-02T03:04:05Z"));

    // The destination already has conflicting things: a symlink planted where a file goes, and a
    // file where a directory goes. Neither may be written through.
    const to = path.join(mnt2, "new");
    mkdirSync(to);
    const outsideTarget = path.join(tmp, "other/victim");
    writeFileSync(outsideTarget, "untouched");
    symlinkSync(outsideTarget, path.join(to, "notes.txt"));
    writeFileSync(path.join(to, "docs"), "file in the way");

    const progress: [number, string][] = [];
    const result = await copyHome(from, to, { uid: UID, gid: GID, onProgress: (p, d) => progress.push([p, d]) });
    assert.deepEqual(result, { directories: 2, files: 4, symlinks: 1, bytes: 5 + 10 + 100000 + 1, skipped: 2 });

    assert.equal(readFileSync(outsideTarget, "utf8"), "untouched");
    assert.ok(lstatSync(path.join(to, "notes.txt")).isFile());
    assert.equal(readFileSync(path.join(to, "notes.txt"), "utf8"), "hello");
    assert.equal(readFileSync(path.join(to, "docs/deep/a.txt"), "utf8").length, 100000);
    assert.equal(readlinkSync(path.join(to, "link")), "notes.txt");
    assert.equal(existsSync(path.join(to, ".zfs")), false);
    assert.equal(existsSync(path.join(to, "fifo")), false);
    assert.equal(mode(to), 0o750); // the old home's mode
    assert.deepEqual(owner(to), [UID, GID]);
    assert.equal(mode(path.join(to, "notes.txt")), 0o600);
    assert.equal(mode(path.join(to, "run.sh")), 0o755);
    assert.equal(mode(path.join(to, "docs/deep")), 0o500);
    assert.deepEqual(owner(path.join(to, "docs/deep/a.txt")), [UID, GID]);
    assert.deepEqual(owner(path.join(to, "docs/root-owned")), [0, 0]);
    assert.equal(statSync(path.join(to, "notes.txt")).mtime.toISOString(), "2020-01-02T03:04:05.000Z");

    assert.deepEqual(progress[0], [0, `Scanning ${from}`]);
    assert.equal(progress.at(-1)![0], 100);
    for (let i = 1; i < progress.length; i++) assert.ok(progress[i][0] >= progress[i - 1][0]);

    // An explicit mode for the new home; a new home inside the old one is not copied into itself.
    const inner = path.join(from, "moved");
    mkdirSync(inner);
    await copyHome(from, inner, { uid: UID, gid: GID, mode: "700" });
    assert.equal(mode(inner), 0o700);
    assert.equal(existsSync(path.join(inner, "moved")), false);
    assert.equal(readFileSync(path.join(inner, "notes.txt"), "utf8"), "hello");

    await assert.rejects(copyHome(path.join(mnt, "tank/file"), to, { uid: UID, gid: GID }), /not a directory/);
  });

  test("writeAuthorizedKeys / readAuthorizedKeys / removeSshDir", async () => {
    const home = path.join(mnt, "tank/gina");
    mkdirSync(home);
    const keys = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJbxHqzvWNqA6oCUnxOoGT42PFoIANCNobasCPWRdh0e gina";
    const file = path.join(home, ".ssh/authorized_keys");

    assert.equal(await writeAuthorizedKeys(home, `\n${keys}\n\n`, UID, GID), true);
    assert.equal(readFileSync(file, "utf8"), keys + "\n");
    assert.equal(mode(path.join(home, ".ssh")), 0o700);
    assert.equal(mode(file), 0o600);
    assert.deepEqual(owner(path.join(home, ".ssh")), [UID, GID]);
    assert.deepEqual(owner(file), [UID, GID]);
    assert.equal(await readAuthorizedKeys(home), keys);

    // Replacing a planted symlink replaces the link, not its target.
    const victim = path.join(tmp, "other/authorized_victim");
    writeFileSync(victim, "keep");
    rmSync(file);
    symlinkSync(victim, file);
    await writeAuthorizedKeys(home, [keys, keys.replace("gina", "gina2")], UID, GID);
    assert.equal(readFileSync(victim, "utf8"), "keep");
    assert.ok(lstatSync(file).isFile());
    assert.equal(readFileSync(file, "utf8"), `${keys}\n${keys.replace("gina", "gina2")}\n`);
    assert.deepEqual(readdirSync(path.join(home, ".ssh")), ["authorized_keys"]); // no temp files left

    // Empty keys remove the file (twice is fine).
    assert.equal(await writeAuthorizedKeys(home, "  \n", UID, GID), true);
    assert.equal(existsSync(file), false);
    assert.equal(await writeAuthorizedKeys(home, null, UID, GID), true);
    assert.equal(await readAuthorizedKeys(home), null);

    // Undecodable content reads as null.
    writeFileSync(file, Buffer.from([0xff, 0xfe, 0x41]));
    assert.equal(await readAuthorizedKeys(home), null);
    // A planted symlink is not followed when reading either.
    rmSync(file);
    symlinkSync(victim, file);
    assert.equal(await readAuthorizedKeys(home), null);
    rmSync(file);

    // A .ssh that is a symlink is refused.
    const other = path.join(mnt, "tank/hank");
    mkdirSync(other);
    symlinkSync(path.join(tmp, "other"), path.join(other, ".ssh"));
    await assert.rejects(writeAuthorizedKeys(other, keys, UID, GID), (e: unknown) => e instanceof CallError && e.errno === ERRNO.ENOTDIR);
    assert.equal(existsSync(path.join(tmp, "other/authorized_keys")), false);
    writeFileSync(path.join(tmp, "other/authorized_keys"), "secret");
    assert.equal(await readAuthorizedKeys(other), null);
    rmSync(path.join(tmp, "other/authorized_keys"));

    // A home reached through a symlink is not followed: nothing is written or read through it.
    const viaLink = path.join(mnt, "tank/gina-link");
    symlinkSync(home, viaLink);
    assert.equal(await writeAuthorizedKeys(viaLink, "ssh-ed25519 AAAAother", UID, GID), false);
    assert.equal(existsSync(file), false);
    await writeAuthorizedKeys(home, keys, UID, GID);
    assert.equal(await readAuthorizedKeys(viaLink), null);
    assert.equal(await readAuthorizedKeys(home), keys);

    // No home directory: nothing to do.
    assert.equal(await writeAuthorizedKeys(path.join(mnt, "tank/none"), keys, UID, GID), false);
    assert.equal(await writeAuthorizedKeys(NO_HOME, keys, UID, GID), false);
    assert.equal(await readAuthorizedKeys(NO_HOME), null);

    // user.delete: .ssh goes, the home stays; missing .ssh is fine.
    await removeSshDir(home);
    assert.equal(existsSync(path.join(home, ".ssh")), false);
    assert.ok(existsSync(home));
    await removeSshDir(home);
    await removeSshDir(NO_HOME);
    // A symlinked .ssh is unlinked, its target kept.
    await removeSshDir(other);
    assert.equal(existsSync(path.join(other, ".ssh")), false);
    assert.ok(existsSync(path.join(tmp, "other")));
  });
});
