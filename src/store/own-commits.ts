// Which of this process's own writes are fully described by a typed change event, so a session
// can tell "only things that cannot concern me changed" from "something unknown changed" without
// reading the store (src/auth/service.ts refreshSession).
//
// A write is described when it ran inside a transaction that also recorded its typed event in the
// `changes` table (src/store/changes.ts recordChange): the event is taken from that INSERT's own
// parameter, so it is exactly what other processes will read. Every other write to a watched
// table — outside a transaction, in a transaction that recorded no event or rolled back to a
// savepoint, a raw `exec` — is undescribed and moves the view's stamp, which sends every session
// back to the store, as before this existed.

import { decodeChange, mergeChanges, type ChangeEvent } from "./change-event.js";

/** What a session remembers of the view at its last check. */
export interface OwnCommitView {
  /** Moves on every change this process cannot describe (null: nothing can be known now). */
  readonly stamp: string | null;
  /** The number of described commits of this process so far. */
  readonly seq: number;
}

/** Described commits kept; a session checked longer ago than this many reads the store. */
const KEPT = 1024;

/** The log of this process's described commits, newest last (a ring of KEPT). */
export class OwnCommitLog {
  private seq = 0;
  private readonly ring: (ChangeEvent | undefined)[] = new Array(KEPT);

  /** A commit whose every watched write `ev` describes. */
  described(ev: ChangeEvent): void {
    this.ring[this.seq % KEPT] = ev;
    this.seq++;
  }

  current(): number {
    return this.seq;
  }

  /** The described commits after `seq`, oldest first; null when some are no longer kept. */
  since(seq: number): readonly ChangeEvent[] | null {
    if (seq > this.seq || this.seq - seq > KEPT) return null;
    const out: ChangeEvent[] = [];
    for (let i = seq; i < this.seq; i++) out.push(this.ring[i % KEPT]!);
    return out;
  }
}

const BEGIN = /^\s*begin\b/i;
const COMMIT = /^\s*(commit|end)\b/i;
const ROLLBACK_TO = /^\s*rollback\s+to\b/i;
const ROLLBACK = /^\s*rollback\b/i;
/** recordChange's statement (Kysely's text): its first parameter is the encoded event. */
const RECORD = /^\s*insert\s+into\s+"changes"\s*\(\s*"payload"/i;
/** Any of the four above, in one test: PostgreSQL asks `follows` of every statement it runs. */
const FOLLOWED = /^\s*(?:begin\b|commit\b|end\b|rollback\b|insert\s+into\s+"changes"\s*\(\s*"payload")/i;

/** What a connection's tracker reports to its feed. */
export interface CommitSink {
  /** A commit whose watched writes `ev` describes. */
  described(ev: ChangeEvent): void;
  /** A watched write no recorded event describes. */
  undescribed(): void;
}

/**
 * Follows one connection's statements (in the order they run on it) and tells the sink, at each
 * commit, whether the transaction's watched writes were described by the event it recorded.
 */
export class CommitTracker {
  private inTx = false;
  private wrote = false;
  private spoiled = false;
  private payloads: string[] = [];

  constructor(private readonly sink: CommitSink) {}

  /** Whether `text` is a statement this tracker must see besides watched writes. */
  static follows(text: string): boolean {
    return FOLLOWED.test(text);
  }

  /** A watched write ran. */
  write(): void {
    if (this.inTx) this.wrote = true;
    else this.sink.undescribed();
  }

  /** A statement `follows` accepted ran (its bound parameters as given to the driver). */
  ran(text: string, params: unknown): void {
    if (BEGIN.test(text)) {
      if (this.inTx && this.wrote) this.sink.undescribed();
      this.reset(true);
    } else if (COMMIT.test(text)) {
      if (this.wrote) this.settle();
      this.reset(false);
    } else if (ROLLBACK_TO.test(text)) {
      // Part of the transaction undone: its recorded event may describe writes that are gone, or
      // miss ones that stay. Counted as unknown at its end.
      this.spoiled = true;
    } else if (ROLLBACK.test(text)) {
      // Nothing committed; counted anyway (a rollback is rare, and "unknown" is always safe).
      if (this.wrote) this.sink.undescribed();
      this.reset(false);
    } else if (RECORD.test(text)) {
      const payload = Array.isArray(params) ? params[0] : params;
      if (this.inTx && typeof payload === "string") this.payloads.push(payload);
    }
  }

  private settle(): void {
    if (this.spoiled || !this.payloads.length) this.sink.undescribed();
    else this.sink.described(mergeChanges(this.payloads.map(decodeChange)));
  }

  private reset(inTx: boolean): void {
    this.inTx = inTx;
    this.wrote = false;
    this.spoiled = false;
    this.payloads = [];
  }
}
