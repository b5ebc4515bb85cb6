// The fleet proxy's call journal: an append-only file in the data dir's private directory where
// a proxied call's audit entry is written BEFORE the call is sent to its system (one write(2) of
// the turn's entries; ./call-audit.ts folds them into the audit table a few milliseconds later).
// A line is the entry's audit row as JSON. A write to the file, like a SQLite commit with
// synchronous=NORMAL (the store's setting), is in the kernel once write(2) returns: it survives
// the process dying at any later point (kill -9, a crash), not a power loss of the machine.
//
// Files are named after the process (and App) writing them: `<instance>~<part>.jsonl`, instance
// = host.boot.pid.start.seq (host and boot id: a file of another machine, or of an earlier boot,
// is told apart; pid and its start time (/proc/<pid>/stat): a pid reused by a later process is
// not the writer; seq: several Apps in one process). A file whose writer is no longer running is
// a leftover of a process that stopped without folding it: the next process started on the same
// data dir claims it (rename, so two never both take it) and folds what is not in the audit table.

import { closeSync, ftruncateSync, mkdirSync, openSync, readFileSync, readdirSync, renameSync, unlinkSync, writeSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { PRIVATE_DIR } from "../store/private-dir.js";

/** The journal directory of a data dir. */
export function journalDirOf(dataDir: string): string {
  return path.join(dataDir, PRIVATE_DIR, "fleet-call-journal");
}

function readText(file: string): string | null {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return null;
  }
}

/** A process's start time in clock ticks since boot (field 22 of /proc/<pid>/stat); null: not running, or no /proc. */
function startTicks(pid: number): string | null {
  const stat = readText(`/proc/${pid}/stat`);
  if (!stat) return null;
  return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19] ?? null;
}

const HOST = os.hostname().replace(/[^A-Za-z0-9-]/g, "-") || "host";
const BOOT = (readText("/proc/sys/kernel/random/boot_id") ?? "").trim().replace(/[^A-Za-z0-9-]/g, "") || "noboot";
const HAS_PROC = startTicks(process.pid) !== null;
const START = startTicks(process.pid) ?? String(Math.round(performance.timeOrigin));
/** Journal instances open in this process (several Apps may share one). */
const liveHere = new Set<string>();
let nextSeq = 1;

interface Owner {
  host: string;
  boot: string;
  pid: number;
  start: string;
}

function ownerOf(instance: string): Owner | null {
  const [host, boot, pid, start, seq] = instance.split(".");
  if (!host || !boot || !pid || !start || !seq || !/^[0-9]+$/.test(pid)) return null;
  return { host, boot, pid: Number(pid), start };
}

/** Is the writer of `instance` certainly gone? Files of another host are never taken. */
function writerGone(instance: string): boolean {
  if (liveHere.has(instance)) return false;
  const o = ownerOf(instance);
  if (!o || o.host !== HOST) return false;
  if (o.boot !== BOOT) return true;
  if (o.pid === process.pid) return true; // an earlier run with this pid, or an App of this process closed
  if (HAS_PROC) return startTicks(o.pid) !== o.start;
  try {
    process.kill(o.pid, 0);
    return false; // running (perhaps a reused pid: the file waits for it to end)
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "ESRCH";
  }
}

/** The append-only journal of one App. */
export class CallJournal {
  readonly instance: string;
  private fd: number | null = null;
  private part = 0;
  private file = "";
  private dirMade = false;
  /** Bytes in the current file. */
  bytes = 0;

  constructor(readonly dir: string) {
    this.instance = `${HOST}.${BOOT}.${process.pid}.${START}.${nextSeq++}`;
    liveHere.add(this.instance);
  }

  /** The current file (opened at the first append). */
  private open(): number {
    if (this.fd === null) {
      if (!this.dirMade) mkdirSync(this.dir, { recursive: true, mode: 0o700 });
      this.dirMade = true;
      this.file = path.join(this.dir, `${this.instance}~${this.part}.jsonl`);
      this.fd = openSync(this.file, "a", 0o600);
    }
    return this.fd;
  }

  /** Append `text` (whole lines); throws if it could not be written. */
  append(text: string): void {
    const fd = this.open();
    const n = Buffer.byteLength(text);
    // The string as is (encoded in the write); a short write (a full disk) finishes from its bytes.
    let off = writeSync(fd, text);
    if (off < n) {
      const buf = Buffer.from(text);
      while (off < n) off += writeSync(fd, buf, off, n - off);
    }
    this.bytes += n;
  }

  /** Empty the current file (every line in it is folded); false: it could not be (rotate instead). */
  empty(): boolean {
    if (this.fd === null) return true;
    try {
      ftruncateSync(this.fd, 0);
      this.bytes = 0;
      return true;
    } catch {
      return false;
    }
  }

  /** Start a new file; answers the one written so far (null: none), to remove once its lines are folded or written again. */
  rotate(): string | null {
    if (this.fd === null) return null;
    const old = this.file;
    closeSync(this.fd);
    this.fd = null;
    this.bytes = 0;
    this.part++;
    return old;
  }

  /** Remove a file whose every line is folded (or written again in the current file). */
  static remove(file: string): void {
    try {
      unlinkSync(file);
    } catch {
      // gone already
    }
  }

  /** Close; answers the last file (null: none), to remove when every line in it is folded. */
  close(): string | null {
    liveHere.delete(this.instance);
    return this.rotate();
  }

  /**
   * Take the files whose writer is gone: each is renamed to this journal's name first (only one
   * process gets a given file; a claim left by a process that died while folding is taken again).
   */
  claimLeftovers(): string[] {
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch {
      return [];
    }
    const claimed: string[] = [];
    for (const name of names) {
      if (!name.endsWith(".jsonl")) continue;
      const instance = name.slice(0, name.indexOf("~"));
      if (!instance || instance === this.instance || !writerGone(instance)) continue;
      const to = path.join(this.dir, `${this.instance}~r${claimed.length}-${Date.now()}.jsonl`);
      try {
        renameSync(path.join(this.dir, name), to);
        claimed.push(to);
      } catch {
        // another process claimed it first
      }
    }
    return claimed;
  }
}

/** The lines of a journal file, parsed; a line cut short by a crash (or damaged) is skipped. */
export function readJournalLines(file: string): unknown[] {
  const text = readText(file) ?? "";
  const out: unknown[] = [];
  for (const line of text.split("\n")) {
    if (!line) continue;
    try {
      out.push(JSON.parse(line));
    } catch {
      // an incomplete last line
    }
  }
  return out;
}
