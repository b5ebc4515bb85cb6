// Audit entries of proxied calls (fleet.call). The guarantee (docs/security/fleet-proxy-bypass.md):
// a call's entry is durable BEFORE the call is sent to its system, so a call the manager forwarded
// is in its log even if the manager dies while the system works; the outcome is recorded AFTER the
// answer is passed on, and an entry whose outcome never got recorded says "answered": false.
//
// How: `enter` writes the entry's row to the call journal (./call-journal.ts: one append of the
// turn's entries, a write(2) — the calls of a burst wait for the same one) and resolves once it is
// there (a call while no other is out: at once); only then does the proxy send the call. `finish`
// notes the outcome in memory. Every few milliseconds `fold` puts the answered entries into the
// audit table with their outcomes (no UPDATE), in ONE transaction; an entry still waiting for its
// system is folded with the first fold after its answer, or once it is FOLD_OPEN_AFTER_MS old
// ("answered": false; its outcome is then an UPDATE in a later fold). The journal is emptied when a
// fold leaves nothing waiting in it and it holds 1 MB, and moved to a new file (the waiting entries
// written there first) at 4 MB; lines of entries already in the table stay in it meanwhile (a
// restart skips them). Reading the log in this process (audit.query, audit.export) folds everything
// first (src/audit/audit.ts onAuditRead); another process sees an entry one fold later. A process
// that stopped without folding leaves its journal file: the next one started on the data dir folds
// it at start (entries already in the table are skipped). When the journal cannot be written, the
// entry is committed to the table before the call is sent, or the call is refused
// (fleet.call_not_audited).

import { auditIdsPresent, auditRows, foldAuditRows, foldAuditRowsNow, onAuditRead, sessionAuditRow, type AuditContext, type AuditInput, type AuditOutcome, type AuditRow } from "../audit/audit.js";
import type { Session } from "../auth/session.js";
import type { Connection } from "../server/connection.js";
import { CallError } from "../server/errors.js";
import { CallJournal, readJournalLines } from "./call-journal.js";

/** How long after an answer its entry is folded into the table at the latest (GATEHOUSE_FLEET_AUDIT_FOLD_MS). */
const DEFAULT_FOLD_MS = 10;
/** An entry still waiting for its system is folded ("answered": false) once this old. */
export const FOLD_OPEN_AFTER_MS = 1000;
/** The journal is emptied once this large when no entry waits in it... */
const TRUNCATE_BYTES = 1024 * 1024;
/** ...and moved to a new file (the waiting entries written there first) once this large. */
const ROTATE_BYTES = 4 * 1024 * 1024;
/** A failed fold is tried again after this long. */
const FOLD_RETRY_MS = 1000;

/** A proxied call's entry, from `enter` to its fold (and its outcome's). */
export interface CallEntry {
  /** The row, as journaled; its event data and success become the outcome's once finished. */
  row: AuditRow;
  /** When it was entered (Date.now()). */
  at: number;
  finished: boolean;
  /** The row id once folded into the table (null before). */
  id: number | null;
  /** The event data once answered, as text (null: given to `finish`). */
  final: string | null;
  /** Folded before its outcome was known: `finish` records the outcome by an UPDATE. */
  foldedOpen: boolean;
}

/** An entry's event data as text: as it ends (`final`), and as journaled before the answer (`open`, with "answered": false). */
export interface EntryTexts {
  final: string;
  open: string;
}

/** The texts of event data `data` (an authenticated caller's: nothing to bound). */
export function entryTexts(data: Record<string, unknown>): EntryTexts {
  const final = JSON.stringify(data);
  return { final, open: withAnsweredFalse(final) };
}

function withAnsweredFalse(final: string): string {
  return `${final.slice(0, -1)}${final.length > 2 ? "," : ""}"answered":false}`;
}

/** Told once an entry is durable (`err` null: the call may be sent), or that it could not be made so (do not send). */
export type EnteredFn = (entry: CallEntry, err: Error | null) => void;

