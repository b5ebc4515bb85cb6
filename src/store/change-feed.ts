// "Has the store changed?" — asked on every cached lookup, so it must be answered without a
// round trip to the database.
//
// - SQLite: a counter of this process's writing statements plus `PRAGMA data_version`, which
//   moves whenever another connection (the CLI, another process) commits. Exact and synchronous.
// - PostgreSQL: a counter moved (a) when a writing statement of this process completes — so a
//   caller that saw its write commit never reads an older cached result — and (b) on every
//   `NOTIFY gatehouse_changes`, which triggers on the watched tables send at commit (migration
//   004). A change committed by another process is therefore seen here one notification later
//   (well under a millisecond on one host). While the listening connection is down nothing can
//   be known, so `stamp()` answers null and callers must not reuse anything; reconnecting moves
//   the counter, as notifications may have been missed meanwhile.

import pg from "pg";
import { CHANGE_CHANNEL, WATCHED_TABLES } from "./migrations/004-change-notify.js";
import { SESSION_WATCHED_TABLES } from "./migrations/007-session-notify.js";
import { changeOf, decodeChange, EVERYTHING, mergeChanges, type ChangeEvent } from "./change-event.js";
import { FLEET_WATCHED_TABLES } from "./migrations/008-fleet-access.js";
import { OwnCommitLog, type CommitSink, type OwnCommitView } from "./own-commits.js";

export interface ChangeFeed {
  /** Differs after every change; null when changes cannot be tracked right now. */
  stamp(): string | null;
  /**
   * Called after a change committed by another process is announced (not for this one's own),
   * with its typed event as that process recorded it (src/store/changes.ts); EVERYTHING when the
   * announcement names only a table (a write that recorded no event).
   */
  onRemoteChange(listener: RemoteChangeListener): () => void;
  /**
   * Like `stamp`, except that it does not move for this process's own commits whose writes their
   * recorded typed event describes (./own-commits.ts); those are numbered in `seq` and listed by
   * `ownSince`. A session checked at a view can skip its next check when only such commits, none
   * concerning it, came since (src/auth/service.ts).
   */
  view(): OwnCommitView;
  /** This process's described commits after `seq`, oldest first; null when no longer known. */
  ownSince(seq: number): readonly ChangeEvent[] | null;
  /**
   * A request arrived (a WebSocket or Unix-socket frame: src/server/rpc.ts handleMessage; an HTTP
   * call: src/server/http.ts): what `stamp` answers next reflects every commit made before it
   * arrived, in any process (SQLite; PostgreSQL's counter always does, once the commit's
   * notification is in).
   */
  callArrived(): void;
  close(): Promise<void>;
}

/** application_name of the connection that LISTENs for changes (PostgreSQL). */
export const CHANGE_FEED_APPLICATION_NAME = "gatehouse-change-feed";

export type RemoteChangeListener = (ev: ChangeEvent) => void;

/** Notifications of one commit arrive together; this long a pause ends a batch. */
const BATCH_MS = 5;

/** Statements that do not change data. */
// EXPLAIN without ANALYZE (the search planner's estimate) runs nothing.
const READ_ONLY = /^\s*(?:(?:select|begin|start\s+transaction|set|show|listen|savepoint|release)\b|explain\s+\(format json\))/i;
// Fleet access decides whether an account without privileges may sign in (migration 007).
const WATCHED = new RegExp(`\\b(${[...WATCHED_TABLES, ...SESSION_WATCHED_TABLES, ...FLEET_WATCHED_TABLES].join("|")})\\b`, "i");
const TX_END = /^\s*(commit|rollback|end)\b/i;

/**
 * Whether a statement may change what entries are built from: a writing statement that names a
 * watched table (logins and audit entries write elsewhere, and must not empty the caches).
 * Erring towards true only costs a recomputation.
 */
export function changesWatchedTables(text: string): boolean {
  return !READ_ONLY.test(text) && WATCHED.test(text);
}

