// The writer: after committed account changes (debounced), one run at a time, bring the host
// files in line with the store.
//
// - A *full* run reads a consistent snapshot of every user, group and membership, rebuilds the
//   model and writes each file whose bytes, owner or mode differ from the disk. It happens at
//   start, on `provisionNow`, after an error, and whenever a change arrives without hints.
// - An *incremental* run re-reads only the rows a change names: the users and groups of its typed
//   event (src/store/change-event.ts), published by this process after its commit (App.changed)
//   or read from the change log after another process announced it (PostgreSQL). Only the
//   blocks of the files that hold those rows are re-rendered. A full run follows some seconds
//   after the last incremental one (`reconcileMs`), so a hint that missed something is repaired.
//
// Files are replaced atomically (./atomic.ts), in the order groups → users; directories are
// fsynced once per run.
//
// A full run skips the store read when the store's change feed (src/store/change-feed.ts) shows
// no change since the stamp taken just before the model's last full read, and no incremental
// run has touched the model since: the model then equals the store, and the run goes straight
// to render (unchanged blocks are reused), comparison with the disk and writing. On PostgreSQL a
// change announced by another process is handled like a local one when it came with its typed
// event; one of unknown extent (`all`) schedules a full run (`remoteMs`).

import path from "node:path";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import type { Db, Dialect } from "../store/db.js";
import type { ChangeFeed } from "../store/change-feed.js";
import { IS_ROOT, ensureDir, fsyncDir, lstatOrNull, partsEqual, prepareReplace, removeStaleTemps, sameContent, sameStat, statKey, type WrittenStat } from "./atomic.js";
import { FILES, generateAll, index, primaryGid, shadowGid, type FileId, type FileSpec } from "./generate.js";
import { keysPlacement, keysReadMark, syncAuthorizedKeys, type KeysPlacement } from "./keys.js";
import { HostModel } from "./model.js";
import { Slicer } from "./slice.js";
import { memberCounts, readGroups, readMemberships, readPolicy, readSnapshot, readTransaction, readUsers } from "./snapshot.js";
import type { ProvUser } from "./types.js";
import type { ChangeEvent } from "../store/change-event.js";
import { candidateKeys, driftedEntries, packageAccountsOf, systemCandidateSteps, type CandidateKeys, type DriftFound, type KnownAccounts, type SystemAccounts } from "./drift.js";

export interface ProvisionLog {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  debug(obj: object, msg?: string): void;
}

export interface ProvisionContext {
  db: Db;
  dialect: Dialect;
  hostRoot: string;
  storageRoots: readonly string[];
  log: ProvisionLog;
  /**
   * The store's change feed. With it a full run skips the store read when nothing changed since
   * the model was last read in full, and changes announced by other processes start a full run.
   */
  changes?: Pick<ChangeFeed, "stamp" | "onRemoteChange">;
  /**
   * Host files found edited behind the writer's back (they differ from what it last wrote) and
   * rewritten: log and audit them. Errors are logged, never fatal to the run.
   */
  onDrift?(found: DriftFound[]): Promise<void>;
  /**
   * System accounts (ids below 1000) that appeared in the host's passwd / group and that the store
   * does not know by name or id — a package's maintainer script ran `adduser --system`. They are
   * taken into the store as built-ins (and audited) instead of being reverted.
   */
  adoptSystemAccounts?(found: SystemAccounts): Promise<void>;
}

export interface ProvisionerOptions {
  /** Delay between the first change and the run that writes it. */
  debounceMs?: number;
  /** Full run this long after the last incremental one (0 = never). */
  reconcileMs?: number;
  /**
   * Full run at this interval regardless (0 = never): picks up changes committed by another
   * server process sharing the same PostgreSQL while this one could not hear their announcements
   * (listener down). It skips the store read when the change stamp has not moved.
   */
  intervalMs?: number;
  /**
   * A change committed by another process and announced through the change feed (PostgreSQL)
   * starts a full run this long after the announcement (0 = ignore announcements). This
   * process's own commits are announced too and cannot be told apart: after a burst of them
   * this run and the reconciling run fall together, and the later of the two skips the read.
   */
  remoteMs?: number;
}

