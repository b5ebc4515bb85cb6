// Home directories: validation of the `home` / `home_create` / `home_mode` fields (reference §1.3,
// §1.5, adapted by SPEC.md "Home directories") and the filesystem work behind them.
//
// Where Gatehouse differs from the reference:
// - instead of ZFS pools under /mnt there are configured *storage roots*; a home must be inside one
//   and must not be a root itself;
// - seed 001: with `home_create`, a path that already ends with the username is the home itself,
//   otherwise `<path>/<username>` is created;
// - "read-only" and "immutable" are asked of the kernel (access(2) answers EROFS / EPERM) rather
//   than of ZFS properties.
//
// Everything here runs as the server's user (root on a real host). Paths under a home are
// controlled by its owner, so the filesystem helpers work relative to directory fds opened
// without following symlinks (./safe-fs.ts, docs/security/path-safety.md): no link below a
// storage root is ever followed, whenever the user swaps it in.

import { closeSync, constants as fsConstants, fchmodSync, fchownSync, futimesSync, read, readSync, write, writeSync, type Stats } from "node:fs";
import { access, lstat, readdir, readFile, readlink, realpath, stat } from "node:fs/promises";
import { randomBytes } from "node:crypto";
import path from "node:path";
import { CallError, ERRNO, type ValidationErrors } from "../server/errors.js";
import { serialised, writeKeysIn } from "../provision/keys.js";
import type { Tx } from "../store/db.js";
import { isWithin, normalizeDir } from "./storage-root.js";
import { SAFE_FS_AVAILABLE, type SafeDir, afterResolve, errCode, fsat, isDir, isFile, isLink, locateHome, openHomeParent, type SafeStat } from "./safe-fs.js";

/** The "no home" value: skips every check and is never created. */
export const NO_HOME = "/var/empty";
export const DEFAULT_HOME_MODE = 0o700;

const posix = path.posix;

// ---------------------------------------------------------------------------------------------
// home_mode

/**
 * Parse an octal mode string the way upstream does (`int(value, 8)`, then `mode & 0o777 == mode`):
 * surrounding whitespace, a sign, a `0o` prefix and `_` between digits are tolerated. Anything
 * that is not a string, or not within 0..0o777, gives null.
 */
export function parseHomeMode(value: unknown): number | null {
  if (typeof value !== "string") return null;
  const m = /^\s*([+-]?)(?:0[oO])?([0-7](?:_?[0-7])*)\s*$/.exec(value);
  if (!m) return null;
  const mode = parseInt(m[2].replace(/_/g, ""), 8) * (m[1] === "-" ? -1 : 1);
  return mode >= 0 && mode <= 0o777 ? mode : null;
}

/**
 * Validate `home_mode`: a valid octal permission set that lets the owner list (r) and enter (x)
 * the directory. Both owner problems are reported when both apply. Returns the mode or null.
 */
export function validateHomeMode(errors: ValidationErrors, attr: string, value: unknown): number | null {
  const mode = parseHomeMode(value);
  if (mode === null) {
    errors.add(attr, "Please provide a valid value for home_mode attribute", "home.mode_invalid");
    return null;
  }
  let ok = true;
  if ((mode & 0o400) === 0) {
    errors.add(attr, "Home directory must be readable by User.", "home.mode_unreadable");
    ok = false;
  }
  if ((mode & 0o100) === 0) {
    errors.add(attr, "Home directory must be executable by User.", "home.mode_unsearchable");
    ok = false;
  }
  // Beyond the reference (docs/departures.md): any local user could replace the owner's shell
  // start-up files or SSH keys in a home every user may write to.
  if (mode & 0o002) {
    errors.add(attr, "Home directory may not be writable by others.", "home.mode_world_writable");
    ok = false;
  }
  return ok ? mode : null;
}

function modeNumber(mode: number | string): number {
  if (typeof mode === "number") return mode & 0o7777;
  const parsed = parseHomeMode(mode);
  if (parsed === null) throw new CallError(`Invalid home directory mode ${JSON.stringify(mode)}`, "home.mode_invalid");
  return parsed;
}

// ---------------------------------------------------------------------------------------------
// home validation

export interface HomeValidationInput {
  /** The `home` field as sent. */
  home: string;
  homeCreate?: boolean;
  /** The user's (new or current) username, used by `home_create`. */
  username: string;
  /** Configured storage roots: absolute directories. */
  storageRoots: readonly string[];
  /** Homes of every *other* user: home path → username. */
  otherUserHomes: ReadonlyMap<string, string>;
}

