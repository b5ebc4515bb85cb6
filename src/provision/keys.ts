// `<home>/.ssh/authorized_keys`: the one writer of every user's keys file, used by the account
// services (user.create / user.update) and by host provisioning alike.
//
// A home belongs to its user, who may replace `.ssh` or the keys file with a symlink, a FIFO or
// another directory at any time. So the home is opened relative to a trusted base without
// following any link (src/accounts/safe-fs.ts), `.ssh` beneath it the same way, the file is
// written under a fresh O_EXCL name and renamed over `authorized_keys`, and every chown/chmod
// goes through an fd root opened itself: root never reads, writes, chowns or unlinks through a
// link the user made. Writers of the same home are serialised in this process.

import { closeSync, fchmodSync, fchownSync, fsyncSync, read, writeSync } from "node:fs";
import { randomBytes } from "node:crypto";
import path from "node:path";
import { IS_ROOT } from "./atomic.js";
import { authorizedKeys } from "./generate.js";
import type { ProvUser } from "./types.js";
import { CallError } from "../server/errors.js";
import { type SafeDir, afterResolve, errCode, isDir, isFile, locateHome, openHomeParent, type SafeStat } from "../accounts/safe-fs.js";
import { storageRootOf } from "../accounts/storage-root.js";

export const NO_HOME = "/var/empty";

/** The storage root `home` lies strictly inside (by path), or null. */
function homeStorageRoot(home: string, storageRoots: readonly string[]): string | null {
  if (!home.startsWith("/") || home === NO_HOME) return null;
  return storageRootOf(home, storageRoots);
}

/**
 * Where a user's keys live on this machine. Homes in a storage root are real paths; other homes
 * (root's `/root`, the administrator's `/home/admin`) belong to the provisioned host and are
 * resolved inside the host root, as the accounts service does. Outside the storage roots a file
 * is only ever written, never removed: the host's own system accounts keep whatever they have.
 */
export interface KeysPlacement {
  /** The home directory as a path on this machine. */
  dir: string;
  /** The real home must lie inside this directory. */
  within: string;
  mayRemove: boolean;
}

export function keysPlacement(u: ProvUser, storageRoots: readonly string[], hostRoot: string): KeysPlacement | null {
  const root = homeStorageRoot(u.home, storageRoots);
  if (root) return { dir: path.posix.normalize(u.home), within: root, mayRemove: true };
  if (authorizedKeys(u) === null || !u.home.startsWith("/") || path.posix.normalize(u.home) === NO_HOME) return null;
  return { dir: path.posix.join(hostRoot, u.home), within: hostRoot, mayRemove: false };
}

export type KeysOutcome = "none" | "same" | "written" | "removed" | "drift";

/** Errors that mean "the home (or .ssh) is not a real directory here": nothing to do. */
const NOT_A_DIR = new Set(["ENOENT", "ENOTDIR", "ELOOP", "EXDEV"]);

/**
 * Open a home directory (no link followed below its base, see locateHome), or null when it is
 * missing or not a real directory. The caller closes it.
 */
export function openHome(home: string, storageRoots: readonly string[]): SafeDir | null {
  const loc = locateHome(home, storageRoots);
  let parent: SafeDir;
  try {
    parent = openHomeParent(loc);
  } catch (e) {
    if (NOT_A_DIR.has(errCode(e) ?? "")) return null;
    throw e;
  }
  try {
    return parent.openDir(loc.name);
  } catch (e) {
    if (NOT_A_DIR.has(errCode(e) ?? "")) return null;
    throw e;
  } finally {
    parent.close();
  }
}

// One chain per home: the account services and provisioning never interleave on one file.
const chains = new Map<string, Promise<unknown>>();

/** Run `fn` alone among the writers of the keys of the home `key` (a normalised path). */
export function serialised<T>(key: string, fn: () => Promise<T>): Promise<T> {
  const prev = chains.get(key) ?? Promise.resolve();
  const run = prev.then(fn, fn);
  const tail = run.catch(() => undefined);
  chains.set(key, tail);
  void tail.then(() => {
    if (chains.get(key) === tail) chains.delete(key);
  });
  return run;
}