export interface RunResult {
  full: boolean;
  /** Absolute paths written (or removed). */
  written: string[];
  ms: number;
  /**
   * A full run that did not read the store: the change stamp had not moved since the model's
   * last full read (and no incremental run touched the model since).
   */
  skippedRead: boolean;
}

/**
 * Whether a directory exists, asked once per directory in one run (`seen`): a run looks after the
 * keys of every user with a home, and homes share a few parents — 100,000 homes under a parent
 * missing on this host were 100,000 failed opens (~3 s at 1,000,000 users). Following links is
 * fine here: a parent that does not resolve with links followed cannot be opened without them.
 */
function parentExists(seen: Map<string, boolean>, dir: string): boolean {
  let there = seen.get(dir);
  if (there === undefined) seen.set(dir, (there = existsSync(dir)));
  return there;
}

export function absPath(hostRoot: string, rel: string): string {
  return path.join(hostRoot, rel);
}

function ownerOf(spec: FileSpec, shadowGidValue: number) {
  return { uid: 0, gid: spec.group === "shadow" ? shadowGidValue : 0, mode: spec.mode };
}

function metaOk(st: { mode: number; uid: number; gid: number }, owner: { uid: number; gid: number; mode: number }): boolean {
  return (st.mode & 0o7777) === owner.mode && (!IS_ROOT || (st.uid === owner.uid && st.gid === owner.gid));
}

export class Provisioner {
  private readonly debounceMs: number;
  private readonly reconcileMs: number;
  private readonly remoteMs: number;
  private model: HostModel | null = null;
  /**
   * The change stamp taken just before the full snapshot read the model was last brought to;
   * null when unknown, or once anything but such a read changed the model (an incremental run,
   * a failure). While `changes.stamp()` still returns it, the model equals the store.
   */
  private syncedStamp: string | null = null;
  private remoteTimer: NodeJS.Timeout | null = null;
  private readonly unsubscribe: (() => void) | null = null;
  /** What this process last wrote (or found identical) per file. */
  private readonly written = new Map<FileId, { parts: Buffer[]; stat: WrittenStat }>();
  /** passwd and group as the last look for package-added system accounts read them. */
  private readonly adoptionSeen = new Map<FileId, WrittenStat>();
  private pendingFull = false;
  private readonly pendingUsers = new Set<number>();
  private readonly pendingGroups = new Set<number>();
  private timer: NodeJS.Timeout | null = null;
  private reconcileTimer: NodeJS.Timeout | null = null;
  private intervalTimer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private idleWaiters: (() => void)[] = [];
  private failures = 0;
  private stopping = false;
  private stopped = false;
  private fullWaiters: { resolve: (r: RunResult) => void; reject: (e: unknown) => void }[] = [];
  private tempsCleaned = false;
  /** The next full run checks every user's authorized_keys. */
  private allKeys = true;
  /**
   * Per user, the fields that decide their authorized_keys (uid, gid, home, keys) when this
   * process last looked after the file. Only a change of these through Gatehouse rewrites an
   * existing file; otherwise the user's own edits stay (a missing file is still created).
   */
  private readonly keySig = new Map<number, string>();
  /** keysReadMark() at the start of the current pass: its keys writes yield to newer service writes. */
  private keysReadAt = 0;
  lastResult: RunResult | null = null;
  lastError: unknown = null;

  constructor(
    readonly ctx: ProvisionContext,
    opts: ProvisionerOptions = {},
  ) {
    this.debounceMs = opts.debounceMs ?? 25;
    this.reconcileMs = opts.reconcileMs ?? 3000;
    this.remoteMs = opts.remoteMs ?? 3000;
    if (ctx.changes && this.remoteMs > 0) this.unsubscribe = ctx.changes.onRemoteChange((ev) => (ev.all ? this.remoteChanged() : this.notify(ev)));
    const interval = opts.intervalMs ?? 0;
    if (interval > 0) {
      this.intervalTimer = setInterval(() => {
        if (!this.stopping && !this.running && !this.hasPending()) this.requestFull();
      }, interval);
      this.intervalTimer.unref?.();
    }
  }