/** The first symlink on the way from the storage root `root` to `p` (missing tail ignored), or null. */
async function linkBelowRoot(p: string, root: string): Promise<string | null> {
  const rel = p.slice(root.length).replace(/^\/+/, "");
  let cur = root;
  for (const part of rel.split("/").filter(Boolean)) {
    cur = posix.join(cur, part);
    const st = await lstat(cur).catch(() => null);
    if (!st) return null;
    if (st.isSymbolicLink()) return cur;
  }
  return null;
}

async function statOrNull(p: string): Promise<Stats | null> {
  try {
    return await stat(p);
  } catch {
    return null;
  }
}

/** realpath of `p`, resolving the deepest existing ancestor and re-appending the rest. */
async function resolveExisting(p: string): Promise<string> {
  const tail: string[] = [];
  let cur = p;
  for (;;) {
    try {
      return posix.join(await realpath(cur), ...tail.reverse());
    } catch {
      if (cur === "/") return p;
      tail.push(posix.basename(cur));
      cur = posix.dirname(cur);
    }
  }
}

/**
 * Validate `home` (+ `home_create`) and return the effective home directory: `/var/empty`, the
 * given directory, or `<home>/<username>` when `home_create` asks for a new subdirectory. The
 * returned path is normalized (no trailing slash). Problems are added to `errors` under `attr`
 * (e.g. "user_create.home"); the return value is meaningful only when none were added.
 *
 * Checks, in the reference's order: absolute, not a file, no `:` (nor control characters, which
 * would corrupt passwd); the directory (or, to be created, its parent) exists; the filesystem
 * is writable and not immutable; not another user's home; inside a storage root and not the root.
 */
export async function validateHome(errors: ValidationErrors, attr: string, input: HomeValidationInput): Promise<string> {
  const { home, homeCreate = false, username } = input;
  if (normalizeDir(home) === NO_HOME) return NO_HOME;

  if (!home.startsWith("/")) {
    errors.add(attr, '"Home Directory" must be an absolute path.', "home.not_absolute");
    return home;
  }
  // Before any filesystem call: a NUL byte would make node's fs throw.
  if (/[\u0000-\u001f\u007f]/.test(home)) {
    errors.add(attr, '"Home Directory" cannot contain control characters.', "home.control_characters");
    return home;
  }
  const given = normalizeDir(home);
  const givenStat = await statOrNull(given);
  if (givenStat && !givenStat.isDirectory()) {
    errors.add(attr, '"Home Directory" cannot be a file.', "home.is_file");
    return given;
  }
  if (home.includes(":")) {
    errors.add(attr, '"Home Directory" cannot contain colons (:).', "home.colon");
    return given;
  }

  // Seed 001: home_create onto ".../<username>" means that directory; otherwise a subdirectory.
  const appendUser = homeCreate && posix.basename(given) !== username;
  if (appendUser && !/^[A-Za-z0-9_][A-Za-z0-9_.-]*$/.test(username)) {
    // An invalid username is reported on its own field; never join it into a path.
    return given;
  }
  const effective = appendUser ? posix.join(given, username) : given;

  const before = errors.size;
  if (!givenStat) {
    if (appendUser) {
      errors.add(
        attr,
        `${home}: path specified to use for home directory creation does not exist. Gatehouse uses the ` + "provided path as the parent directory of the newly-created home directory.",
        "home.parent_not_found",
      );
    } else if (!homeCreate) {
      errors.add(attr, `${home}: path specified to use as home directory does not exist.`, "home.parent_not_found");
    }
    const parent = posix.dirname(given);
    if (!(await statOrNull(parent))?.isDirectory()) {
      errors.add(attr, `${parent}: parent path of specified home directory does not exist.`, "home.parent_not_found");
    }
  } else if (appendUser) {
    const target = await statOrNull(effective);
    if (target && !target.isDirectory()) {
      errors.add(attr, "Path for home directory already exists and is not a directory", "home.not_a_directory");
    }
  }

  if (errors.size === before) {
    // The directory we will own or create in: the home itself, or its parent when it is new.
    const existing = (await statOrNull(effective)) ? effective : posix.dirname(effective);
    try {
      await access(existing, fsConstants.W_OK);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === "EROFS") errors.add(attr, "Path is on a read-only filesystem.", "home.read_only");
      else if (code === "EPERM") errors.add(attr, `${existing}: home directory path is immutable.`, "home.immutable");
      // EACCES only means this process is unprivileged (demo mode); provisioning will say more.
    }
  }

  const homes = new Map<string, string>();
  for (const [h, user] of input.otherUserHomes) homes.set(normalizeDir(h), user);
  for (const candidate of effective === given ? [given] : [effective, given]) {
    const owner = homes.get(candidate);
    if (owner !== undefined) {
      errors.add(attr, `${candidate}: homedir already used by ${owner}.`, "home.taken");
      break;
    }
  }

  const roots = input.storageRoots.map(normalizeDir);
  const rootList = roots.join(", ");
  const outside = roots.length ? `"Home Directory" must be inside a storage root (${rootList}) or set to ${NO_HOME}.` : `"Home Directory" must be set to ${NO_HOME}: no storage roots are configured.`;
  const atRoot = roots.find((r) => r === effective);
  if (atRoot !== undefined) {
    errors.add(attr, `"Home Directory" cannot be at root of "${atRoot}"`, "home.storage_root_itself");
  } else if (!roots.some((r) => isWithin(effective, r))) {
    errors.add(attr, outside, "home.outside_storage_roots");
  } else {
    // Lexically inside; make sure no symlink on the way leads out of the storage roots.
    const real = await resolveExisting(effective);
    const realRoots = await Promise.all(roots.map(resolveExisting));
    if (realRoots.some((r) => r === real)) {
      errors.add(attr, `"Home Directory" cannot be at root of "${roots[realRoots.indexOf(real)]}"`, "home.storage_root_itself");
    } else if (!realRoots.some((r) => isWithin(real, r))) {
      errors.add(attr, outside, "home.outside_storage_roots");
    } else {
      // Root works below a storage root without following any link (safe-fs.ts): a home
      // reached through one could not be created, chmod-ed or given keys, so say it now.
      const root = roots.filter((r) => isWithin(effective, r)).sort((a, b) => b.length - a.length)[0];
      const link = await linkBelowRoot(effective, root);
      if (link) errors.add(attr, `"Home Directory" must not pass through a symbolic link (${link}).`, "home.symlink");
    }
  }
  return effective;
}

