// Atomic file replacement: the new content goes to a temporary file in the same directory, which
// is given its owner and mode, written with one writev, fsynced, and renamed over the target; the
// directory is fsynced after the renames. A reader sees the old file or the new one, never a
// part, and a crash at any point leaves one of the two.

import { constants as C, type Stats } from "node:fs";
import { lstat, mkdir, open, readdir, readFile, rename, unlink, type FileHandle } from "node:fs/promises";
import { randomBytes } from "node:crypto";
import path from "node:path";

export const IS_ROOT = typeof process.getuid === "function" && process.getuid() === 0;

const TMP_MARK = ".gh-";

/** Temporary name for `file`: hidden, never ending in `.conf`, and containing a dot (sudo skips it). */
export function tempName(file: string): string {
  return path.join(path.dirname(file), `.${path.basename(file)}${TMP_MARK}${process.pid}-${randomBytes(4).toString("hex")}.tmp`);
}

export interface Owner {
  uid: number;
  gid: number;
  mode: number;
}

export interface WrittenStat {
  ino: number;
  size: number;
  mtimeMs: number;
  mode: number;
  uid: number;
  gid: number;
}

export function statKey(st: Stats): WrittenStat {
  return { ino: st.ino, size: st.size, mtimeMs: st.mtimeMs, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid };
}

export function sameStat(a: WrittenStat | undefined, b: WrittenStat | null): boolean {
  return !!a && !!b && a.ino === b.ino && a.size === b.size && a.mtimeMs === b.mtimeMs && a.mode === b.mode && a.uid === b.uid && a.gid === b.gid;
}

export async function lstatOrNull(p: string): Promise<Stats | null> {
  try {
    return await lstat(p);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT" || (e as NodeJS.ErrnoException).code === "ENOTDIR") return null;
    throw e;
  }
}

export function totalLength(parts: readonly Buffer[]): number {
  let n = 0;
  for (const p of parts) n += p.length;
  return n;
}

async function writeAll(fh: FileHandle, parts: readonly Buffer[]): Promise<void> {
  const want = totalLength(parts);
  const { bytesWritten } = await fh.writev(parts as Buffer[]);
  if (bytesWritten === want) return;
  // Short write (not expected from a regular file): write the rest piece by piece.
  let skip = bytesWritten;
  for (const p of parts) {
    if (skip >= p.length) {
      skip -= p.length;
      continue;
    }
    let buf = p.subarray(skip);
    skip = 0;
    while (buf.length) {
      const r = await fh.write(buf);
      buf = buf.subarray(r.bytesWritten);
    }
  }
}

export interface PreparedReplace {
  /** Rename the synced temporary file over the target. */
  rename(): Promise<WrittenStat>;
  /** Remove the temporary file instead. */
  abort(): Promise<void>;
}

/**
 * First half of a replacement: write `parts` to a temporary file next to `target` with `owner`
 * (chown, chmod, one writev, fsync). `dirPrefix` lets the caller address the directory through
 * an open descriptor (`/proc/self/fd/N`), so a directory swapped for a symlink meanwhile is
 * never written through. The caller fsyncs the directory after renaming (once for many files).
 */
export async function prepareReplace(target: string, parts: readonly Buffer[], owner: Owner, dirPrefix?: string): Promise<PreparedReplace> {
  const dir = dirPrefix ?? path.dirname(target);
  const tmp = path.join(dir, path.basename(tempName(target)));
  const dest = path.join(dir, path.basename(target));
  const fh = await open(tmp, C.O_WRONLY | C.O_CREAT | C.O_EXCL | C.O_NOFOLLOW, 0o600);
  let st: Stats;
  try {
    try {
      if (IS_ROOT) await fh.chown(owner.uid, owner.gid);
      await fh.chmod(owner.mode);
      await writeAll(fh, parts);
      await fh.sync();
      st = await fh.stat();
    } finally {
      await fh.close();
    }
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
  return {
    async rename() {
      try {
        await rename(tmp, dest);
      } catch (e) {
        await unlink(tmp).catch(() => undefined);
        throw e;
      }
      return statKey(st);
    },
    abort: () => unlink(tmp).catch(() => undefined),
  };
}

/** Replace `target` with `parts` atomically (the directory fsync is the caller's). */
export async function replaceFile(target: string, parts: readonly Buffer[], owner: Owner, dirPrefix?: string): Promise<WrittenStat> {
  return (await prepareReplace(target, parts, owner, dirPrefix)).rename();
}

export async function fsyncDir(dir: string): Promise<void> {
  const dh = await open(dir, C.O_RDONLY | C.O_DIRECTORY);
  try {
    await dh.sync();
  } finally {
    await dh.close();
  }
}

/** Does the file at `file` hold exactly `parts`? (false when missing) */
export async function sameContent(file: string, parts: readonly Buffer[], st?: Stats | null): Promise<boolean> {
  const s = st === undefined ? await lstatOrNull(file) : st;
  if (!s?.isFile() || s.size !== totalLength(parts)) return false;
  const disk = await readFile(file);
  if (disk.length !== s.size) return false;
  let off = 0;
  for (const p of parts) {
    if (p.compare(disk, off, off + p.length) !== 0) return false;
    off += p.length;
  }
  return true;
}

/** Two part lists with the same bytes (cheap when most parts are the same objects). */
export function partsEqual(a: readonly Buffer[], b: readonly Buffer[]): boolean {
  if (a.length === b.length) {
    let same = true;
    for (let i = 0; i < a.length; i++) {
      if (a[i] !== b[i] && !a[i].equals(b[i])) {
        same = false;
        break;
      }
    }
    if (same) return true;
  }
  if (totalLength(a) !== totalLength(b)) return false;
  return Buffer.concat(a as Buffer[]).equals(Buffer.concat(b as Buffer[]));
}

/** Create `dir` (and parents) when missing. */
export async function ensureDir(dir: string, mode = 0o755): Promise<void> {
  await mkdir(dir, { recursive: true, mode });
}

/**
 * Remove temporary files a crashed writer left in `dir` (only ours, and only those of processes
 * that are gone).
 */
export async function removeStaleTemps(dir: string): Promise<number> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return 0;
  }
  let n = 0;
  for (const name of names) {
    const m = /^\..+\.gh-(\d+)-[0-9a-f]+\.tmp$/.exec(name);
    if (!m) continue;
    const pid = Number(m[1]);
    if (pid === process.pid || alive(pid)) continue;
    await unlink(path.join(dir, name)).then(
      () => n++,
      () => undefined,
    );
  }
  return n;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}
