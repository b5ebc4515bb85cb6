// The private directory `<data-dir>/private`: the SQLite store (with its -wal/-shm files) and the
// secret-box key live there, mode 0700, every file 0600 whatever the process umask. The rest of the
// data dir (the demo's host root, storage root, audit reports) stays reachable for other users, so
// only the secrets are fenced off — by the directory itself, not by each file's own mode alone.
//
// Startup repairs looser modes (and says so in the log) and moves a store left at the old place
// (`<data-dir>/gatehouse.db`, from before the private directory existed) into it.

import { chmodSync, closeSync, existsSync, fchmodSync, lstatSync, mkdirSync, openSync, readdirSync, renameSync, constants as fsc } from "node:fs";
import path from "node:path";

export const PRIVATE_DIR = "private";
export const SQLITE_FILE = "gatehouse.db";
/** SQLite's companions of the store file: moved and fenced together with it. */
const SQLITE_SUFFIXES = ["", "-wal", "-shm", "-journal"];

export interface PrivateDirLog {
  warn(obj: object, msg: string): void;
}

export function privateDirOf(dataDir: string): string {
  return path.join(dataDir, PRIVATE_DIR);
}

/** Where the embedded store lives for a data dir. */
export function sqlitePathOf(dataDir: string): string {
  return path.join(privateDirOf(dataDir), SQLITE_FILE);
}

/** Thrown when the data dir cannot be made private (wrong owner, both store files present). */
export class PrivateDirError extends Error {
  override name = "PrivateDirError";
}

/**
 * Create or repair `<dataDir>/private` and move an old-layout store into it. Returns its path.
 * Synchronous: it runs once, before the store opens.
 */
export function preparePrivateDir(dataDir: string, log: PrivateDirLog): string {
  mkdirSync(dataDir, { recursive: true, mode: 0o755 });
  guardDataDir(dataDir, log);
  const dir = privateDirOf(dataDir);
  try {
    mkdirSync(dir, { mode: 0o700 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
  }
  const st = lstatSync(dir);
  if (!st.isDirectory()) throw new PrivateDirError(`${dir} is not a directory; move it away and start again`);
  const uid = process.getuid?.();
  if (uid !== undefined && st.uid !== uid) {
    throw new PrivateDirError(`${dir} belongs to uid ${st.uid}, not to this process (uid ${uid}); fix its owner and start again`);
  }
  if ((st.mode & 0o777) !== 0o700) {
    chmodSync(dir, 0o700);
    log.warn({ path: dir, was: octal(st.mode), now: "0700" }, "repaired the mode of the private directory");
  }
  moveOldStore(dataDir, log);
  repairFiles(dir, log);
  return dir;
}

/**
 * A data dir others may write to would let them rename `private` away and plant their own; drop
 * group/other write unless the directory is sticky (then others cannot rename what is ours).
 */
function guardDataDir(dataDir: string, log: PrivateDirLog): void {
  const st = lstatSync(dataDir);
  const sticky = (st.mode & 0o1000) !== 0;
  if ((st.mode & 0o022) !== 0 && !sticky) {
    const now = st.mode & 0o7755;
    chmodSync(dataDir, now);
    log.warn({ path: dataDir, was: octal(st.mode), now: octal(now) }, "repaired the mode of the data directory (others could write to it)");
  }
}

/** Every entry of the private directory: files 0600, directories 0700 (one level is all we create). */
function repairFiles(dir: string, log: PrivateDirLog): void {
  for (const name of readdirSync(dir)) {
    const p = path.join(dir, name);
    const st = lstatSync(p);
    if (st.isSymbolicLink()) continue; // chmod would follow it; nothing of ours is a link
    const want = st.isDirectory() ? 0o700 : 0o600;
    if ((st.mode & 0o7777) !== want) {
      chmodSync(p, want);
      log.warn({ path: p, was: octal(st.mode), now: octal(want) }, "repaired the mode of a private file");
    }
  }
}

/** `<dataDir>/gatehouse.db` (+ -wal, -shm) from before the private directory: move it in. */
function moveOldStore(dataDir: string, log: PrivateDirLog): void {
  const oldFile = path.join(dataDir, SQLITE_FILE);
  if (!existsSync(oldFile)) return;
  const newFile = sqlitePathOf(dataDir);
  if (existsSync(newFile)) {
    throw new PrivateDirError(`two stores: ${oldFile} (old place) and ${newFile}; keep one (move the other away) and start again`);
  }
  // The store file last: while it is still at the old place a crash leaves a layout this
  // function handles again on the next start (companions already moved are simply kept).
  for (const suffix of [...SQLITE_SUFFIXES.slice(1), ""]) {
    const from = oldFile + suffix;
    if (existsSync(from)) renameSync(from, newFile + suffix);
  }
  log.warn({ from: oldFile, to: newFile }, "moved the store into the private directory (one-time move from the old layout)");
}

/**
 * Create `file` with mode 0600 whatever the umask (the umask can only remove bits, and fchmod
 * sets them exactly). Fails if it already exists (O_EXCL): callers decide what an existing file means.
 */
export function createPrivateFile(file: string): number {
  const fd = openSync(file, fsc.O_CREAT | fsc.O_EXCL | fsc.O_WRONLY | fsc.O_NOFOLLOW, 0o600);
  try {
    fchmodSync(fd, 0o600);
  } catch (err) {
    closeSync(fd);
    throw err;
  }
  return fd;
}

/** Touch the SQLite store file as 0600 before SQLite creates it (SQLite gives -wal/-shm the same mode). */
export function ensurePrivateSqliteFile(file: string): void {
  if (existsSync(file)) return;
  try {
    closeSync(createPrivateFile(file));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
  }
}

function octal(mode: number): string {
  return (mode & 0o7777).toString(8).padStart(4, "0");
}