// ---------------------------------------------------------------------------------------------
// filesystem operations
//
// Every one of them works relative to directory fds opened without following symlinks below a
// trusted base (src/accounts/safe-fs.ts): a storage root for homes inside one, the system
// directory above a host home otherwise. `roots` are the configured storage roots.

/** Temporary names of homes being created: `.gatehouse-home.<pid>.<random>`. */
const HOME_TMP_PREFIX = ".gatehouse-home.";
const HOME_TMP_RE = /^\.gatehouse-home\.(\d+)\.[0-9a-f]{12}$/;

export interface CreateHomeOptions {
  uid: number;
  gid: number;
  /** Octal string ("700") or number; default 0o700. */
  mode?: number | string;
  /** Skeleton directory whose contents are copied into the home (e.g. `<host root>/etc/skel`). */
  skelDir?: string | null;
  /** Configured storage roots (homes inside one are resolved from it without links). */
  roots?: readonly string[];
}

/**
 * A home set up inside a transaction. A new home lives under a temporary name in its parent
 * until `commit()` renames it into place (after the store's commit); `discard()` removes it.
 * For a home that already existed both only release the directory.
 */
export interface HomeHandle {
  readonly path: string;
  /** True when this call made the directory. */
  readonly created: boolean;
  /** The home's directory (under its temporary name until commit). */
  readonly dir: SafeDir;
  /** Write `<home>/.ssh/authorized_keys` (the one writer, src/provision/keys.ts). */
  writeKeys(keys: string | readonly string[] | null, uid: number, gid: number): Promise<boolean>;
  /** Rename a new home into place; false when that failed (the temporary home is removed). */
  commit(): Promise<boolean>;
  discard(): Promise<void>;
}

/** A file-system error as the call's error: a link where a directory was expected is refused. */
function homeError(home: string, e: unknown): never {
  if (e instanceof CallError) throw e;
  const code = errCode(e);
  if (code === "ELOOP" || code === "EXDEV") {
    throw new CallError(`${home}: refusing to follow a symbolic link below the storage root`, "home.symlink_refused");
  }
  if (code === "ENOTDIR") throw new CallError(`${home}: a component of the path is not a directory`, "home.path_component_not_directory");
  if (code === "ENOSYS") throw e;
  throw new CallError(`${home}: ${(e as Error).message}`, "home.operation_failed");
}

