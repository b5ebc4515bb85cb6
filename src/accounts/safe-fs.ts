// Root's file work inside storage roots, relative to directory file descriptors that were opened
// without following symlinks (docs/security/path-safety.md).
//
// A home belongs to its user, who can swap any name in it for a symlink, a FIFO or another
// directory at any moment — between our check and our use too. So nothing below a trusted base
// (a storage root, or the parent of a host home) is ever addressed by path: a `SafeDir` holds an
// fd, and every path below it is resolved by the kernel without following symlinks (openat2
// RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS, else one O_NOFOLLOW|O_DIRECTORY openat per component; see
// native/fsat.c). Single-name calls (mkdirat, unlinkat, renameat2, fchownat/utimensat with
// AT_SYMLINK_NOFOLLOW) never follow a final link. Data goes through Node's fs on the raw fds.
//
// Node has none of these calls, so the native addon is mandatory here: without it every home
// operation refuses (no silent fallback to path-based calls).

import { closeSync, constants as C, fchmodSync, fchownSync, fsyncSync, openSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import path from "node:path";
import { CallError } from "../server/errors.js";
import { normalizeDir, storageRootOf } from "./storage-root.js";

const posix = path.posix;

interface FsatAddon {
  openBeneath(dirfd: number, rel: string, flags: number, mode: number): number;
  mkdirat(dirfd: number, name: string, mode: number): void;
  unlinkat(dirfd: number, name: string, removeDir: boolean): void;
  renameat(olddirfd: number, oldname: string, newdirfd: number, newname: string, flags: number): void;
  symlinkat(target: string, dirfd: number, name: string): void;
  readlinkat(dirfd: number, name: string): string;
  lstatat(dirfd: number, name: string): number[];
  fstat(fd: number): number[];
  lchownat(dirfd: number, name: string, uid: number, gid: number): void;
  lutimesat(dirfd: number, name: string, as: number, ans: number, ms: number, mns: number): void;
  readdirfd(dirfd: number): string[];
  resolver(): "openat2" | "openat";
  forceFallback(on: boolean): void;
  O_PATH: number;
  O_DIRECTORY: number;
  O_NOFOLLOW: number;
  O_NONBLOCK: number;
  O_RDONLY: number;
  O_WRONLY: number;
  O_CREAT: number;
  O_EXCL: number;
  O_NOCTTY: number;
  RENAME_NOREPLACE: number;
  RENAME_EXCHANGE: number;
}

function loadAddon(): { addon: FsatAddon | null; error: string | null } {
  const file = fileURLToPath(new URL("../../native/build/Release/gatehouse_fsat.node", import.meta.url));
  try {
    return { addon: createRequire(import.meta.url)(file) as FsatAddon, error: null };
  } catch (e) {
    return { addon: null, error: (e as Error).message };
  }
}

// ---------------------------------------------------------------------------------------------
// test hook

/**
 * Tests only: called between each resolve (a directory or file opened) and each use of it, with
 * the operation and the path the server means, so a test can swap names at exactly that moment.
 * Never set outside tests.
 */
export const __testHooks: {
  afterResolve: ((op: string, path: string) => void | Promise<void>) | null;
  /** Behave as if the addon were missing (to prove that home operations then refuse). */
  addonMissing: boolean;
} = { afterResolve: null, addonMissing: false };

const loaded = loadAddon();

/** True when the native addon is present (home operations can run). */
export const SAFE_FS_AVAILABLE = loaded.addon !== null;

/** The addon, or a refusal: root's home operations never fall back to path-based calls. */
export function fsat(): FsatAddon {
  if (loaded.addon && !__testHooks.addonMissing) return loaded.addon;
  throw new CallError(
    "Home directory operations need the native addon gatehouse_fsat (build it with `npx node-gyp rebuild -C native`); " +
      `refusing to work on home directories without it (${loaded.error ?? "disabled"})`,
    "home.native_addon_missing",
  );
}

/** Run the test hook if one is set (no await, no cost otherwise). */
export function afterResolve(op: string, p: string): void | Promise<void> {
  const h = __testHooks.afterResolve;
  return h ? h(op, p) : undefined;
}

// ---------------------------------------------------------------------------------------------
// stat

export interface SafeStat {
  dev: number;
  ino: number;
  mode: number;
  nlink: number;
  uid: number;
  gid: number;
  size: number;
  blocks: number;
  atime: [number, number];
  mtime: [number, number];
  ctime: [number, number];
}

const S_IFMT = 0o170000;
export const isDir = (st: SafeStat) => (st.mode & S_IFMT) === 0o040000;
export const isFile = (st: SafeStat) => (st.mode & S_IFMT) === 0o100000;
export const isLink = (st: SafeStat) => (st.mode & S_IFMT) === 0o120000;

function toStat(a: number[]): SafeStat {
  return {
    dev: a[0],
    ino: a[1],
    mode: a[2],
    nlink: a[3],
    uid: a[4],
    gid: a[5],
    size: a[6],
    blocks: a[7],
    atime: [a[8], a[9]],
    mtime: [a[10], a[11]],
    ctime: [a[12], a[13]],
  };
}

export function errCode(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException | null)?.code;
}