  /**
   * A committed change: the next run re-reads the users and groups its event names. A change of
   * everything, or of settings (the security policy shapes the shadow file), makes it a full run;
   * one that touches none of these (keys, privileges, fleet) leaves the host files alone.
   */
  notify(ev: ChangeEvent): void {
    if (this.stopping) return;
    if (ev.all || ev.settings.length) this.pendingFull = true;
    else if (!ev.users.length && !ev.groups.length) return;
    for (const id of ev.users) this.pendingUsers.add(id);
    for (const id of ev.groups) this.pendingGroups.add(id);
    this.schedule(this.debounceMs);
  }

  requestFull(): void {
    this.pendingFull = true;
    this.schedule(0);
  }

  /**
   * Another process announced a commit: a full run follows within `remoteMs` (not postponed by
   * further announcements). It reads the store unless a full run since the announcement already
   * did (the stamp moved with the announcement).
   */
  private remoteChanged(): void {
    if (this.stopping || this.remoteTimer) return;
    this.remoteTimer = setTimeout(() => {
      this.remoteTimer = null;
      this.pendingFull = true;
      this.schedule(0);
    }, this.remoteMs);
    this.remoteTimer.unref?.();
  }

  private hasPending(): boolean {
    return this.pendingFull || this.pendingUsers.size > 0 || this.pendingGroups.size > 0;
  }