/** The parent of `home` opened safely, or a CallError. */
function parentOf(home: string, roots: readonly string[]): { parent: SafeDir; name: string } {
  const loc = locateHome(home, roots);
  try {
    return { parent: openHomeParent(loc), name: loc.name };
  } catch (e) {
    if (errCode(e) === "ENOENT") throw new CallError(`${home}: parent path of the home directory does not exist`, "home.not_found");
    return homeError(home, e);
  }
}

/** Open an existing home directory (no link followed), or a CallError. */
export function openHomeDir(home: string, roots: readonly string[] = []): SafeDir {
  const { parent, name } = parentOf(home, roots);
  try {
    return parent.openDir(name);
  } catch (e) {
    if (errCode(e) === "ENOENT") throw new CallError(`${home}: home directory does not exist`, "home.not_found");
    return homeError(home, e);
  } finally {
    parent.close();
  }
}

function pidAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return errCode(e) === "EPERM";
  }
}

/** Remove temporary homes in `dir` left by a process that is gone (a crash between mkdir and rename). */
function removeLeftoversIn(dir: SafeDir): number {
  let removed = 0;
  for (const name of dir.list()) {
    const m = HOME_TMP_RE.exec(name);
    if (!m || pidAlive(Number(m[1]))) continue;
    dir.removeTree(name);
    removed++;
  }
  return removed;
}

/**
 * Startup: remove temporary homes a crashed process left, in the storage roots and the parent
 * directories of the given homes — only names of the `.gatehouse-home.<pid>.<random>` form whose
 * process is gone. Returns how many were removed.
 */
export function removeHomeLeftovers(roots: readonly string[], homes: Iterable<string>): number {
  if (!SAFE_FS_AVAILABLE) return 0;
  const parents = new Set<string>(roots.map(normalizeDir));
  for (const h of homes) if (h.startsWith("/") && normalizeDir(h) !== NO_HOME) parents.add(posix.dirname(normalizeDir(h)));
  let removed = 0;
  for (const p of parents) {
    try {
      const loc = locateHome(posix.join(p, "x"), roots);
      const dir = openHomeParent(loc);
      try {
        removed += removeLeftoversIn(dir);
      } finally {
        dir.close();
      }
    } catch {
      // a parent that is missing or reached through a link: nothing of ours in it
    }
  }
  return removed;
}

const sweptParents = new Set<string>();

/**
 * Create (or take over) a home directory, inside the caller's transaction: a new one is made under
 * a temporary name in its parent, filled with the skeleton and given to the user with `mode`;
 * the caller renames it into place with `commit()` after the store's commit. An existing
 * directory is given to the user with `mode` (its contents are left alone).
 */
export async function createHome(home: string, opts: CreateHomeOptions): Promise<HomeHandle> {
  const { uid, gid, mode = DEFAULT_HOME_MODE, skelDir = null, roots = [] } = opts;
  const finalMode = modeNumber(mode);
  const { parent, name } = parentOf(home, roots);
  let dir: SafeDir | null = null;
  let tmp: string | null = null;
  try {
    // Once per parent and process (a parent may hold thousands of homes): the startup sweep
    // covers parents of stored homes, this one a parent whose only home was never committed.
    if (!sweptParents.has(parent.path)) {
      sweptParents.add(parent.path);
      removeLeftoversIn(parent);
    }
    const st = parent.lstat(name);
    if (st && !isDir(st)) throw new CallError("Path for home directory already exists and is not a directory", "home.not_a_directory");
    if (st) {
      dir = parent.openDir(name);
    } else {
      tmp = `${HOME_TMP_PREFIX}${process.pid}.${randomBytes(6).toString("hex")}`;
      parent.mkdir(tmp, 0o700); // root's and private until the contents are in
      dir = parent.openDir(tmp);
    }
    await afterResolve("home.create", home);
    // Skeleton files only into a new home: an existing directory keeps what it holds.
    if (skelDir && tmp) await copySkeleton(skelDir, dir, uid, gid);
    dir.chown(uid, gid);
    dir.chmod(finalMode);
  } catch (e) {
    dir?.close();
    if (tmp) removeQuietly(parent, tmp);
    parent.close();
    return homeError(home, e);
  }
  return homeHandle(home, parent, dir, name, tmp);
}

