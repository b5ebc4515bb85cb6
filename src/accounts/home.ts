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
// controlled by its owner, so the filesystem helpers never follow a symlink they did not expect:
// they lchown, open with O_NOFOLLOW / O_EXCL, and replace files by rename.

import { constants as fsConstants, createReadStream, type Stats } from "node:fs";
import { access, chmod, chown, lchown, lstat, lutimes, mkdir, open, readFile, readdir, readlink, realpath, rename, rm, stat, symlink, unlink, utimes } from "node:fs/promises";
import { randomBytes } from "node:crypto";
import path from "node:path";
import { CallError, ERRNO, type ValidationErrors } from "../server/errors.js";

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
    errors.add(attr, "Please provide a valid value for home_mode attribute", ERRNO.EINVAL);
    return null;
  }
  let ok = true;
  if ((mode & 0o400) === 0) {
    errors.add(attr, "Home directory must be readable by User.", ERRNO.EINVAL);
    ok = false;
  }
  if ((mode & 0o100) === 0) {
    errors.add(attr, "Home directory must be executable by User.", ERRNO.EINVAL);
    ok = false;
  }
  return ok ? mode : null;
}

function modeNumber(mode: number | string): number {
  if (typeof mode === "number") return mode & 0o7777;
  const parsed = parseHomeMode(mode);
  if (parsed === null) throw new CallError(`Invalid home directory mode ${JSON.stringify(mode)}`, ERRNO.EINVAL);
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

/** Strip trailing slashes and collapse `//`, `.` and `..` (lexically). */
function normalizeDir(p: string): string {
  const n = posix.normalize(p);
  return n.length > 1 ? n.replace(/\/+$/, "") : n;
}

async function statOrNull(p: string): Promise<Stats | null> {
  try {
    return await stat(p);
  } catch {
    return null;
  }
}

function isInside(child: string, root: string): boolean {
  return child === root || child.startsWith(root === "/" ? "/" : root + "/");
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
    errors.add(attr, '"Home Directory" must be an absolute path.', ERRNO.EINVAL);
    return home;
  }
  // Before any filesystem call: a NUL byte would make node's fs throw.
  if (/[\u0000-\u001f\u007f]/.test(home)) {
    errors.add(attr, '"Home Directory" cannot contain control characters.', ERRNO.EINVAL);
    return home;
  }
  const given = normalizeDir(home);
  const givenStat = await statOrNull(given);
  if (givenStat && !givenStat.isDirectory()) {
    errors.add(attr, '"Home Directory" cannot be a file.', ERRNO.EINVAL);
    return given;
  }
  if (home.includes(":")) {
    errors.add(attr, '"Home Directory" cannot contain colons (:).', ERRNO.EINVAL);
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
        `${home}: path specified to use for home directory creation does not exist. Gatehouse uses the ` +
          "provided path as the parent directory of the newly-created home directory.",
        ERRNO.EINVAL,
      );
    } else if (!homeCreate) {
      errors.add(attr, `${home}: path specified to use as home directory does not exist.`, ERRNO.EINVAL);
    }
    const parent = posix.dirname(given);
    if (!(await statOrNull(parent))?.isDirectory()) {
      errors.add(attr, `${parent}: parent path of specified home directory does not exist.`, ERRNO.EINVAL);
    }
  } else if (appendUser) {
    const target = await statOrNull(effective);
    if (target && !target.isDirectory()) {
      errors.add(attr, "Path for home directory already exists and is not a directory", ERRNO.EEXIST);
    }
  }

  if (errors.size === before) {
    // The directory we will own or create in: the home itself, or its parent when it is new.
    const existing = (await statOrNull(effective)) ? effective : posix.dirname(effective);
    try {
      await access(existing, fsConstants.W_OK);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === "EROFS") errors.add(attr, "Path is on a read-only filesystem.", ERRNO.EINVAL);
      else if (code === "EPERM") errors.add(attr, `${existing}: home directory path is immutable.`, ERRNO.EINVAL);
      // EACCES only means this process is unprivileged (demo mode); provisioning will say more.
    }
  }

  const homes = new Map<string, string>();
  for (const [h, user] of input.otherUserHomes) homes.set(normalizeDir(h), user);
  for (const candidate of effective === given ? [given] : [effective, given]) {
    const owner = homes.get(candidate);
    if (owner !== undefined) {
      errors.add(attr, `${candidate}: homedir already used by ${owner}.`, ERRNO.EEXIST);
      break;
    }
  }

  const roots = input.storageRoots.map(normalizeDir);
  const rootList = roots.join(", ");
  const outside = roots.length
    ? `"Home Directory" must be inside a storage root (${rootList}) or set to ${NO_HOME}.`
    : `"Home Directory" must be set to ${NO_HOME}: no storage roots are configured.`;
  const atRoot = roots.find((r) => r === effective);
  if (atRoot !== undefined) {
    errors.add(attr, `"Home Directory" cannot be at root of "${atRoot}"`, ERRNO.EINVAL);
  } else if (!roots.some((r) => isInside(effective, r))) {
    errors.add(attr, outside, ERRNO.EINVAL);
  } else {
    // Lexically inside; make sure no symlink on the way leads out of the storage roots.
    const real = await resolveExisting(effective);
    const realRoots = await Promise.all(roots.map(resolveExisting));
    if (realRoots.some((r) => r === real)) {
      errors.add(attr, `"Home Directory" cannot be at root of "${roots[realRoots.indexOf(real)]}"`, ERRNO.EINVAL);
    } else if (!realRoots.some((r) => isInside(real, r))) {
      errors.add(attr, outside, ERRNO.EINVAL);
    }
  }
  return effective;
}

