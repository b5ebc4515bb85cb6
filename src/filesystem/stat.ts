// filesystem.stat: the attributes of one path inside a storage root, read without following any
// link (the path's last component is lstat-ed; a link on the way to it is refused, not followed).
// The Edit user form reads a home directory's real mode through it, so that saving shows and keeps
// what is on disk instead of assuming a default.

import path from "node:path";
import { validationError } from "../server/errors.js";
import { SafeDir, errCode, isDir, isFile, isLink, type SafeStat } from "../accounts/safe-fs.js";
import { isWithin, normalizeDir } from "../accounts/storage-root.js";
import type { PathStat } from "./schemas.js";
import { fileAttributesOf } from "./storage-paths.js";

const posix = path.posix;

/** What the stat needs of the server: the configured storage roots. */
export interface StatContext {
  readonly config: { readonly storageRoots: readonly string[] };
}

const ATTR = "path";

function outside(roots: string[]): never {
  validationError(
    ATTR,
    roots.length ? `Path must be inside a storage root: ${roots.join(", ")}` : "Path must be inside a storage root: no storage roots are configured",
    "filesystem.outside_storage_roots",
  );
}

const seconds = (t: [number, number]) => t[0] + t[1] / 1e9;

function typeOf(st: SafeStat): PathStat["type"] {
  return isLink(st) ? "SYMLINK" : isDir(st) ? "DIRECTORY" : isFile(st) ? "FILE" : "OTHER";
}

/**
 * Stat `given` inside the innermost storage root holding it by name. The root is opened as the
 * trusted base; the parent of the last component is opened beneath it with no link followed
 * (a link anywhere on the way answers "outside the storage roots", as the other filesystem
 * methods do), and the last component is lstat-ed through that fd.
 */
export function statInStorageRoots(app: StatContext, given: string): PathStat {
  if (!given.startsWith("/")) validationError(ATTR, "Path must be absolute", "filesystem.path_not_absolute");
  if (given.includes("\0")) validationError(ATTR, "Path must not contain NUL characters", "filesystem.path_has_nul");
  const roots = app.config.storageRoots.map(normalizeDir);
  const norm = normalizeDir(given);
  const root = roots.filter((r) => isWithin(norm, r)).sort((a, b) => b.length - a.length)[0];
  if (root === undefined) outside(roots);
  let base: SafeDir;
  try {
    base = SafeDir.openBase(root);
  } catch (e) {
    if (errCode(e) === "ENOENT" || errCode(e) === "ENOTDIR") validationError(ATTR, "Path does not exist", "filesystem.not_found");
    throw e;
  }
  try {
    const rel = posix.relative(root, norm);
    if (rel === "") return toPathStat(norm, base.stat(), null);
    let parent: SafeDir;
    try {
      parent = base.openDir(posix.dirname(rel) === "." ? "" : posix.dirname(rel));
    } catch (e) {
      const code = errCode(e);
      if (code === "ENOENT" || code === "ENOTDIR") validationError(ATTR, "Path does not exist", "filesystem.not_found");
      if (code === "ELOOP" || code === "EXDEV") outside(roots);
      throw e;
    }
    try {
      const st = parent.lstat(posix.basename(rel));
      if (!st) validationError(ATTR, "Path does not exist", "filesystem.not_found");
      return toPathStat(norm, st, parent.stat().dev);
    } finally {
      parent.close();
    }
  } finally {
    base.close();
  }
}

function toPathStat(p: string, st: SafeStat, parentDev: number | null): PathStat {
  const type = typeOf(st);
  return {
    // Nothing on the way is a link (refused above), so the path is its own real path.
    realpath: p,
    type,
    ...fileAttributesOf(st),
    atime: seconds(st.atime),
    mtime: seconds(st.mtime),
    ctime: seconds(st.ctime),
    dev: st.dev,
    inode: st.ino,
    nlink: st.nlink,
    is_mountpoint: type === "DIRECTORY" && parentDev !== null && st.dev !== parentDev,
    is_ctldir: false,
  };
}