function removeQuietly(parent: SafeDir, name: string): void {
  try {
    parent.removeTree(name);
  } catch {
    // startup removes what is left
  }
}

function homeHandle(home: string, parent: SafeDir, dir: SafeDir, name: string, tmp: string | null): HomeHandle {
  let open = true;
  const release = () => {
    if (!open) return;
    open = false;
    dir.close();
    parent.close();
  };
  return {
    path: home,
    created: tmp !== null,
    dir,
    writeKeys: async (keys, uid, gid) => writeKeysToDir(dir, home, keys, uid, gid),
    async commit() {
      if (!open) return false;
      try {
        if (tmp) parent.rename(tmp, parent, name, fsat().RENAME_NOREPLACE);
        return true;
      } catch {
        if (tmp) removeQuietly(parent, tmp); // the name was taken meanwhile: keep what is there
        return false;
      } finally {
        release();
      }
    },
    async discard() {
      if (!open) return;
      if (tmp) removeQuietly(parent, tmp);
      release();
    },
  };
}

/**
 * Copy `skelDir` (the host's skeleton: the system's, read by path) into `dest` without
 * overwriting anything; copies are owned by the user. Created with O_EXCL / mkdirat: a name that
 * appeared meanwhile (even as a symlink) is never written through.
 */
async function copySkeleton(skelDir: string, dest: SafeDir, uid: number, gid: number): Promise<void> {
  let names: string[];
  try {
    names = await readdir(skelDir);
  } catch {
    return; // no skeleton on this host
  }
  for (const name of names) {
    const src = posix.join(skelDir, name);
    // BSD-style skeletons name dotfiles "dot.profile"; they become ".profile".
    const target = name.startsWith("dot.") ? name.slice(3) : name;
    const st = await lstat(src);
    if (!target || dest.lstat(target)) continue;
    if (st.isDirectory()) {
      dest.mkdir(target, 0o700);
      const sub = dest.openDir(target);
      try {
        await copySkeleton(src, sub, uid, gid);
        sub.chown(uid, gid);
        sub.chmod(st.mode & 0o7777);
      } finally {
        sub.close();
      }
    } else if (st.isFile()) {
      const fd = dest.createFile(target, 0o600);
      try {
        const body = await readFile(src);
        for (let off = 0; off < body.length; ) off += writeSync(fd, body, off);
        fchownSync(fd, uid, gid);
        fchmodSync(fd, st.mode & 0o7777);
      } finally {
        closeSync(fd);
      }
    } else if (st.isSymbolicLink()) {
      dest.symlink(await readlink(src), target);
      dest.lchown(target, uid, gid);
    }
  }
}

/**
 * Apply `home_mode` to an existing home (non-recursive), and ownership when uid/gid are given
 * (-1 keeps that id) — on the directory's fd, opened without following links.
 */
export async function applyHomeMode(home: string, mode: number | string, uid = -1, gid = -1, roots: readonly string[] = []): Promise<void> {
  const m = modeNumber(mode);
  const dir = openHomeDir(home, roots);
  try {
    await afterResolve("home.chmod", home);
    if (uid !== -1 || gid !== -1) dir.chown(uid, gid);
    dir.chmod(m);
  } catch (e) {
    homeError(home, e);
  } finally {
    dir.close();
  }
}

export interface CopyHomeOptions {
  uid: number;
  gid: number;
  /** Mode for the new home; default: the old home's mode. */
  mode?: number | string;
  /** Progress for the job: percent 0–100 and what is being done. */
  onProgress?: (percent: number, description: string) => void;
  roots?: readonly string[];
}

export interface CopyHomeResult {
  directories: number;
  files: number;
  symlinks: number;
  bytes: number;
  /** Special files, other filesystems' mount points, `.zfs` and entries swapped since the scan. */
  skipped: number;
}

/** One scanned entry; directories carry their children. */
interface ScanNode {
  name: string;
  st: SafeStat;
  children?: ScanNode[];
}

interface CopyState {
  result: CopyHomeResult;
  total: number;
  done: number;
  lastPercent: number;
  onProgress?: (percent: number, description: string) => void;
  from: string;
}

