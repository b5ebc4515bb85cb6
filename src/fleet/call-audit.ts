// Audit entries of proxied calls (fleet.call), committed in groups as login writes are: entries
// queued in the same turn, or while a write is in flight, go in together as ONE multi-row INSERT
// (writeAuditGroup), so a burst of calls costs one statement per group instead of one each. A
// call answers only after its entry committed.
//
// When to write: a group waits for the turn's other answers (setImmediate) only while some call
// that began (`begin`) has not queued its entry yet; once every call in flight has queued its
// entry nothing more can join, so the group is written at once (after the promise continuations
// now queued, process.nextTick) — a lone call does not wait a loop turn for its entry.

import { writeAuditGroup, type AuditContext, type AuditInput } from "../audit/audit.js";

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

  /** Resolves once the entry is committed (never rejects: a failed write is logged by writeAuditGroup). */
  write(input: AuditInput): Promise<void> {
    if (this.open > 0) this.open--;
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
