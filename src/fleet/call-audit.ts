// Audit entries of proxied calls (fleet.call), committed in groups as login writes are: entries
// queued in the same turn, or while a commit is in flight, go together in one transaction, so a
// burst of calls costs one commit per group instead of one each. A call answers only after its
// entry committed.

import { writeAudit, type AuditContext, type AuditInput } from "../audit/audit.js";

const MAX_GROUP = 256;

export class GroupedAuditWriter {
  private queue: { input: AuditInput; done: () => void }[] = [];
  private flushing: Promise<void> | null = null;

  constructor(private readonly app: AuditContext) {}

  /** Resolves once the entry is committed (never rejects: a failed write is logged by writeAudit). */
  write(input: AuditInput): Promise<void> {
    return new Promise((done) => {
      this.queue.push({ input, done });
      // Calls answered by the same burst of frames (one socket read) join one group: the flush
      // starts once this turn's frames are handled.
      this.flushing ??= new Promise<void>((r) => setImmediate(r)).then(() => this.flush());
    });
  }

  private async flush(): Promise<void> {
    try {
      while (this.queue.length) {
        const group = this.queue.splice(0, MAX_GROUP);
        // One entry alone: its INSERT is its own transaction (no BEGIN/COMMIT around it). One
        // call in flight is the common case, and it waits for this write before it answers.
        if (group.length === 1) {
          await writeAudit(this.app, group[0]!.input);
          group[0]!.done();
          continue;
        }
        try {
          await this.app.store.db.transaction().execute(async (trx) => {
            for (const g of group) await writeAudit(this.app, g.input, trx);
          });
        } catch {
          // One bad entry must not lose the others: write them one by one.
          for (const g of group) await writeAudit(this.app, g.input);
        }
        for (const g of group) g.done();
      }
    } finally {
      this.flushing = null;
    }
  }
}