/**
 * Move a home's contents (`user.update` with a new home, run as a job): copies everything under
 * `from` into `to`, keeping modes, ownership and modification times, replacing what is already
 * there. Like upstream it stays on `from`'s filesystem (does not descend into mounts) and skips
 * `.zfs`. `to` must exist; it is given to the user with the old home's mode (or `mode`). The old
 * home is left in place.
 *
 * Both trees are walked through directory fds opened without following links; each file is
 * opened O_NOFOLLOW|O_NONBLOCK and copied only when its fstat is the regular file the scan saw
 * (same device and inode), so an entry swapped for a link, a FIFO or a device is skipped, never
 * followed and never waited on. Symlinks are copied as links.
 */
export async function copyHome(from: string, to: string, { uid, gid, mode, onProgress, roots = [] }: CopyHomeOptions): Promise<CopyHomeResult> {
  const result: CopyHomeResult = { directories: 0, files: 0, symlinks: 0, bytes: 0, skipped: 0 };
  const src = openHomeDir(from, roots);
  try {
    const rootStat = src.stat();
    const dst = openHomeDir(to, roots);
    try {
      const dstStat = dst.stat();
      onProgress?.(0, `Scanning ${from}`);
      const tree = scanDir(src, rootStat.dev, { dev: dstStat.dev, ino: dstStat.ino }, true, result);
      await afterResolve("copy.start", to);
      dst.chown(uid, gid);
      dst.chmod(mode === undefined ? rootStat.mode & 0o7777 : modeNumber(mode));
      const state: CopyState = { result, total: countNodes(tree), done: 0, lastPercent: -1, onProgress, from };
      await copyLevel(src, dst, tree, "", state);
    } finally {
      dst.close();
    }
  } catch (e) {
    homeError(from, e);
  } finally {
    src.close();
  }
  onProgress?.(100, `Copied ${result.files} files and ${result.directories} directories to ${to}`);
  return result;
}

function countNodes(nodes: ScanNode[]): number {
  let n = 0;
  for (const c of nodes) n += 1 + (c.children ? countNodes(c.children) : 0);
  return n;
}

/** The entries below `dir`, sorted; mounts, `.zfs` at the top and the destination itself skipped. */
function scanDir(dir: SafeDir, dev: number, target: { dev: number; ino: number }, top: boolean, result: CopyHomeResult): ScanNode[] {
  const out: ScanNode[] = [];
  for (const name of dir.list().sort()) {
    const st = dir.lstat(name);
    if (!st) continue; // vanished since it was listed
    const skip = (top && name === ".zfs") || (isDir(st) && st.dev !== dev) || (st.dev === target.dev && st.ino === target.ino);
    if (skip) {
      result.skipped++;
      continue;
    }
    const node: ScanNode = { name, st };
    if (isDir(st)) {
      let sub: SafeDir;
      try {
        sub = dir.openDir(name);
      } catch {
        result.skipped++; // swapped for something else since the lstat
        continue;
      }
      try {
        if (sub.stat().ino !== st.ino) {
          result.skipped++;
          continue;
        }
        node.children = scanDir(sub, dev, target, false, result);
      } finally {
        sub.close();
      }
    }
    out.push(node);
  }
  return out;
}

function progress(state: CopyState, rel: string): void {
  state.done++;
  const percent = Math.floor((state.done * 100) / Math.max(state.total, 1));
  if (percent !== state.lastPercent) {
    state.lastPercent = percent;
    state.onProgress?.(Math.min(percent, 99), `Copying ${rel}`);
  }
}

/** Copy the scanned `nodes` from `src` into `dst`; directories get mode, owner and times after their contents. */
async function copyLevel(src: SafeDir, dst: SafeDir, nodes: ScanNode[], rel: string, state: CopyState): Promise<void> {
  for (const node of nodes) {
    const childRel = rel ? `${rel}/${node.name}` : node.name;
    const { st } = node;
    await afterResolve("copy.entry", posix.join(state.from, childRel));
    if (isDir(st)) await copyDirEntry(src, dst, node, childRel, state);
    else if (isFile(st)) await copyFileEntry(src, dst, node, state);
    else if (isLink(st)) copyLinkEntry(src, dst, node, state.result);
    else state.result.skipped++; // sockets, fifos, devices
    progress(state, childRel);
  }
}

/** Make room for `name` in `dst`: whatever is there that is not a directory (when keepDir) goes. */
function clearName(dst: SafeDir, name: string, keepDir: boolean): SafeStat | null {
  const existing = dst.lstat(name);
  if (!existing) return null;
  if (keepDir && isDir(existing)) return existing;
  dst.removeTree(name);
  return null;
}