// ---------------------------------------------------------------------------------------------
// filesystem operations

export interface CreateHomeOptions {
  uid: number;
  gid: number;
  /** Octal string ("700") or number; default 0o700. */
  mode?: number | string;
  /** Skeleton directory whose contents are copied into the home (e.g. `<host root>/etc/skel`). */
  skelDir?: string | null;
}

/**
 * Create (or take over) a home directory: mkdir if missing, give it to the user with `mode`, then
 * copy the skeleton files that are not already there. Returns true when the directory was
 * created by this call, so the caller can remove it if the rest of the create fails.
 */
export async function createHome(home: string, { uid, gid, mode = DEFAULT_HOME_MODE, skelDir = null }: CreateHomeOptions): Promise<boolean> {
  const finalMode = modeNumber(mode);
  let created = false;
  try {
    // Private until the final mode is applied.
    await mkdir(home, { mode: 0o700 });
    created = true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EEXIST") {
      throw new CallError(`Failed to create the home directory (${home}) for user: ${(e as Error).message}`, ERRNO.EFAULT);
    }
    if (!(await lstat(home)).isDirectory() && !(await statOrNull(home))?.isDirectory()) {
      throw new CallError("Path for home directory already exists and is not a directory", ERRNO.EEXIST);
    }
  }
  try {
    await chown(home, uid, gid);
    await chmod(home, finalMode);
    if (skelDir) await copySkeleton(skelDir, home, uid, gid);
  } catch (e) {
    if (created) await rm(home, { recursive: true, force: true });
    throw e;
  }
  return created;
}

/** Copy `skelDir` into `dest` without overwriting anything; copies are owned by the user. */
async function copySkeleton(skelDir: string, dest: string, uid: number, gid: number): Promise<void> {
  let names: string[];
  try {
    names = await readdir(skelDir);
  } catch {
    return; // no skeleton on this host
  }
  for (const name of names) {
    const src = posix.join(skelDir, name);
    // BSD-style skeletons name dotfiles "dot.profile"; they become ".profile".
    const target = posix.join(dest, name.startsWith("dot.") ? name.slice(3) : name);
    const st = await lstat(src);
    if (await lstat(target).then(() => true, () => false)) continue;
    if (st.isDirectory()) {
      await mkdir(target, { mode: 0o700 });
      await copySkeleton(src, target, uid, gid);
      await lchown(target, uid, gid);
      await chmod(target, st.mode & 0o7777);
    } else if (st.isFile()) {
      // O_EXCL: a name that appeared meanwhile (even as a symlink) is never written through.
      const fh = await open(target, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_NOFOLLOW, 0o600);
      try {
        await fh.writeFile(await readFile(src));
        await fh.chown(uid, gid);
        await fh.chmod(st.mode & 0o7777);
      } finally {
        await fh.close();
      }
    } else if (st.isSymbolicLink()) {
      await symlink(await readlink(src), target);
      await lchown(target, uid, gid);
    }
  }
}

/**
 * Apply `home_mode` to an existing home (non-recursive), and ownership when uid/gid are given
 * (-1 keeps that id).
 */