// The account services write a keys file the moment its key changes; host provisioning writes
// from a read of the store that may predate that change (a pass that began before the commit).
// Without an order between the two, a pass could put back a key user.update had just removed, and
// sshd would accept it until the next pass. So each account-service write is numbered, and a
// provisioning write prepared from a read taken before the last such write of its home is dropped:
// the service's file is the newer truth, and the pass that follows that change writes again.
let serviceWrites = 0;
const lastServiceWrite = new Map<string, number>();

/** Take before reading the store for a provisioning pass; give it back as `KeysWrite.readAt`. */
export function keysReadMark(): number {
  return serviceWrites;
}

export interface KeysWrite {
  /**
   * Host provisioning: keysReadMark() from before the pass read the store. Absent: an account
   * service writing a key that just changed.
   */
  readAt?: number;
  /** The file's wanted content, or null for "no keys" (the file is removed when `mayRemove`). */
  want: Buffer | null;
  uid: number;
  gid: number;
  mayRemove: boolean;
  /** Only report whether the file is as wanted ("same" / "drift"); change nothing. */
  checkOnly?: boolean;
  /** A `.ssh` that is not a real directory is an error (ENOTDIR) rather than "none". */
  strict?: boolean;
  /**
   * Write only a missing file: an existing `authorized_keys` (the user's own edits included) is
   * left as it is ("same"), and none is removed. Host provisioning's sweeps use this; a key
   * changed through Gatehouse is written in full.
   */
  createOnly?: boolean;
}

/**
 * Bring `<home>/.ssh/authorized_keys` in line with `w`, `home` being an open home directory
 * named `label` (for the lock, messages and the test hook). The one place that writes the file.
 */
export function writeKeysIn(home: SafeDir, label: string, w: KeysWrite): Promise<KeysOutcome> {
  return serialised(label, async () => {
    if (w.readAt !== undefined && (lastServiceWrite.get(label) ?? -1) > w.readAt && !w.checkOnly) return "none";
    const r = await keysIn(home, label, w);
    if (w.readAt === undefined && !w.checkOnly) lastServiceWrite.set(label, ++serviceWrites);
    return r;
  });
}

async function keysIn(home: SafeDir, label: string, w: KeysWrite): Promise<KeysOutcome> {
  const sshLabel = path.posix.join(label, ".ssh");
  const refuse = (): KeysOutcome => {
    if (w.strict) throw new CallError(`${sshLabel} is not a directory`, "provision.ssh_dir_not_directory");
    return "none";
  };
  const sshSt = home.lstat(".ssh");
  if (sshSt && !isDir(sshSt)) return refuse(); // a file or a link: leave it to the owner
  if (w.createOnly && w.want === null) return "none";
  if (w.want === null) {
    if (!sshSt || !w.mayRemove) return "none";
    const sh = openSsh(home);
    if (!sh) return refuse();
    try {
      if (!sh.lstat("authorized_keys")) return "none";
      if (w.checkOnly) return "drift";
      await afterResolve("keys.remove", sshLabel);
      try {
        sh.unlink("authorized_keys");
      } catch (e) {
        if (errCode(e) !== "ENOENT") throw e;
      }
      sh.sync();
      return "removed";
    } finally {
      sh.close();
    }
  }
  if (!sshSt) {
    if (w.checkOnly) return "drift";
    try {
      home.mkdir(".ssh", 0o700);
    } catch (e) {
      if (errCode(e) !== "EEXIST") throw e;
    }
  }
  const sh = openSsh(home);
  if (!sh) return refuse();
  try {
    if (w.createOnly && sh.lstat("authorized_keys")) return "same";
    await afterResolve("keys.write", sshLabel);
    let ok = dirOk(sh.stat(), w.uid, w.gid);
    if (!ok && !w.checkOnly) {
      if (IS_ROOT) sh.chown(w.uid, w.gid);
      sh.chmod(0o700);
      ok = true;
    }
    const same = await sameFile(sh, w.want, w.uid, w.gid);
    if (same && ok) return "same";
    if (w.checkOnly) return "drift";
    if (!same) {
      await afterResolve("keys.replace", sshLabel);
      replaceKeysFile(sh, w.want, w.uid, w.gid);
    }
    return "written";
  } finally {
    sh.close();
  }
}

