// What the filesystem.* methods share: the storage roots (configured and resolved), the rule that
// a path is usable only when it lies inside a root both by name and after resolving symlinks, and
// the listdir/stat entry of one directory entry.

import type { Stats } from "node:fs";
import { lstat, realpath } from "node:fs/promises";
import path from "node:path";
import { validationError } from "../server/errors.js";
import { SafeDir, afterResolve, isDir, isFile, isLink, type SafeStat } from "../accounts/safe-fs.js";
import { isWithin, normalizeDir } from "../accounts/storage-root.js";
import type { EntryType, FsEntry } from "./schemas.js";

const posix = path.posix;

/** What the storage-path rules need of the server: the configured storage roots. */
export interface StoragePathsContext {
  readonly config: { readonly storageRoots: readonly string[] };
}

/** The configured storage roots, normalized, without trailing slashes. */
export function storageRoots(app: StoragePathsContext): string[] {
  return app.config.storageRoots.map(normalizeDir);
}

export interface Roots {
  /** Configured roots (normalized). */
  named: string[];
  /**
   * Their real paths; for a root that does not exist (yet), where it would be (so that it reads
   * as missing rather than outside); null when even that cannot be resolved.
   */
  real: (string | null)[];
}

export async function resolveRoots(app: StoragePathsContext): Promise<Roots> {
  const named = storageRoots(app);
  const real = await Promise.all(named.map((r) => realpath(r).catch(() => realpathOfExistingPrefix(r).catch(() => null))));
  return { named, real };
}

export function insideReal(p: string, roots: Roots): boolean {
  return roots.real.some((r) => r !== null && isWithin(p, r));
}

function errnoOf(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException | null)?.code;
}

/**
 * The real path of the longest existing prefix of `p` (whose missing tail cannot hide a symlink),
 * joined with that tail. Used to judge where a path that does not exist yet would land.
 */
export async function realpathOfExistingPrefix(p: string): Promise<string> {
  let head = p;
  const tail: string[] = [];
  for (;;) {
    try {
      return posix.join(await realpath(head), ...tail);
    } catch (e) {
      const code = errnoOf(e);
      if ((code !== "ENOENT" && code !== "ENOTDIR") || head === "/") throw e;
      tail.unshift(posix.basename(head));
      head = posix.dirname(head);
    }
  }
}

export function outsideMessage(roots: Roots): string {
  return roots.named.length ? `Path must be inside a storage root: ${roots.named.join(", ")}` : "Path must be inside a storage root: no storage roots are configured";
}

/**
 * Check that `given` names a place inside a storage root: by name after resolving `..`, and by
 * real path after resolving symlinks (for a missing path, the real path of its existing part).
 * Returns the normalized path and its real path (null when it does not exist). Refusals are
 * validation errors on `attr`; a path outside the roots is refused before its existence is told.
 */
export async function confine(given: string, attr: string, roots: Roots, opts: { allowRoot: boolean }): Promise<{ path: string; real: string | null }> {
  if (!given.startsWith("/")) validationError(attr, "Path must be absolute", "filesystem.path_not_absolute");
  if (given.includes("\0")) validationError(attr, "Path must not contain NUL characters", "filesystem.path_has_nul");
  const norm = normalizeDir(given);
  const byName = roots.named.some((r) => isWithin(norm, r));
  if (!byName) validationError(attr, outsideMessage(roots), "filesystem.outside_storage_roots");
  let real: string | null;
  try {
    real = await realpath(norm);
  } catch (e) {
    if (errnoOf(e) !== "ENOENT" && errnoOf(e) !== "ENOTDIR") throw e;
    real = null;
  }
  const landing = real ?? (await realpathOfExistingPrefix(norm).catch(() => norm));
  if (!insideReal(landing, roots)) validationError(attr, outsideMessage(roots), "filesystem.outside_storage_roots");
  if (!opts.allowRoot && roots.real.some((r) => r === landing)) {
    validationError(attr, `Path may not be a storage root itself: ${norm}`, "filesystem.storage_root_itself");
  }
  return { path: norm, real };
}

export function typeOf(st: Stats): EntryType {
  if (st.isSymbolicLink()) return "SYMLINK";
  if (st.isDirectory()) return "DIRECTORY";
  if (st.isFile()) return "FILE";
  return "OTHER";
}