  private schedule(delay: number): void {
    if (this.stopping || this.running || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.running = this.runOnce().finally(() => {
        this.running = null;
        if (this.stopping) return;
        if (this.failures) {
          // Waiters learn about the failure (lastError); the retry backs off.
          this.wakeIdle();
          this.schedule(Math.min(30_000, 250 * 2 ** Math.min(this.failures, 7)));
        } else if (this.hasPending()) this.schedule(this.debounceMs);
        else this.wakeIdle();
      });
    }, delay);
  }

  private wakeIdle(): void {
    const w = this.idleWaiters;
    this.idleWaiters = [];
    for (const r of w) r();
  }

  /** Resolves when nothing is pending or running, after a failed run, or once stopped. */
  whenIdle(): Promise<void> {
    if (this.stopped || (!this.running && !this.timer && !this.hasPending())) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  /** A full run now (after any run in progress); resolves with its result, rejects with its error. */
  provisionNow(): Promise<RunResult> {
    if (this.stopping) return Promise.reject(new Error("the provisioner is stopped"));
    return new Promise((resolve, reject) => {
      this.fullWaiters.push({ resolve, reject });
      this.allKeys = true;
      this.requestFull();
    });
  }

  /** Write what is pending (one last run, no retries), then stop reacting to changes. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    if (this.intervalTimer) clearInterval(this.intervalTimer);
    this.unsubscribe?.();
    if (this.remoteTimer) clearTimeout(this.remoteTimer);
    this.remoteTimer = null;
    if (this.reconcileTimer) clearTimeout(this.reconcileTimer);
    this.reconcileTimer = null;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.running) await this.running;
    if (this.hasPending()) await this.runOnce();
    this.stopped = true;
    for (const w of this.fullWaiters.splice(0)) w.reject(new Error("the provisioner stopped"));
    this.wakeIdle();
  }

  private async runOnce(): Promise<void> {
    const full = this.pendingFull || !this.model;
    const waiters = full ? this.fullWaiters.splice(0) : [];
    const users = [...this.pendingUsers];
    const groups = [...this.pendingGroups];
    this.pendingFull = false;
    this.pendingUsers.clear();
    this.pendingGroups.clear();
    const t0 = performance.now();
    this.keysReadAt = keysReadMark(); // before this pass reads the store (src/provision/keys.ts)
    try {
      const { written, skippedRead } = full ? await this.fullRun() : { written: await this.incrementalRun(users, groups), skippedRead: false };
      const ms = performance.now() - t0;
      this.lastResult = { full, written, ms, skippedRead };
      this.lastError = null;
      this.failures = 0;
      if (written.length) {
        const entry = { full, skippedRead, files: written.map((f) => path.relative(this.ctx.hostRoot, f)), ms: Math.round(ms) };
        if (full) this.ctx.log.info(entry, "host files provisioned");
        else this.ctx.log.debug(entry, "host files provisioned");
      }
      if (full) {
        if (this.reconcileTimer) clearTimeout(this.reconcileTimer);
        this.reconcileTimer = null;
      } else this.scheduleReconcile();
      for (const w of waiters) w.resolve(this.lastResult);
    } catch (err) {
      this.failures++;
      this.lastError = err;
      this.model = null;
      this.syncedStamp = null;
      this.allKeys = true;
      this.pendingFull = true;
      this.ctx.log.error({ err }, "host provisioning failed");
      for (const w of waiters) w.reject(err);
    }
  }

  private scheduleReconcile(): void {
    if (!this.reconcileMs || this.stopping) return;
    if (this.reconcileTimer) clearTimeout(this.reconcileTimer);
    this.reconcileTimer = setTimeout(() => {
      this.reconcileTimer = null;
      this.pendingFull = true;
      this.schedule(0);
    }, this.reconcileMs);
    this.reconcileTimer.unref?.();
  }

  private async fullRun(): Promise<{ written: string[]; skippedRead: boolean }> {
    await this.adoptPackageAccounts();
    // Taken before the read: a change committed while the read runs moves the stamp past it, so
    // comparing with it later can only err towards reading again.
    const stamp = this.ctx.changes?.stamp() ?? null;
    const skippedRead = this.model !== null && stamp !== null && stamp === this.syncedStamp;
    // users whose authorized_keys are checked; null = all
    let changed: Set<number> | null = null;
    if (skippedRead) {
      // The model equals the store: nothing to re-read or diff.
      if (!this.allKeys) changed = new Set();
    } else {
      this.syncedStamp = null;
      const snap = await readSnapshot(this.ctx.db, this.ctx.dialect);
      if (!snap.users.some((u) => u.uid === 0 && u.username === "root")) {
        throw new Error("the store has no root account; refusing to write host account files");
      }
      // A warm model is reconciled (only changed rows re-render); a cold one is built. Both in
      // turns of a few milliseconds: at 1,000,000 users either takes seconds of CPU.
      const slicer = new Slicer();
      if (this.model && !this.allKeys) changed = new Set(await this.model.reconcileSliced(snap, slicer));
      else if (this.model) await this.model.reconcileSliced(snap, slicer);
      else this.model = await HostModel.build(snap, slicer);
      this.syncedStamp = stamp;
    }
    this.allKeys = false;
    const written = await this.writeFiles(true);
    // authorized_keys: every user's on a cold start or an explicit provisionNow, else those of
    // the users whose rows changed (a home full of keys is not re-read every few seconds)
    const model = this.model!;
    const users = changed === null ? model.usersWithHome() : [...changed].sort((a, b) => a - b).map((id) => model.users.get(id));
    const parents = new Map<string, boolean>();
    for (const u of users) {
      if (!u) continue;
      const pl = keysPlacement(u, this.ctx.storageRoots, this.ctx.hostRoot);
      if (!pl) continue; // most users: no home with keys to look after (no await per user)
      const r = await this.keysAt(u, model.groups.get(u.group_id)?.gid ?? 65534, pl, changed === null, parents);
      if (r) written.push(r);
    }
    return { written, skippedRead };
  }

  /**
   * Package-added system accounts: when passwd or group changed on disk since this process wrote
   * them (or at its first run), entries below 1000 the store does not know are handed to
   * `adoptSystemAccounts`; the read that follows then sees them as built-ins.
   */
  private async adoptPackageAccounts(): Promise<void> {
    if (!this.ctx.adoptSystemAccounts) return;
    const texts: Record<"passwd" | "group", string> = { passwd: "", group: "" };
    let edited = false;
    for (const id of ["passwd", "group"] as const) {
      const file = absPath(this.ctx.hostRoot, `etc/${id}`);
      const st = await lstatOrNull(file);
      if (!st?.isFile()) continue;
      const prev = this.written.get(id);
      if (!prev || !sameStat(prev.stat, statKey(st))) edited = true;
      this.adoptionSeen.set(id, statKey(st));
      texts[id] = await readFile(file, "utf8");
    }
    if (!edited) return;
    // Only the system-id entries can be a package's, and only store accounts sharing a name or id
    // with one of them can decide it: neither every line nor every account is looked at.
    const slicer = new Slicer();
    const candidates = await slicer.drive(systemCandidateSteps(texts.passwd, texts.group));
    if (!candidates.users.length && !candidates.groups.length) return;
    const keys = candidateKeys(candidates);
    const known = this.model ? await slicer.drive(this.model.knownAccountsAmongSteps(keys)) : await knownAccountsAmong(this.ctx.db, keys);
    const found = packageAccountsOf(candidates, known);
    if (!found.users.length && !found.groups.length) return;
    await this.ctx.adoptSystemAccounts(found);
  }

  private async incrementalRun(userIds: number[], groupIds: number[]): Promise<string[]> {
    const model = this.model!;
    // From here on the model holds rows read after the last full read: the next full run reads.
    this.syncedStamp = null;
    const changedUsers: ProvUser[] = [];
    await readTransaction(this.ctx.db, this.ctx.dialect, async (trx) => {
      model.setPolicy(await readPolicy(trx));
      // Groups first, so users that move to a new group find it.
      if (groupIds.length) {
        const rows = await readGroups(trx, groupIds);
        // A group's whole member list is re-read only when its size changed (or the group is new):
        // members that joined or left are re-read with their users below, and re-reading
        // builtin_users' 100,000 members for every SMB user's change would cost more than the rest.
        const counts = await memberCounts(trx, groupIds);
        const reload = new Set(groupIds.filter((g) => !model.groups.has(g) || (counts.get(g) ?? 0) !== model.memberCount(g)));
        const mem = reload.size ? await readMemberships(trx, { groupIds: [...reload] }) : [];
        model.applyGroups(groupIds, rows, mem, reload);
      }
      const reloadUsers = new Set<number>([...userIds, ...model.usersWithPrimary(groupIds)]);
      const byGroup = groupIds.length ? await readUsers(trx, { groupIds }) : [];
      for (const u of byGroup) reloadUsers.add(u.id);
      if (reloadUsers.size) {
        const ids = [...reloadUsers];
        const rows = await readUsers(trx, { ids });
        const missingGroups = [...new Set(rows.map((r) => r.group_id))].filter((g) => !model.groups.has(g));
        if (missingGroups.length) {
          model.applyGroups(missingGroups, await readGroups(trx, missingGroups), await readMemberships(trx, { groupIds: missingGroups }));
        }
        model.applyUsers(ids, rows, await readMemberships(trx, { userIds: ids }));
        changedUsers.push(...rows);
      }
    });
    const written = await this.writeFiles(false);
    for (const u of changedUsers) {
      const r = await this.keys(u, model.groups.get(u.group_id)?.gid ?? 65534);
      if (r) written.push(r);
    }
    return written;
  }

  private async keys(u: ProvUser, gid: number): Promise<string | null> {
    const pl = keysPlacement(u, this.ctx.storageRoots, this.ctx.hostRoot);
    return pl ? this.keysAt(u, gid, pl) : null;
  }

  /**
   * An existing file is rewritten only when the fields that decide it (uid, gid, home, keys)
   * changed since this process last looked after it: a user's own edits stay until the key
   * changes through Gatehouse (whose account services write the file themselves at that moment).
   * A user this process has not seen before, or whose fields did not change, gets a missing file
   * created and an existing one kept. `sweep` (a cold start, `provisionNow`) looks at every user;
   * otherwise an unchanged user is skipped without touching the disk.
   */
  private async keysAt(u: ProvUser, gid: number, pl: KeysPlacement, sweep = false, parents?: Map<string, boolean>): Promise<string | null> {
    const sig = `${u.uid}:${gid}:${u.home}:${u.sshpubkey ?? ""}`;
    const prevSig = this.keySig.get(u.id);
    if (prevSig === sig && !sweep) return null;
    if (parents && !parentExists(parents, path.posix.dirname(pl.dir))) {
      // No parent directory, no home: nothing to write (what syncAuthorizedKeys finds, at the
      // cost of one failed open per user).
      this.keySig.set(u.id, sig);
      return null;
    }
    try {
      const r = await syncAuthorizedKeys(u, gid, pl, false, prevSig === undefined || prevSig === sig, this.keysReadAt);
      this.keySig.set(u.id, sig);
      return r === "written" || r === "removed" ? path.join(pl.dir, ".ssh/authorized_keys") : null;
    } catch (err) {
      this.ctx.log.warn({ err, user: u.username }, "could not write authorized_keys");
      return null;
    }
  }

  /** Render every file from the model and replace those that differ. */
  private async writeFiles(full: boolean): Promise<string[]> {
    const model = this.model!;
    const root = this.ctx.hostRoot;
    const sgid = model.shadowGid();
    await model.renderSliced(new Slicer());
    const rendered = model.renderAll();
    const dirs = new Set<string>();
    const jobs: { spec: FileSpec; file: string; parts: Buffer[]; edited: DriftFound | null }[] = [];
    for (const spec of FILES) {
      const file = absPath(root, spec.rel);
      const parts = rendered[spec.id];
      const owner = ownerOf(spec, sgid);
      const prev = this.written.get(spec.id);
      const st = await lstatOrNull(file);
      const diskKnown = sameStat(prev?.stat, st ? statKey(st) : null) && metaOk(st!, owner);
      if (diskKnown && (prev!.parts === parts || partsEqual(prev!.parts, parts))) {
        this.written.set(spec.id, { parts, stat: prev!.stat });
        continue;
      }
      if ((full || !diskKnown) && st && st.isFile() && metaOk(st, owner) && (await sameContent(file, parts, st))) {
        this.written.set(spec.id, { parts, stat: statKey(st) });
        continue;
      }
      if (this.editedSinceAdoption(spec.id, prev?.stat, st)) {
        // A package may have added an account after this run looked for them: reverting the file
        // now would drop it unseen. The next full run looks (and adopts) first, then writes.
        this.pendingFull = true;
        continue;
      }
      // Changed on disk since this process wrote it: someone edited it behind our back.
      const edited = prev && !sameStat(prev.stat, st ? statKey(st) : null) ? await this.driftOf(spec, file, st, owner, parts) : null;
      jobs.push({ spec, file, parts, edited });
    }
    if (!this.tempsCleaned) {
      for (const spec of FILES) await removeStaleTemps(path.dirname(absPath(root, spec.rel)));
      this.tempsCleaned = true;
    }
    if (!jobs.length) return [];
    for (const j of jobs) {
      const dir = path.dirname(j.file);
      if (!dirs.has(dir)) {
        await ensureDir(dir);
        dirs.add(dir);
      }
    }
    // Temporary files are written and synced in parallel; the renames happen in FILES order.
    const prepared = jobs.map((j) =>
      prepareReplace(j.file, j.parts, ownerOf(j.spec, sgid)).then(
        (commit) => ({ j, commit, err: null as unknown }),
        (err: unknown) => ({ j, commit: null, err }),
      ),
    );
    const out: string[] = [];
    const drift: DriftFound[] = [];
    let firstErr: unknown = null;
    for (const p of prepared) {
      const { j, commit, err } = await p;
      if (!commit) {
        firstErr ??= err;
        this.written.delete(j.spec.id);
        continue;
      }
      if (firstErr) {
        await commit.abort();
        continue;
      }
      try {
        this.written.set(j.spec.id, { parts: j.parts, stat: await commit.rename() });
        out.push(j.file);
        if (j.edited) drift.push(j.edited);
      } catch (e) {
        firstErr ??= e;
        this.written.delete(j.spec.id);
      }
    }
    await Promise.all([...dirs].map((d) => fsyncDir(d).catch(() => undefined)));
    if (drift.length) await this.reportDrift(drift);
    if (firstErr) throw firstErr;
    return out;
  }

  /**
   * passwd or group edited behind the writer's back (differs from what it wrote) after the last
   * look for package-added system accounts (differs from what that look read).
   */
  private editedSinceAdoption(id: FileId, wrote: WrittenStat | undefined, st: Awaited<ReturnType<typeof lstatOrNull>>): boolean {
    if (!this.ctx.adoptSystemAccounts || (id !== "passwd" && id !== "group") || !st?.isFile()) return false;
    const now = statKey(st);
    return !sameStat(wrote, now) && !sameStat(this.adoptionSeen.get(id), now);
  }

  /** What differs between the edited file on disk and what is written back (entry names only). */
  private async driftOf(spec: FileSpec, file: string, st: Awaited<ReturnType<typeof lstatOrNull>>, owner: { uid: number; gid: number; mode: number }, parts: Buffer[]): Promise<DriftFound> {
    const rel = spec.rel;
    if (!st?.isFile()) return { file: rel, reason: "missing", entries: [] };
    const disk = await readFile(file, "utf8").catch(() => "");
    const want = Buffer.concat(parts).toString("utf8");
    if (disk !== want) return { file: rel, reason: "content", entries: driftedEntries(spec.id, disk, want) };
    return { file: rel, reason: (st.mode & 0o7777) !== owner.mode ? "mode" : "owner", entries: [] };
  }

  private async reportDrift(drift: DriftFound[]): Promise<void> {
    this.ctx.log.warn({ drift }, "host account files were edited outside Gatehouse; rewritten from the store");
    try {
      await this.ctx.onDrift?.(drift);
    } catch (err) {
      this.ctx.log.error({ err }, "could not audit the drift found");
    }
  }
}