interface Waiting {
  entry: CallEntry;
  done: EnteredFn;
}

function envFoldMs(): number {
  const v = Number(process.env.GATEHOUSE_FLEET_AUDIT_FOLD_MS);
  return Number.isFinite(v) && v >= 0 ? v : DEFAULT_FOLD_MS;
}

export class CallAudit {
  /** Entries waiting for this turn's journal write. */
  private waiting: Waiting[] = [];
  /** Calls entered and not finished (a call alone is journaled at once, without waiting for the turn's others). */
  private out = 0;
  private writeScheduled = false;
  /** Journaled entries not folded yet, in order. */
  private pending: CallEntry[] = [];
  /** Outcomes of entries folded before they were answered, for the next fold. */
  private outcomes: AuditOutcome[] = [];
  /** Journal files whose lines are all folded or written again in a later file, removed after the next successful fold. */
  private retired: string[] = [];
  private timer: NodeJS.Timeout | null = null;
  private timerAt = 0;
  /** The pending fold is due within foldMs of when it was set. */
  private timerSoon = false;
  private folding: Promise<void> | null = null;
  private closed = false;
  private readonly foldMs = envFoldMs();
  private readonly lines = new JournalLines();
  private readonly unregister: () => void;
  /** Folding the journals left by stopped processes (started with the writer). */
  readonly recovered: Promise<void>;

  constructor(
    private readonly app: AuditContext,
    private readonly journal: CallJournal,
  ) {
    this.unregister = onAuditRead(app.store, () => this.flush());
    this.recovered = this.recover().catch((err) => app.log.error({ err }, "fleet call journal: leftovers not folded"));
  }

  /**
   * The call's entry ("answered": false added to its event data), durable: answered (or resolved)
   * once its row is in the journal (or, when the journal cannot be written, committed to the
   * table); rejects when neither could be done — the call must then not be sent. A call while no other is out is written at once (answered, not a
   * promise: it waits for nothing); otherwise the entries of a turn share one write.
   */
  enter(input: AuditInput): CallEntry | Promise<CallEntry> {
    const entry = openEntry(input);
    if (this.writeAlone(entry)) return entry;
    return new Promise((resolve, reject) => this.wait(entry, (e, err) => (err ? reject(err) : resolve(e))));
  }

  /**
   * `enter` for an authenticated caller whose event data is text already (the proxy keeps it per
   * target and method), told through `done` instead of a promise: at once when no other call is
   * out, else after the turn's shared write.
   */
  enterThen(conn: Connection | null, session: Session, texts: EntryTexts, done: EnteredFn): void {
    const row = sessionAuditRow(conn, session, "METHOD_CALL", texts.open, false);
    const entry: CallEntry = { row, at: row[2], finished: false, id: null, foldedOpen: false, final: texts.final };
    if (this.writeAlone(entry)) done(entry, null);
    else this.wait(entry, done);
  }

  /** A call while no other is out is journaled at once (it waits for nothing); true when it was. */
  private writeAlone(entry: CallEntry): boolean {
    this.out++;
    if (this.out !== 1 || this.writeScheduled || this.closed) return false;
    try {
      this.journal.append(this.lines.of(entry.row));
    } catch (err) {
      this.app.log.error({ err }, "fleet call journal write failed; committing the entry to the table before sending");
      return false;
    }
    this.pending.push(entry);
    this.schedule(this.foldMs);
    return true;
  }

  /** Queue the entry for this turn's shared write. */
  private wait(entry: CallEntry, done: EnteredFn): void {
    this.waiting.push({ entry, done });
    if (!this.writeScheduled) {
      this.writeScheduled = true;
      // After the continuations queued now: the calls of the same read join this write.
      process.nextTick(() => this.writeWaiting());
    }
  }

