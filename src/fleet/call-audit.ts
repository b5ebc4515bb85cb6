// Audit entries of proxied calls (fleet.call), committed in groups as login writes are: entries
// queued in the same turn, or while a write is in flight, go in together as ONE multi-row INSERT
// (writeAuditGroup), so a burst of calls costs one statement per group instead of one each. A
// call answers only after its entry committed.
//
// On SQLite, an entry nothing can join (no other call in flight) and every group is written
// synchronously on the store's connection when no transaction is open on it (insertAuditRowsNow):
// the same commit without the driver's lock and promise hops. A call alone in flight has its
// entry written as soon as the call is sent (`ahead`: "sent, not answered", committed while the
// system works) and its outcome recorded when the answer comes (`settle`), before the answer is
// passed on: the caller still never gets an answer whose entry and outcome are not committed.
//
// When to write: a group waits for the turn's other answers (setImmediate) only while some call
// that began (`begin`) has not queued its entry yet; once every call in flight has queued its
// entry nothing more can join, so the group is written at once (after the promise continuations
// now queued, process.nextTick) — a lone call does not wait a loop turn for its entry.

import { auditRows, insertAuditRowNow, insertAuditRowsNow, updateAuditOutcome, updateAuditOutcomeNow, writeAuditGroup, type AuditContext, type AuditInput } from "../audit/audit.js";

const MAX_GROUP = 256;

export class GroupedAuditWriter {
  private queue: { input: AuditInput; done: () => void }[] = [];
  /** Calls begun whose entry is not queued yet (each call writes exactly one entry). */
  private open = 0;
  private running = false;
  private tickScheduled = false;
  private turnScheduled = false;

  constructor(private readonly app: AuditContext) {}

  /** A call began that will write one entry: its group may wait for it within the turn. */
  begin(): void {
    this.open++;
  }

  /**
   * SQLite, a call alone in flight, just sent to its system: write its entry now — while the
   * system works on the call — saying it was sent and not answered yet (success 0), and answer the
   * entry's row id; `settle` then records the outcome (one small UPDATE instead of the whole INSERT
   * after the answer). Null: nothing written (other calls in flight, whose entries go in groups;
   * PostgreSQL; a transaction open on the connection) — `write` the entry after the answer.
   */
  ahead(input: AuditInput): number | null {
    if (this.open !== 1 || this.queue.length || this.running) return null;
    return insertAuditRowNow(this.app, auditRows([input])[0]!);
  }

  /** Record the outcome of the entry `ahead` wrote; undefined: committed already, else resolves once committed. */
  settle(id: number, success: boolean, eventData: Record<string, unknown>): Promise<void> | undefined {
    if (this.open > 0) this.open--;
    if (updateAuditOutcomeNow(this.app, id, success, eventData)) return undefined;
    return updateAuditOutcome(this.app, id, success, eventData);
  }

  /**
   * Resolves once the entry is committed (never rejects: a failed write is logged by
   * writeAuditGroup); undefined: it is committed already. When nothing can join its group (no
   * other call in flight, nothing queued or being written) a SQLite store writes it at once,
   * before this returns (insertAuditRowsNow: its own statement, committed, unless a transaction
   * is open on the connection — then it takes the usual way).
   */
  write(input: AuditInput): Promise<void> | undefined {
    if (this.open > 0) this.open--;
    if (this.open === 0 && !this.queue.length && !this.running && insertAuditRowsNow(this.app, auditRows([input]))) return undefined;
    return new Promise((done) => {
      this.queue.push({ input, done });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.running) return; // the running flush takes the entry after its current write
    if (this.open === 0) {
      if (this.tickScheduled) return;
      this.tickScheduled = true;
      process.nextTick(() => {
        this.tickScheduled = false;
        void this.flush();
      });
    } else if (!this.turnScheduled) {
      this.turnScheduled = true;
      setImmediate(() => {
        this.turnScheduled = false;
        void this.flush();
      });
    }
  }

  private async flush(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      while (this.queue.length) {
        const group = this.queue.splice(0, MAX_GROUP);
        try {
          await writeAuditGroup(
            this.app,
            group.map((g) => g.input),
          );
        } finally {
          for (const g of group) g.done();
        }
      }
    } finally {
      this.running = false;
    }
  }
}