/** A single path component we may hand to a *at call. */
function checkName(name: string): string {
  if (!name || name === "." || name === ".." || name.includes("/") || name.includes("\0")) {
    throw new CallError(`invalid file name ${JSON.stringify(name)}`, "home.invalid_file_name");
  }
  return name;
}

// ---------------------------------------------------------------------------------------------
// SafeDir

/** An open directory; `path` is what it stands for, for messages and the test hook only. */
export class SafeDir {
  private constructor(
    readonly fd: number,
    readonly path: string,
  ) {}

  /**
   * Open a trusted base directory by path (symlinks in it are the administrator's: a configured
   * storage root, or the system directory above a host home). Nothing below it is opened by path.
   */
  static openBase(p: string): SafeDir {
    fsat();
    return new SafeDir(openSync(p, C.O_RDONLY | C.O_DIRECTORY | C.O_NONBLOCK), p);
  }

  /** A directory below this one: `rel` is resolved beneath it, no symlink followed (ELOOP). */
  openDir(rel: string): SafeDir {
    const a = fsat();
    if (rel.split("/").includes("..")) throw Object.assign(new Error(`EXDEV: ".." in ${rel}`), { code: "EXDEV" });
    const fd = a.openBeneath(this.fd, rel, a.O_RDONLY | a.O_DIRECTORY | a.O_NONBLOCK, 0);
    return new SafeDir(fd, rel ? posix.join(this.path, rel) : this.path);
  }

  /** openDir, or null when the name is missing (ENOENT). */
  openDirIfExists(rel: string): SafeDir | null {
    try {
      return this.openDir(rel);
    } catch (e) {
      if (errCode(e) === "ENOENT") return null;
      throw e;
    }
  }

  close(): void {
    closeSync(this.fd);
  }

  stat(): SafeStat {
    return toStat(fsat().fstat(this.fd));
  }

  /** lstat of one name here (a link is reported as a link), or null when it is missing. */
  lstat(name: string): SafeStat | null {
    try {
      return toStat(fsat().lstatat(this.fd, checkName(name)));
    } catch (e) {
      if (errCode(e) === "ENOENT") return null;
      throw e;
    }
  }

  chown(uid: number, gid: number): void {
    fchownSync(this.fd, uid, gid);
  }

  chmod(mode: number): void {
    fchmodSync(this.fd, mode);
  }

  sync(): void {
    fsyncSync(this.fd);
  }

  list(): string[] {
    return fsat().readdirfd(this.fd);
  }

  mkdir(name: string, mode = 0o700): void {
    fsat().mkdirat(this.fd, checkName(name), mode);
  }

  unlink(name: string): void {
    fsat().unlinkat(this.fd, checkName(name), false);
  }

  rmdir(name: string): void {
    fsat().unlinkat(this.fd, checkName(name), true);
  }

  /** renameat2 from a name here to a name in `to`; flags: 0, RENAME_NOREPLACE, RENAME_EXCHANGE. */
  rename(name: string, to: SafeDir, newName: string, flags = 0): void {
    fsat().renameat(this.fd, checkName(name), to.fd, checkName(newName), flags);
  }