  /** Record the outcome of an entered call (after its answer was passed on); no `eventData`: the entry's own, without "answered": false. */
  finish(entry: CallEntry, success: boolean, eventData?: Record<string, unknown>): void {
    if (!entry.finished && this.out > 0) this.out--;
    entry.row[9] = eventData ? JSON.stringify(eventData) : (entry.final ?? entry.row[9]);
    entry.row[10] = success ? 1 : 0;
    entry.finished = true;
    // Folded before it was answered: the outcome is an UPDATE (an awaited fold still running records it when it ends).
    if (entry.foldedOpen && entry.id !== null) this.outcomes.push({ id: entry.id, success: entry.row[10], eventData: entry.row[9] });
    this.schedule(this.foldMs);
  }

  /** The entry of a call that was never sent (refused, failed before sending), with its outcome: journaled at once. */
  record(input: AuditInput): void {
    const entry: CallEntry = { row: auditRows([input])[0]!, at: Date.now(), finished: true, id: null, foldedOpen: false, final: null };
    try {
      this.journal.append(this.lines.of(entry.row));
    } catch (err) {
      this.app.log.error({ err }, "fleet call journal write failed; the entry goes to the table at the next fold");
    }
    this.pending.push(entry);
    this.schedule(this.foldMs);
  }

  private writeWaiting(): void {
    this.writeScheduled = false;
    const batch = this.waiting;
    this.waiting = [];
    let text = "";
    for (const w of batch) text += this.lines.of(w.entry.row);
    try {
      if (this.closed) throw new Error("the call journal is closed");
      this.journal.append(text);
    } catch (err) {
      this.app.log.error({ err }, "fleet call journal write failed; committing the entries to the table before sending");
      void this.commitDirectly(batch);
      return;
    }
    for (const w of batch) {
      this.pending.push(w.entry);
      w.done(w.entry, null);
    }
    this.schedule(this.foldMs);
  }

  /** The journal could not be written: commit the entries to the table (they are then folded, "answered": false), or refuse the calls. */
  private async commitDirectly(batch: Waiting[]): Promise<void> {
    const rows = batch.map((w) => w.entry.row);
    try {
      const ids = foldAuditRowsNow(this.app, rows, []) ?? (await foldAuditRows(this.app, rows, []));
      batch.forEach((w, i) => {
        w.entry.id = ids[i]!;
        w.entry.foldedOpen = true;
        w.done(w.entry, null);
      });
    } catch (err) {
      this.app.log.error({ err }, "fleet call audit entries could not be written: the calls are refused");
      this.out = Math.max(0, this.out - batch.length);
      for (const w of batch) w.done(w.entry, new CallError("The call could not be audited, so it was not sent", "fleet.call_not_audited"));
    }
  }