// ---------------------------------------------------------------------------------------------
// drift

/** Names and ids of the store's users and groups that share a name or id with `keys` (see candidateKeys). */
async function knownAccountsAmong(db: Db, keys: CandidateKeys): Promise<KnownAccounts> {
  const out: KnownAccounts = { users: [], groups: [] };
  const chunks = <T>(xs: Set<T>): T[][] => {
    const all = [...xs];
    const parts: T[][] = [];
    for (let i = 0; i < all.length; i += 500) parts.push(all.slice(i, i + 500));
    return parts;
  };
  for (const part of chunks(keys.userNames)) out.users.push(...(await db.selectFrom("users").select(["username as name", "uid as id"]).where("username", "in", part).execute()));
  for (const part of chunks(keys.uids)) out.users.push(...(await db.selectFrom("users").select(["username as name", "uid as id"]).where("uid", "in", part).execute()));
  for (const part of chunks(keys.groupNames)) out.groups.push(...(await db.selectFrom("groups").select(["name", "gid as id"]).where("name", "in", part).execute()));
  for (const part of chunks(keys.gids)) out.groups.push(...(await db.selectFrom("groups").select(["name", "gid as id"]).where("gid", "in", part).execute()));
  return out;
}

export interface DriftEntry {
  path: string;
  reason: "missing" | "content" | "mode" | "owner" | "keys";
}