function openSsh(home: SafeDir): SafeDir | null {
  try {
    return home.openDir(".ssh");
  } catch (e) {
    if (NOT_A_DIR.has(errCode(e) ?? "")) return null;
    throw e;
  }
}

/** The keys file is a regular file with the wanted owner, mode and bytes (read without following links). */
async function sameFile(sh: SafeDir, want: Buffer, uid: number, gid: number): Promise<boolean> {
  const f = sh.lstat("authorized_keys");
  if (!f || !isFile(f) || !fileOk(f, uid, gid) || f.size !== want.length) return false;
  let opened: { fd: number; st: SafeStat };
  try {
    opened = sh.openRead("authorized_keys");
  } catch {
    return false; // swapped meanwhile: rewrite it
  }
  try {
    if (!isFile(opened.st) || opened.st.ino !== f.ino || opened.st.size !== want.length) return false;
    const buf = Buffer.alloc(want.length);
    let off = 0;
    while (off < buf.length) {
      const n = await new Promise<number>((res, rej) => read(opened.fd, buf, off, buf.length - off, off, (e, b) => (e ? rej(e) : res(b))));
      if (n === 0) return false;
      off += n;
    }
    return buf.equals(want);
  } finally {
    closeSync(opened.fd);
  }
}

/** New content under a fresh O_EXCL name (owner and mode set on the fd), fsync, rename over the file. */
function replaceKeysFile(sh: SafeDir, body: Buffer, uid: number, gid: number): void {
  const tmp = `.authorized_keys.gh-${process.pid}-${randomBytes(4).toString("hex")}.tmp`;
  const fd = sh.createFile(tmp, 0o600);
  try {
    try {
      if (IS_ROOT) fchownSync(fd, uid, gid);
      fchmodSync(fd, 0o600);
      for (let off = 0; off < body.length; ) off += writeSync(fd, body, off);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    sh.rename(tmp, sh, "authorized_keys");
  } catch (e) {
    try {
      sh.unlink(tmp);
    } catch {
      // already renamed or gone
    }
    throw e;
  }
  sh.sync();
}

/**
 * Bring one user's authorized_keys in line with the store (or, with `checkOnly`, report whether
 * it is). `gid` is the user's primary gid; `pl` from keysPlacement (null: nothing to do).
 */
export async function syncAuthorizedKeys(u: ProvUser, gid: number, pl: KeysPlacement | null, checkOnly = false, createOnly = false, readAt?: number): Promise<KeysOutcome> {
  if (!pl) return "none";
  const want = authorizedKeys(u);
  if (want === null && !pl.mayRemove) return "none";
  const home = openHome(pl.dir, pl.mayRemove ? [pl.within] : []);
  if (!home) return "none";
  try {
    return await writeKeysIn(home, pl.dir, { want: want === null ? null : Buffer.from(want), uid: u.uid, gid, mayRemove: pl.mayRemove, checkOnly, createOnly, readAt });
  } finally {
    home.close();
  }
}

function dirOk(st: SafeStat, uid: number, gid: number): boolean {
  return (st.mode & 0o7777) === 0o700 && (!IS_ROOT || (st.uid === uid && st.gid === gid));
}

function fileOk(st: SafeStat, uid: number, gid: number): boolean {
  return (st.mode & 0o7777) === 0o600 && (!IS_ROOT || (st.uid === uid && st.gid === gid));
}