export function endsTransaction(text: string): boolean {
  return TX_END.test(text);
}

export class SqliteChangeFeed implements ChangeFeed, CommitSink {
  private local = 0;
  /** Watched writes of this process that no recorded event describes. */
  private undescribedWrites = 0;
  private readonly own = new OwnCommitLog();
  /**
   * data_version as read earlier in this turn of the event loop. A stamp may be older than the
   * data read after it, never newer, so reusing it within a turn (where a burst of calls is
   * handled) is safe; asking SQLite costs microseconds per call. A call that arrives drops it
   * (callArrived): a read made earlier in the turn — by a timer, say — may predate a commit the
   * caller saw before sending the call, and the call must see it.
   */
  private version: number | null = null;
  private readonly forget = () => {
    this.version = null;
  };
  /** Calls handled in the callback now running (a burst read from one socket) share one read. */
  private inBurst = false;
  private readonly endBurst = () => {
    this.inBurst = false;
  };
  constructor(private readonly dataVersion: () => number) {}
  /** A writing statement of this process ran (or is about to). */
  localWrite(): void {
    this.local++;
  }
  /** The last stamp made, kept so the common call (nothing changed) builds no string. */
  private last = { local: -1, version: -1, stamp: "" };
  stamp(): string {
    if (this.version === null) {
      this.version = this.dataVersion();
      setImmediate(this.forget);
    }
    const last = this.last;
    if (last.local !== this.local || last.version !== this.version) this.last = { local: this.local, version: this.version, stamp: `${this.local}:${this.version}` };
    return this.last.stamp;
  }
  onRemoteChange(_listener: RemoteChangeListener): () => void {
    // Another connection's commit is only noticed when asked (data_version); nothing to push.
    return () => {};
  }
  described(ev: ChangeEvent): void {
    this.own.described(ev);
  }
  undescribed(): void {
    this.undescribedWrites++;
  }
  /** The first call of a callback drops the turn's earlier read; the calls after it in the same callback share the next one. */
  callArrived(): void {
    if (this.inBurst) return;
    this.inBurst = true;
    this.version = null;
    queueMicrotask(this.endBurst);
  }
  view(): OwnCommitView {
    this.stamp(); // data_version as of this turn
    return { stamp: `${this.undescribedWrites}:${this.version}`, seq: this.own.current() };
  }
  ownSince(seq: number): readonly ChangeEvent[] | null {
    return this.own.since(seq);
  }
  async close(): Promise<void> {}
}

export class PgChangeFeed implements ChangeFeed, CommitSink {
  private counter = 0;
  /** As `counter`, but not moved by this process's described commits (see ChangeFeed.view). */
  private viewCounter = 0;
  private readonly own = new OwnCommitLog();
  private listening = false;
  private client: pg.Client | null = null;
  private closed = false;
  private retry: NodeJS.Timeout | null = null;
  private readonly listeners = new Set<RemoteChangeListener>();
  /** Announcements of other processes not yet handed to listeners. */
  private batch: { seqs: number[]; tables: Set<string> } | null = null;
  private reading: Promise<void> = Promise.resolve();
  private firstConnect: Promise<void> | null = null;
  /** Server process ids of this process's pooled connections. */
  private readonly ownBackends = new Set<number>();

  constructor(private readonly url: string) {}

  /** Starts listening; resolves once the first LISTEN succeeded (or failed: then retried). */
  start(): Promise<void> {
    this.firstConnect ??= this.connect();
    return this.firstConnect;
  }