export async function applyHomeMode(home: string, mode: number | string, uid = -1, gid = -1): Promise<void> {
  if (uid !== -1 || gid !== -1) await chown(home, uid, gid);
  await chmod(home, modeNumber(mode));
}

export interface CopyHomeOptions {
  uid: number;
  gid: number;
  /** Mode for the new home; default: the old home's mode. */
  mode?: number | string;
  /** Progress for the job: percent 0–100 and what is being done. */
  onProgress?: (percent: number, description: string) => void;
}

export interface CopyHomeResult {
  directories: number;
  files: number;
  symlinks: number;
  bytes: number;
  /** Special files, other filesystems' mount points and `.zfs` are not copied. */
  skipped: number;
}

interface CopyEntry {
  rel: string;
  st: Stats;
}

/**
 * Move a home's contents (`user.update` with a new home, run as a job): copies everything under
 * `from` into `to`, keeping modes, ownership and modification times, replacing what is already
 * there. Like upstream it stays on `from`'s filesystem (does not descend into mounts) and skips
 * `.zfs`. `to` is created if needed and given to the user with the old home's mode (or `mode`).
 * The old home is left in place.
 */
export async function copyHome(from: string, to: string, { uid, gid, mode, onProgress }: CopyHomeOptions): Promise<CopyHomeResult> {
  const result: CopyHomeResult = { directories: 0, files: 0, symlinks: 0, bytes: 0, skipped: 0 };
  const rootStat = await stat(from);
  if (!rootStat.isDirectory()) throw new CallError(`${from}: old home directory is not a directory`, ERRNO.ENOTDIR);

  onProgress?.(0, `Scanning ${from}`);
  // A new home inside the old one must not be copied into itself.
  const target = normalizeDir(to);
  const entries: CopyEntry[] = [];
  const walk = async (rel: string): Promise<void> => {
    for (const name of (await readdir(posix.join(from, rel))).sort()) {
      const childRel = rel ? posix.join(rel, name) : name;
      const st = await lstat(posix.join(from, childRel));
      const skip =
        (rel === "" && name === ".zfs") ||
        (st.isDirectory() && st.dev !== rootStat.dev) ||
        normalizeDir(posix.join(from, childRel)) === target;
      if (skip) {
        result.skipped++;
        continue;
      }
      entries.push({ rel: childRel, st });
      if (st.isDirectory()) await walk(childRel);
    }
  };
  await walk("");

  await mkdir(to, { recursive: true, mode: 0o700 });
  await chown(to, uid, gid);
  await chmod(to, mode === undefined ? rootStat.mode & 0o7777 : modeNumber(mode));

  let lastPercent = -1;
  const directories: CopyEntry[] = [];
  for (const [index, entry] of entries.entries()) {
    const src = posix.join(from, entry.rel);
    const dest = posix.join(to, entry.rel);
    const { st } = entry;
    const existing = await lstat(dest).catch(() => null);
    if (st.isDirectory()) {
      if (existing && !existing.isDirectory()) await rm(dest, { force: true });
      if (!existing || !existing.isDirectory()) await mkdir(dest, { mode: 0o700 });
      directories.push(entry); // mode, owner and times are applied after the contents
      result.directories++;
    } else if (st.isFile()) {
      if (existing && !existing.isFile()) await rm(dest, { recursive: true, force: true });
      await copyFileNoFollow(src, dest, st);
      result.files++;
      result.bytes += st.size;
    } else if (st.isSymbolicLink()) {
      if (existing) await rm(dest, { recursive: true, force: true });
      await symlink(await readlink(src), dest);
      await lchownBestEffort(dest, st.uid, st.gid);
      await lutimes(dest, st.atime, st.mtime).catch(() => undefined);
      result.symlinks++;
    } else {
      result.skipped++; // sockets, fifos, devices
    }
    const percent = Math.floor(((index + 1) * 100) / entries.length);
    if (percent !== lastPercent) {
      lastPercent = percent;
      onProgress?.(Math.min(percent, 99), `Copying ${entry.rel}`);
    }
  }
  // Deepest first, so a read-only directory is locked only after its contents are in.
  for (const { rel, st } of directories.reverse()) {
    const dest = posix.join(to, rel);
    await lchownBestEffort(dest, st.uid, st.gid);
    await chmod(dest, st.mode & 0o7777);
    await utimes(dest, st.atime, st.mtime);
  }
  onProgress?.(100, `Copied ${result.files} files and ${result.directories} directories to ${to}`);
  return result;
}

