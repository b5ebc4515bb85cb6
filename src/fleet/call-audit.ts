// Audit entries of proxied calls (fleet.call), committed in groups as login writes are: entries
// queued by the same burst of answers, or while a write is in flight, go in together as ONE multi-row INSERT
// (writeAuditGroup), so a burst of calls costs one statement per group instead of one each. A
// call answers only after its entry committed.

import { writeAuditGroup, type AuditContext, type AuditInput } from "../audit/audit.js";

const MAX_GROUP = 256;

export class GroupedAuditWriter {
  private queue: { input: AuditInput; done: () => void }[] = [];
  private flushing: Promise<void> | null = null;

  constructor(private readonly app: AuditContext) {}

  /** Resolves once the entry is committed (never rejects: a failed write is logged by writeAuditGroup). */
  write(input: AuditInput): Promise<void> {
    return new Promise((done) => {
      this.queue.push({ input, done });
      // Calls answered by the same burst of frames (one socket read) join one group: the flush
      // starts once the promise continuations now queued have run (a tick queued from a
      // continuation runs after the microtask queue drains), not a loop turn later — a lone call
      // is written at once. Entries arriving while a write is in flight form the next group.
      if (!this.flushing) {
        this.flushing = new Promise<void>((r) => process.nextTick(r)).then(() => this.flush());
      }
    });
  }

  private async flush(): Promise<void> {
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
      this.flushing = null;
    }
  }
}