  /** Fold in `ms` at the latest (a fold due earlier stays). */
  private schedule(ms: number): void {
    if (this.closed) return;
    // The common case, at once: a fold due within the usual interval is pending already.
    if (this.timer && ms >= this.foldMs && this.timerSoon) return;
    const at = Date.now() + ms;
    if (this.timer) {
      if (this.timerAt <= at) return;
      clearTimeout(this.timer);
    }
    this.timerAt = at;
    this.timerSoon = ms <= this.foldMs;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.fold(false);
    }, ms);
  }

  /** Fold every entry now, those still waiting for their system too (reading the log, shutting down, tests). */
  async flush(): Promise<void> {
    await this.recovered;
    await this.fold(true);
  }

  /**
   * Put the answered entries (`all`: every entry) into the table with the outcomes of entries
   * folded earlier, in one transaction: on SQLite, when the store's connection is free, at once;
   * otherwise awaited, the journal moved to a new file first (appends go on meanwhile).
   */
  private fold(all: boolean): Promise<void> {
    if (this.folding) return this.folding.then(() => this.fold(all));
    const now = Date.now();
    const take: CallEntry[] = [];
    const keep: CallEntry[] = [];
    for (const e of this.pending) (all || e.finished || now - e.at >= FOLD_OPEN_AFTER_MS ? take : keep).push(e);
    const outcomes = this.outcomes;
    if (!take.length && !outcomes.length) {
      this.reschedule();
      return Promise.resolve();
    }
    this.pending = keep;
    this.outcomes = [];
    const answered = take.map((e) => e.finished);
    try {
      // Written at once (nothing can note an outcome meanwhile): the rows as they stand.
      const ids = foldAuditRowsNow(
        this.app,
        take.map((e) => e.row),
        outcomes,
      );
      if (ids) {
        this.folded(take, answered, ids, this.tidyJournal());
        return Promise.resolve();
      }
    } catch (err) {
      this.foldFailed(take, outcomes, [], err);
      return Promise.resolve();
    }
    // Awaited: what is written is copied now (an outcome noted meanwhile must not change it).
    const rows = take.map((e) => [...e.row] as AuditRow);
    // Appends go on while the transaction is awaited: a new file, holding the entries kept, from now.
    const files = this.rotateKeeping();
    this.folding = foldAuditRows(this.app, rows, outcomes)
      .then(
        (ids) => this.folded(take, answered, ids, files),
        (err) => this.foldFailed(take, outcomes, files, err),
      )
      .finally(() => {
        this.folding = null;
      });
    return this.folding;
  }

  /**
   * After a fold committed (at once): empty the journal when nothing waits; move the waiting
   * entries to a new file when it is large or files of failed folds are left; else leave it.
   * Answers the files to remove.
   */
  private tidyJournal(): string[] {
    // Emptied only once it holds some (an append that grows the file costs less than one after a truncation).
    if (!this.pending.length && (this.journal.bytes < TRUNCATE_BYTES ? !this.retired.length : this.journal.empty())) return this.takeRetired();
    if (this.retired.length || this.journal.bytes > ROTATE_BYTES || !this.pending.length) return this.rotateKeeping();
    return [];
  }

  /** Move on to a new journal file holding the entries not folded yet; answers the files removable once what they hold is folded. */
  private rotateKeeping(): string[] {
    try {
      const old = this.journal.rotate();
      if (this.pending.length) this.journal.append(this.pending.map((e) => this.lines.of(e.row)).join(""));
      return [...this.takeRetired(), ...(old ? [old] : [])];
    } catch (err) {
      // The files stay (they still hold the waiting entries): a restart folds what is not in the table.
      this.app.log.error({ err }, "fleet call journal: waiting entries not written to a new file");
      return [];
    }
  }

  /** The files of failed folds. */
  private takeRetired(): string[] {
    const files = this.retired;
    this.retired = [];
    return files;
  }

  private folded(take: CallEntry[], answered: boolean[], ids: number[], files: string[]): void {
    take.forEach((e, i) => {
      e.id = ids[i] ?? null;
      if (answered[i]) return;
      // Folded while its call was still out: the outcome follows by an UPDATE (at the next fold if it came meanwhile).
      e.foldedOpen = true;
      if (e.finished && e.id !== null) this.outcomes.push({ id: e.id, success: e.row[10], eventData: e.row[9] });
    });
    for (const f of files) CallJournal.remove(f);
    this.reschedule();
  }

  /** The next fold: soon when outcomes or answered entries wait, else when the oldest entry still out is FOLD_OPEN_AFTER_MS old. */
  private reschedule(): void {
    if (this.outcomes.length || this.pending.some((e) => e.finished)) {
      this.schedule(this.foldMs);
      return;
    }
    if (!this.pending.length) return;
    let oldest = Number.POSITIVE_INFINITY;
    for (const e of this.pending) if (e.at < oldest) oldest = e.at;
    this.schedule(Math.max(this.foldMs, oldest + FOLD_OPEN_AFTER_MS - Date.now()));
  }

  /** Nothing of the fold was written: its entries and outcomes wait for the next one (their lines stay in the journal). */
  private foldFailed(take: CallEntry[], outcomes: AuditOutcome[], files: string[], err: unknown): void {
    this.app.log.error({ err, entries: take.length }, "fleet call audit fold failed; retrying");
    this.pending = [...take, ...this.pending];
    this.outcomes = [...outcomes, ...this.outcomes];
    // The files rotated out may hold the entries: removed once a later fold moved or folded them.
    this.retired.push(...files);
    this.schedule(FOLD_RETRY_MS);
  }

  /** Fold what is left and close the journal (shutdown). */
  async close(): Promise<void> {
    await this.flush().catch(() => {});
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.unregister();
    const last = this.journal.close();
    if (last && !this.pending.length) CallJournal.remove(last);
  }

  /** Fold the journals left by processes that stopped before folding them; entries already in the table are skipped. */
  private async recover(): Promise<void> {
    for (const file of this.journal.claimLeftovers()) {
      const rows = new Map<string, AuditRow>();
      for (const line of readJournalLines(file)) if (isAuditRow(line)) rows.set(line[0], line);
      if (rows.size) {
        const since = Math.min(...[...rows.values()].map((r) => r[1]));
        const present = await auditIdsPresent(this.app, [...rows.keys()], since);
        const missing = [...rows.values()].filter((r) => !present.has(r[0]));
        if (missing.length) await foldAuditRows(this.app, missing, []);
        this.app.log.warn({ file, entries: missing.length }, "fleet call journal of a stopped process folded into the audit log");
      }
      CallJournal.remove(file);
    }
  }
}