/**
 * The entry for `entryPath` (as the caller named it) whose real location is `onDisk`. Symlinks
 * are not followed for the stat; their realpath is reported only when it stays inside the storage
 * roots, otherwise the link's own path is given.
 */
export async function entryOf(entryPath: string, onDisk: string, roots: Roots, parentDev: number | null): Promise<FsEntry | null> {
  let st: Stats;
  try {
    st = await lstat(onDisk);
  } catch {
    return null; // vanished since it was listed
  }
  const type = typeOf(st);
  return buildEntry(entryPath, onDisk, roots, st, type, type === "DIRECTORY" && parentDev !== null && st.dev !== parentDev);
}

/**
 * Make `name` (mode `mode`) in the directory whose real path is `parentReal`: the parent is opened
 * beneath the real storage root holding it with no link followed (ELOOP/EXDEV when one was
 * swapped in), the directory made with mkdirat and its mode set through its own fd. A chmod
 * failure is thrown with code "CHMOD" when `raiseChmod`, otherwise ignored.
 */
export async function mkdirBeneath(roots: Roots, parentReal: string, name: string, mode: number, raiseChmod: boolean): Promise<void> {
  const parent = openBeneathRoot(roots, parentReal);
  try {
    await afterResolve("filesystem.mkdir", posix.join(parentReal, name));
    parent.mkdir(name, 0o700);
    const dir = parent.openDir(name);
    try {
      dir.chmod(mode);
    } catch (e) {
      if (raiseChmod) throw Object.assign(new Error((e as Error).message), { code: "CHMOD" });
    } finally {
      dir.close();
    }
  } finally {
    parent.close();
  }
}

/**
 * Open the directory whose real path is `real`, beneath the (innermost) real storage root holding
 * it, following no link on the way (ELOOP when one was swapped in since `real` was resolved).
 */
export function openBeneathRoot(roots: Roots, real: string): SafeDir {
  const root = roots.real.filter((r): r is string => r !== null && isWithin(real, r)).sort((a, b) => b.length - a.length)[0];
  if (root === undefined) throw Object.assign(new Error("outside the storage roots"), { code: "EXDEV" });
  const base = SafeDir.openBase(root);
  try {
    return base.openDir(posix.relative(root, real));
  } finally {
    base.close();
  }
}

/**
 * The entry for `name` in the open directory `dir` (named `entryPath` by the caller, at `onDisk`
 * on disk): stat-ed through the fd without following a link. A link's realpath is reported only
 * when it stays inside the storage roots, otherwise the link's own path is given.
 */
export async function entryAt(dir: SafeDir, name: string, entryPath: string, onDisk: string, roots: Roots, parentDev: number): Promise<FsEntry | null> {
  let st: SafeStat | null;
  try {
    st = dir.lstat(name);
  } catch {
    st = null;
  }
  if (!st) return null; // vanished since it was listed
  const type: EntryType = isLink(st) ? "SYMLINK" : isDir(st) ? "DIRECTORY" : isFile(st) ? "FILE" : "OTHER";
  return buildEntry(entryPath, onDisk, roots, st, type, type === "DIRECTORY" && st.dev !== parentDev);
}

/** The stat fields an entry reports, from Node's lstat or the addon's fstatat alike. */
interface EntryStat {
  size: number;
  blocks: number;
  mode: number;
  uid: number;
  gid: number;
}

/** What lstat tells of a path, as both results report it (fileAttributes in schemas.ts). */
export function fileAttributesOf(st: { size: number; blocks: number; mode: number; uid: number; gid: number }) {
  return { size: st.size, allocation_size: st.blocks * 512, mode: st.mode, acl: false as const, uid: st.uid, gid: st.gid };
}

/**
 * One listed entry. A link's realpath is reported only when it stays inside the storage roots,
 * otherwise the link's own path is given.
 */
async function buildEntry(entryPath: string, onDisk: string, roots: Roots, st: EntryStat, type: EntryType, isMountpoint: boolean): Promise<FsEntry> {
  let real = onDisk;
  if (type === "SYMLINK") {
    const target = await realpath(onDisk).catch(() => null);
    real = target !== null && insideReal(target, roots) ? target : onDisk;
  }
  return {
    name: posix.basename(entryPath),
    path: entryPath,
    realpath: real,
    type,
    ...fileAttributesOf(st),
    is_mountpoint: isMountpoint,
    is_ctldir: false,
  };
}