  symlink(target: string, name: string): void {
    fsat().symlinkat(target, this.fd, checkName(name));
  }

  readlink(name: string): string {
    return fsat().readlinkat(this.fd, checkName(name));
  }

  /** Owner of the name itself (a link stays a link). */
  lchown(name: string, uid: number, gid: number): void {
    fsat().lchownat(this.fd, checkName(name), uid, gid);
  }

  lutimes(name: string, st: SafeStat): void {
    fsat().lutimesat(this.fd, checkName(name), st.atime[0], st.atime[1], st.mtime[0], st.mtime[1]);
  }

  /**
   * Open a file here for reading: O_NOFOLLOW (a link fails with ELOOP), O_NONBLOCK (a FIFO that
   * appeared meanwhile does not hang the open) and O_NOCTTY. Returns the fd and its fstat; the
   * caller checks the fstat is the regular file it expected before reading.
   */
  openRead(name: string): { fd: number; st: SafeStat } {
    const a = fsat();
    const fd = a.openBeneath(this.fd, checkName(name), a.O_RDONLY | a.O_NONBLOCK | a.O_NOCTTY, 0);
    try {
      return { fd, st: toStat(a.fstat(fd)) };
    } catch (e) {
      closeSync(fd);
      throw e;
    }
  }

  /** Create a new file here (O_CREAT|O_EXCL: never an existing name, never through a link). */
  createFile(name: string, mode = 0o600): number {
    const a = fsat();
    return a.openBeneath(this.fd, checkName(name), a.O_WRONLY | a.O_CREAT | a.O_EXCL | a.O_NOCTTY, mode);
  }

  /**
   * Remove `name` and, when it is a directory, everything below it — each directory opened
   * beneath its parent without following links, each link removed as a link.
   */
  removeTree(name: string): void {
    const st = this.lstat(name);
    if (!st) return;
    if (!isDir(st)) {
      this.unlink(name);
      return;
    }
    let sub: SafeDir;
    try {
      sub = this.openDir(name);
    } catch (e) {
      if (errCode(e) === "ENOENT") return;
      throw e;
    }
    try {
      for (const child of sub.list()) sub.removeTree(child);
    } finally {
      sub.close();
    }
    try {
      this.rmdir(name);
    } catch (e) {
      if (errCode(e) !== "ENOENT") throw e;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// locating a home

export interface HomeLocation {
  /** The trusted base, opened by path. */
  base: string;
  /** The home's parent relative to the base ("" when it is the base). */
  parentRel: string;
  /** The home's own name in its parent. */
  name: string;
}

/**
 * Where a home is resolved from: for a home inside a storage root, the root (everything below
 * it belongs to users and is resolved without links); for any other home (the built-in accounts'
 * homes in the host root, `/root`, `/home/admin`), its parent directory, which is the system's.
 */
export function locateHome(home: string, storageRoots: readonly string[]): HomeLocation {
  const h = normalizeDir(home);
  if (!h.startsWith("/") || h === "/") throw new CallError(`${home}: not a home directory path`, "home.invalid_path");
  const root = storageRootOf(h, storageRoots);
  if (root !== null) {
    const rel = h.slice(root.length).replace(/^\/+/, "");
    return { base: root, parentRel: posix.dirname(rel) === "." ? "" : posix.dirname(rel), name: posix.basename(rel) };
  }
  return { base: posix.dirname(h), parentRel: "", name: posix.basename(h) };
}

/** Open the parent directory of a home (see locateHome); the caller closes it. */
export function openHomeParent(loc: HomeLocation): SafeDir {
  const base = SafeDir.openBase(loc.base);
  if (!loc.parentRel) return base;
  try {
    return base.openDir(loc.parentRel);
  } finally {
    base.close();
  }
}

/** Tests only: force the per-component openat walk (true) or allow openat2 again (false). */
export function forceOpenatFallback(on: boolean): void {
  fsat().forceFallback(on);
}

export function resolverInUse(): string {
  return fsat().resolver();
}