async function lchownBestEffort(p: string, uid: number, gid: number): Promise<void> {
  try {
    await lchown(p, uid, gid);
  } catch (e) {
    // An unprivileged server (demo mode) cannot give files away; the content still moves.
    if ((e as NodeJS.ErrnoException).code !== "EPERM") throw e;
  }
}

async function copyFileNoFollow(src: string, dest: string, st: Stats): Promise<void> {
  const fh = await open(dest, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_TRUNC | fsConstants.O_NOFOLLOW, 0o600);
  try {
    // Streamed in chunks: homes may hold large files.
    for await (const chunk of createReadStream(src)) {
      const buf = chunk as Buffer;
      for (let off = 0; off < buf.length; ) off += (await fh.write(buf, off)).bytesWritten;
    }
    try {
      await fh.chown(st.uid, st.gid);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EPERM") throw e;
    }
    await fh.chmod(st.mode & 0o7777);
    await fh.utimes(st.atime, st.mtime);
  } finally {
    await fh.close();
  }
}

/** `user.delete` keeps the home but removes `<home>/.ssh` (best effort, as upstream). */
export async function removeSshDir(home: string): Promise<void> {
  if (!home.startsWith("/") || normalizeDir(home) === NO_HOME) return;
  await rm(posix.join(home, ".ssh"), { recursive: true, force: true }).catch(() => undefined);
}

/**
 * Write the `sshpubkey` field to `<home>/.ssh/authorized_keys` (`.ssh` 0700, file 0600, both owned
 * by the user), atomically: temp file, fsync, rename, fsync of the directory. Empty keys remove the
 * file. Nothing happens when the home is not a directory (as upstream). Returns true when the
 * file was written or removed.
 */
export async function writeAuthorizedKeys(home: string, keys: string | readonly string[] | null, uid: number, gid: number): Promise<boolean> {
  // The home itself may be reached through a symlink (validateHome checked where it leads);
  // below it, only real directories and files are trusted.
  if (normalizeDir(home) === NO_HOME || !(await statOrNull(home))?.isDirectory()) return false;
  const text = (typeof keys === "string" ? keys : (keys ?? []).join("\n")).trim();
  const sshDir = posix.join(home, ".ssh");
  const file = posix.join(sshDir, "authorized_keys");
  if (text === "") {
    await unlink(file).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== "ENOENT") throw e;
    });
    return true;
  }

  const dirStat = await lstat(sshDir).catch(() => null);
  if (!dirStat) await mkdir(sshDir, { mode: 0o700 });
  else if (!dirStat.isDirectory()) throw new CallError(`${sshDir} is not a directory`, ERRNO.ENOTDIR); // incl. a symlink
  await lchown(sshDir, uid, gid);
  await chmod(sshDir, 0o700);

  const tmp = posix.join(sshDir, `.authorized_keys.${randomBytes(6).toString("hex")}.tmp`);
  const fh = await open(tmp, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_NOFOLLOW, 0o600);
  try {
    try {
      await fh.writeFile(text + "\n");
      await fh.chmod(0o600);
      await fh.chown(uid, gid);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, file);
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
  const dh = await open(sshDir, fsConstants.O_RDONLY | fsConstants.O_DIRECTORY);
  try {
    await dh.sync();
  } finally {
    await dh.close();
  }
  return true;
}

/** authorized_keys files bigger than this are not shown (sshd itself reads lines of at most 16 KiB). */
const AUTHORIZED_KEYS_MAX_BYTES = 1024 * 1024;

/**
 * The user entry's `sshpubkey`: `<home>/.ssh/authorized_keys` trimmed, or null when missing,
 * unreadable or not valid UTF-8 (reference §1.2). A symlinked `.ssh` or authorized_keys is not
 * followed: the user owns both names and could otherwise make the server show any file.
 */
export async function readAuthorizedKeys(home: string): Promise<string | null> {
  if (normalizeDir(home) === NO_HOME) return null;
  try {
    const sshDir = posix.join(home, ".ssh");
    if (!(await lstat(sshDir)).isDirectory()) return null;
    const fh = await open(posix.join(sshDir, "authorized_keys"), fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW | fsConstants.O_NONBLOCK);
    try {
      const st = await fh.stat();
      if (!st.isFile() || st.size > AUTHORIZED_KEYS_MAX_BYTES) return null;
      return new TextDecoder("utf-8", { fatal: true }).decode(await fh.readFile()).trim();
    } finally {
      await fh.close();
    }
  } catch {
    return null;
  }
}