async function copyDirEntry(src: SafeDir, dst: SafeDir, node: ScanNode, rel: string, state: CopyState): Promise<void> {
  let from: SafeDir;
  try {
    from = src.openDir(node.name);
  } catch {
    state.result.skipped++; // swapped for a link or a file since the scan
    return;
  }
  try {
    if (from.stat().ino !== node.st.ino) {
      state.result.skipped++;
      return;
    }
    if (!clearName(dst, node.name, true)) dst.mkdir(node.name, 0o700);
    const to = dst.openDir(node.name);
    try {
      await copyLevel(from, to, node.children ?? [], rel, state);
      chownBestEffort(() => to.chown(node.st.uid, node.st.gid));
      to.chmod(node.st.mode & 0o7777);
      futimesSync(to.fd, toDate(node.st.atime), toDate(node.st.mtime));
    } finally {
      to.close();
    }
    state.result.directories++;
  } finally {
    from.close();
  }
}

const toDate = (t: [number, number]) => t[0] + t[1] / 1e9;

async function copyFileEntry(src: SafeDir, dst: SafeDir, node: ScanNode, state: CopyState): Promise<void> {
  let opened: { fd: number; st: SafeStat };
  try {
    opened = src.openRead(node.name);
  } catch {
    state.result.skipped++; // now a link (ELOOP), gone, or unopenable
    return;
  }
  const tmp = `.gh-copy.${process.pid}.${randomBytes(6).toString("hex")}`;
  let out = -1;
  try {
    const { st } = opened;
    // Only the regular file the scan saw: a FIFO, a device or another file swapped in is skipped.
    if (!isFile(st) || st.dev !== node.st.dev || st.ino !== node.st.ino) {
      state.result.skipped++;
      return;
    }
    out = dst.createFile(tmp, 0o600);
    const bytes = await pump(opened.fd, out);
    chownBestEffort(() => fchownSync(out, st.uid, st.gid));
    fchmodSync(out, st.mode & 0o7777);
    futimesSync(out, toDate(st.atime), toDate(st.mtime));
    closeSync(out);
    out = -1;
    clearName(dst, node.name, false);
    dst.rename(tmp, dst, node.name);
    state.result.files++;
    state.result.bytes += bytes;
  } catch (e) {
    if (out !== -1) closeSync(out);
    try {
      dst.unlink(tmp);
    } catch {
      // not created or already renamed
    }
    throw e;
  } finally {
    closeSync(opened.fd);
  }
}

/** Copy an fd's contents to another (chunked, on the thread pool). */
async function pump(from: number, to: number): Promise<number> {
  const buf = Buffer.allocUnsafe(1 << 20);
  let total = 0;
  for (;;) {
    const n = await new Promise<number>((res, rej) => read(from, buf, 0, buf.length, null, (e, b) => (e ? rej(e) : res(b))));
    if (n === 0) return total;
    for (let off = 0; off < n; ) {
      off += await new Promise<number>((res, rej) => write(to, buf, off, n - off, null, (e, b) => (e ? rej(e) : res(b))));
    }
    total += n;
  }
}

function copyLinkEntry(src: SafeDir, dst: SafeDir, node: ScanNode, result: CopyHomeResult): void {
  let target: string;
  try {
    target = src.readlink(node.name);
  } catch {
    result.skipped++; // no longer a link
    return;
  }
  clearName(dst, node.name, false);
  dst.symlink(target, node.name);
  chownBestEffort(() => dst.lchown(node.name, node.st.uid, node.st.gid));
  try {
    dst.lutimes(node.name, node.st);
  } catch {
    // times of a link are cosmetic
  }
  result.symlinks++;
}

function chownBestEffort(fn: () => void): void {
  try {
    fn();
  } catch (e) {
    // An unprivileged server (demo mode) cannot give files away; the content still moves.
    if (errCode(e) !== "EPERM") throw e;
  }
}