/**
 * The entry of a call about to be sent: its event data as given plus "answered": false; the text
 * without it kept for `finish` (a caller's entry; an unauthenticated one's data is bounded first).
 */
function openEntry(input: AuditInput): CallEntry {
  if (!input.session) {
    const [open, done] = auditRows([{ ...input, eventData: { ...input.eventData, answered: false } }, input]);
    return { row: open!, at: Date.now(), finished: false, id: null, foldedOpen: false, final: done![9] };
  }
  const row = auditRows([input])[0]!;
  const final = row[9];
  row[9] = withAnsweredFalse(final);
  return { row, at: Date.now(), finished: false, id: null, foldedOpen: false, final };
}

/**
 * Journal lines (a row as JSON). The columns every call of one session and connection shares
 * (address to event, service_data the longest) are encoded once and reused while the next row has
 * the very same values; event data texts (the proxy reuses them per target and method) once each.
 */
class JournalLines {
  private shared: { address: string; username: string; session: string | null; service: string; serviceData: string; event: string; json: string } | null = null;
  private readonly texts = new Map<string, string>();

  of(row: AuditRow): string {
    return `[${JSON.stringify(row[0])},${row[1]},${row[2]},${this.sharedOf(row)},${this.textOf(row[9])},${row[10]}]\n`;
  }

  private sharedOf(row: AuditRow): string {
    const s = this.shared;
    if (s && s.address === row[3] && s.username === row[4] && s.session === row[5] && s.service === row[6] && s.serviceData === row[7] && s.event === row[8]) return s.json;
    const json = JSON.stringify([row[3], row[4], row[5], row[6], row[7], row[8]]).slice(1, -1);
    this.shared = { address: row[3], username: row[4], session: row[5], service: row[6], serviceData: row[7], event: row[8], json };
    return json;
  }

  private textOf(text: string): string {
    let json = this.texts.get(text);
    if (json === undefined) {
      json = JSON.stringify(text);
      if (this.texts.size >= 1024) this.texts.clear();
      this.texts.set(text, json);
    }
    return json;
  }
}

/** A journal line that is an audit row (its 11 columns, typed as written). */
function isAuditRow(v: unknown): v is AuditRow {
  if (!Array.isArray(v) || v.length !== 11) return false;
  const [auditId, mts, ts, address, username, session, service, serviceData, event, eventData, success] = v;
  return (
    typeof auditId === "string" &&
    typeof mts === "number" &&
    typeof ts === "number" &&
    typeof address === "string" &&
    typeof username === "string" &&
    (session === null || typeof session === "string") &&
    typeof service === "string" &&
    typeof serviceData === "string" &&
    typeof event === "string" &&
    typeof eventData === "string" &&
    (success === 0 || success === 1)
  );
}
