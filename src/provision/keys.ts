// `<home>/.ssh/authorized_keys` from the user's `sshpubkey`, for homes inside a storage root.
//
// A home belongs to its user, who may replace `.ssh` or the keys file with a symlink at any time.
// So the directories are opened with O_NOFOLLOW and everything below is addressed through
// `/proc/self/fd/<dir fd>/…`: root never writes, chowns or unlinks through a link the user made.

import { constants as C, type Stats } from "node:fs";
import { mkdir, open, readFile, realpath, unlink, type FileHandle } from "node:fs/promises";
import path from "node:path";
import { IS_ROOT, fsyncDir, lstatOrNull, replaceFile } from "./atomic.js";
import { authorizedKeys } from "./generate.js";
import type { ProvUser } from "./types.js";

export const NO_HOME = "/var/empty";

/** The storage root `home` lies strictly inside (by path), or null. */
export function storageRootOf(home: string, storageRoots: readonly string[]): string | null {
  if (!home.startsWith("/") || home === NO_HOME) return null;
  const h = path.posix.normalize(home).replace(/\/+$/, "");
  for (const r of storageRoots) {
    const root = path.posix.normalize(r).replace(/\/+$/, "");
    if (h !== root && h.startsWith(`${root}/`)) return root;
  }
  return null;
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
  const root = storageRootOf(u.home, storageRoots);
  if (root) return { dir: path.posix.normalize(u.home), within: root, mayRemove: true };
  if (authorizedKeys(u) === null || !u.home.startsWith("/") || path.posix.normalize(u.home) === NO_HOME) return null;
  return { dir: path.posix.join(hostRoot, u.home), within: hostRoot, mayRemove: false };
}

/** A real directory at `dir` (not a link), really inside `within`. */
async function homeDir(pl: KeysPlacement): Promise<string | null> {
  const st = await lstatOrNull(pl.dir);
  if (!st || !st.isDirectory()) return null;
  try {
    const [realHome, realWithin] = await Promise.all([realpath(pl.dir), realpath(pl.within)]);
    if (realWithin !== "/" && !realHome.startsWith(`${realWithin}/`)) return null;
  } catch {
    return null;
  }
  return pl.dir;
}

async function openDir(p: string): Promise<FileHandle | null> {
  try {
    return await open(p, C.O_RDONLY | C.O_DIRECTORY | C.O_NOFOLLOW);
  } catch {
    return null;
  }
}

const fdPath = (fh: FileHandle, name = "") => `/proc/self/fd/${fh.fd}${name ? `/${name}` : ""}`;

export type KeysOutcome = "none" | "same" | "written" | "removed" | "drift";

/**
 * Bring one user's authorized_keys in line with the store (or, with `checkOnly`, report whether
 * it is). `gid` is the user's primary gid; `pl` from keysPlacement (null: nothing to do).
 */
export async function syncAuthorizedKeys(u: ProvUser, gid: number, pl: KeysPlacement | null, checkOnly = false): Promise<KeysOutcome> {
  if (!pl) return "none";
  const home = await homeDir(pl);
  if (!home) return "none";
  const want = authorizedKeys(u);
  if (want === null && !pl.mayRemove) return "none";
  const hh = await openDir(home);
  if (!hh) return "none";
  try {
    const sshSt = await lstatOrNull(fdPath(hh, ".ssh"));
    if (sshSt && !sshSt.isDirectory()) return "none"; // a file or a link: leave it to the owner
    if (want === null) {
      if (!sshSt) return "none";
      const sh = await openDir(fdPath(hh, ".ssh"));
      if (!sh) return "none";
      try {
        const f = await lstatOrNull(fdPath(sh, "authorized_keys"));
        if (!f) return "none";
        if (checkOnly) return "drift";
        await unlink(fdPath(sh, "authorized_keys"));
        await fsyncDir(fdPath(sh));
        return "removed";
      } finally {
        await sh.close();
      }
    }
    if (!sshSt) {
      if (checkOnly) return "drift";
      await mkdir(fdPath(hh, ".ssh"), { mode: 0o700 });
    }
    const sh = await openDir(fdPath(hh, ".ssh"));
    if (!sh) return "none";
    try {
      const body = Buffer.from(want);
      let ok = await dirOk(sh, u.uid, gid);
      if (!ok && !checkOnly) {
        if (IS_ROOT) await sh.chown(u.uid, gid);
        await sh.chmod(0o700);
        ok = true;
      }
      const f = await lstatOrNull(fdPath(sh, "authorized_keys"));
      const same = !!f && f.isFile() && fileOk(f, u.uid, gid) && (await readFile(fdPath(sh, "authorized_keys")).then((b) => b.equals(body), () => false));
      if (same && ok) return "same";
      if (checkOnly) return "drift";
      if (!same) {
        await replaceFile(path.join(home, ".ssh", "authorized_keys"), [body], { uid: u.uid, gid, mode: 0o600 }, fdPath(sh));
        await fsyncDir(fdPath(sh));
      }
      return "written";
    } finally {
      await sh.close();
    }
  } finally {
    await hh.close();
  }
}

async function dirOk(sh: FileHandle, uid: number, gid: number): Promise<boolean> {
  const st = await sh.stat();
  return (st.mode & 0o7777) === 0o700 && (!IS_ROOT || (st.uid === uid && st.gid === gid));
}

function fileOk(st: Stats, uid: number, gid: number): boolean {
  return (st.mode & 0o7777) === 0o600 && (!IS_ROOT || (st.uid === uid && st.gid === gid));
}