/** `user.delete` keeps the home but removes `<home>/.ssh` (best effort, as upstream), never through a link. */
export async function removeSshDir(home: string, roots: readonly string[] = []): Promise<void> {
  if (!home.startsWith("/") || normalizeDir(home) === NO_HOME) return;
  let dir: SafeDir;
  try {
    dir = openHomeDir(home, roots);
  } catch (e) {
    if (e instanceof CallError && e.errno === ERRNO.ENOSYS) throw e; // the addon is missing: say so
    return;
  }
  // Serialised with the keys writer of this home, so a concurrent write does not interleave.
  await serialised(normalizeDir(home), async () => {
    try {
      await afterResolve("home.remove_ssh", home);
      dir.removeTree(".ssh");
    } catch {
      // best effort
    } finally {
      dir.close();
    }
  });
}

/**
 * Write the `sshpubkey` field to `<home>/.ssh/authorized_keys` (`.ssh` 0700, file 0600, both owned
 * by the user), atomically, through the one writer (src/provision/keys.ts). Empty keys remove the
 * file. Nothing happens when the home is not a directory (as upstream); a `.ssh` that is not a
 * real directory is refused (ENOTDIR). Returns true when the file was written or removed.
 */
export async function writeAuthorizedKeys(home: string, keys: string | readonly string[] | null, uid: number, gid: number, roots: readonly string[] = []): Promise<boolean> {
  if (normalizeDir(home) === NO_HOME) return false;
  let dir: SafeDir;
  try {
    dir = openHomeDir(home, roots);
  } catch (e) {
    if (e instanceof CallError && (e.errno === ERRNO.ENOENT || e.errno === ERRNO.ENOTDIR || e.errno === ERRNO.EPERM)) return false;
    throw e;
  }
  try {
    return await writeKeysToDir(dir, home, keys, uid, gid);
  } finally {
    dir.close();
  }
}

async function writeKeysToDir(dir: SafeDir, home: string, keys: string | readonly string[] | null, uid: number, gid: number): Promise<boolean> {
  const text = (typeof keys === "string" ? keys : (keys ?? []).join("\n")).trim();
  const want = text === "" ? null : Buffer.from(text + "\n");
  const r = await writeKeysIn(dir, normalizeDir(home), { want, uid, gid, mayRemove: true, strict: true });
  return r !== "none" || want === null;
}

/** authorized_keys files bigger than this are not shown (sshd itself reads lines of at most 16 KiB). */
const AUTHORIZED_KEYS_MAX_BYTES = 1024 * 1024;

/**
 * The user entry's `sshpubkey`: `<home>/.ssh/authorized_keys` trimmed, or null when missing,
 * unreadable or not valid UTF-8 (reference §1.2). Neither the home, `.ssh` nor the file is
 * followed when it is a link: the user owns those names and could otherwise make the server
 * show any file.
 */
export async function readAuthorizedKeys(home: string, roots: readonly string[] = []): Promise<string | null> {
  if (normalizeDir(home) === NO_HOME) return null;
  try {
    const dir = openHomeDir(home, roots);
    try {
      const ssh = dir.openDir(".ssh");
      try {
        const { fd, st } = ssh.openRead("authorized_keys");
        try {
          if (!isFile(st) || st.size > AUTHORIZED_KEYS_MAX_BYTES) return null;
          const buf = Buffer.alloc(st.size);
          let off = 0;
          while (off < buf.length) {
            const n = readSync(fd, buf, off, buf.length - off, off);
            if (n === 0) break;
            off += n;
          }
          return new TextDecoder("utf-8", { fatal: true }).decode(buf.subarray(0, off)).trim();
        } finally {
          closeSync(fd);
        }
      } finally {
        ssh.close();
      }
    } finally {
      dir.close();
    }
  } catch {
    return null;
  }
}

/**
 * Server startup: remove the temporary homes a crashed process left behind (see
 * removeHomeLeftovers) in the storage roots and the parents of every stored home. Never fails
 * the startup; returns how many were removed.
 */
export async function removeHomeLeftoversAtStartup(app: {
  store: { db: Tx };
  config: { storageRoots: string[] };
  log: { warn: (o: object, m: string) => void; info: (o: object, m: string) => void };
}): Promise<number> {
  try {
    const rows = await app.store.db.selectFrom("users").select("home").where("home", "!=", NO_HOME).execute();
    const removed = removeHomeLeftovers(
      app.config.storageRoots,
      rows.map((r) => r.home),
    );
    if (removed) app.log.info({ removed }, "removed temporary home directories left by an interrupted create");
    return removed;
  } catch (err) {
    app.log.warn({ err }, "could not look for temporary home directories left by an interrupted create");
    return 0;
  }
}