/** Compare the files on disk with what the store says they should be. Writes nothing. */
export async function detectDrift(ctx: ProvisionContext): Promise<DriftEntry[]> {
  const snap = await readSnapshot(ctx.db, ctx.dialect);
  const want = generateAll(snap);
  const sgid = shadowGid(snap.groups);
  const out: DriftEntry[] = [];
  for (const spec of FILES) {
    const file = absPath(ctx.hostRoot, spec.rel);
    const owner = ownerOf(spec, sgid);
    const st = await lstatOrNull(file);
    if (!st?.isFile()) {
      out.push({ path: file, reason: "missing" });
      continue;
    }
    if (!(await sameContent(file, [Buffer.from(want[spec.id])], st))) out.push({ path: file, reason: "content" });
    else if ((st.mode & 0o7777) !== owner.mode) out.push({ path: file, reason: "mode" });
    else if (IS_ROOT && (st.uid !== owner.uid || st.gid !== owner.gid)) out.push({ path: file, reason: "owner" });
  }
  const { groupsById } = index(snap);
  for (const u of snap.users) {
    const pl = keysPlacement(u, ctx.storageRoots, ctx.hostRoot);
    if (!pl) continue;
    // A keys file the user edited is theirs (createOnly): only a missing one is drift.
    const r = await syncAuthorizedKeys(u, primaryGid(u, groupsById), pl, true, true).catch(() => "drift" as const);
    if (r === "drift") out.push({ path: path.join(pl.dir, ".ssh/authorized_keys"), reason: "keys" });
  }
  return out;
}