  private async connect(): Promise<void> {
    if (this.closed) return;
    // Named, so an operator (or a test) can tell the listening connection apart in pg_stat_activity.
    const client = new pg.Client({ connectionString: this.url, application_name: CHANGE_FEED_APPLICATION_NAME });
    const down = () => {
      if (this.client !== client) return;
      this.client = null;
      this.listening = false;
      this.counter++;
      this.viewCounter++;
      client.end().catch(() => undefined);
      if (!this.closed) this.retry = setTimeout(() => void this.connect(), 500);
      this.retry?.unref?.();
    };
    client.on("error", down);
    client.on("end", down);
    client.on("notification", (msg) => {
      if (msg.channel !== CHANGE_CHANNEL) return;
      this.counter++;
      // This process's own commits were counted when they completed; only others' are news.
      if (this.ownBackends.has(msg.processId)) return;
      this.viewCounter++;
      this.announced(msg.payload ?? "");
    });
    this.client = client;
    try {
      await client.connect();
      await client.query(`LISTEN ${CHANGE_CHANNEL}`);
      if (this.client !== client) return;
      // Whatever happened while nobody listened is unknown: everything counts as changed.
      this.counter++;
      this.viewCounter++;
      this.listening = true;
    } catch {
      down();
    }
  }

  /** A writing statement of this process completed. */
  localWrite(): void {
    this.counter++;
  }

  /** Nothing is held from before: the counter moves when a commit's notification arrives. */
  callArrived(): void {}

  described(ev: ChangeEvent): void {
    this.own.described(ev);
  }

  undescribed(): void {
    this.viewCounter++;
  }

  view(): OwnCommitView {
    return { stamp: this.listening ? String(this.viewCounter) : null, seq: this.own.current() };
  }

  ownSince(seq: number): readonly ChangeEvent[] | null {
    return this.own.since(seq);
  }

  /** A pooled connection of this process opened (its backend's pid) or closed. */
  ownBackend(pid: number | null | undefined, open: boolean): void {
    if (typeof pid !== "number") return;
    if (open) this.ownBackends.add(pid);
    else this.ownBackends.delete(pid);
  }

  stamp(): string | null {
    return this.listening ? String(this.counter) : null;
  }

  /** One announcement of another process: `seq:<n>` (a recorded event) or a table's name. */
  private announced(payload: string): void {
    if (!this.batch) {
      this.batch = { seqs: [], tables: new Set() };
      setTimeout(() => this.flush(), BATCH_MS).unref?.();
    }
    const seq = /^seq:(\d+)$/.exec(payload);
    if (seq) this.batch.seqs.push(Number(seq[1]));
    else this.batch.tables.add(payload);
  }

  /** Hand a batch's events to the listeners: the recorded ones, read in order. */
  private flush(): void {
    const batch = this.batch;
    this.batch = null;
    if (!batch) return;
    this.reading = this.reading.then(async () => {
      let ev: ChangeEvent;
      if (batch.seqs.length) ev = await this.readRecorded(batch.seqs);
      else if ([...batch.tables].every((t) => t === "sessions"))
        ev = changeOf({}); // a session ended elsewhere
      else ev = EVERYTHING; // a write that recorded no event
      for (const l of this.listeners) {
        try {
          l(ev);
        } catch {
          // A listener's failure is its own; the others still hear of the change.
        }
      }
    });
  }

  /**
   * The events of the announced rows, as one. Exactly those: rows of this process's own commits
   * lie between them and were handled when they committed.
   */
  private async readRecorded(seqs: number[]): Promise<ChangeEvent> {
    const client = this.client;
    // A full pass is cheaper than merging more than a few thousand events.
    if (!client || seqs.length > 1000) return EVERYTHING;
    try {
      const r = await client.query<{ payload: string }>("select payload from changes where seq = any($1::bigint[]) order by seq", [seqs]);
      // A row pruned meanwhile (a very late reader): unknown, so everything.
      if (r.rows.length < seqs.length) return EVERYTHING;
      return mergeChanges(r.rows.map((row) => decodeChange(row.payload)));
    } catch {
      return EVERYTHING;
    }
  }

  onRemoteChange(listener: RemoteChangeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.retry) clearTimeout(this.retry);
    const c = this.client;
    this.client = null;
    this.listening = false;
    await c?.end().catch(() => undefined);
  }
}
