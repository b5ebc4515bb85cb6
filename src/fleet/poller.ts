// The status poller: every round it pings each system over its pooled connection (bounded
// concurrency), records what changed in fleet_system_status and announces it as a
// `fleet.system.query` change (delivered only to subscribers that may see the system). A system
// that is down is retried with the pool's exponential back-off, so a dead system costs one failed
// attempt per back-off period, not one per round.

import type { FleetSystemStatus } from "./system-schemas.js";
import { allSystemRows, type SystemRow } from "./system-endpoint.js";
import type { ProbeRuntime } from "./runtime-context.js";
import { probeSystem, readStatuses, statusChanged, writeStatus } from "./system-status.js";

/** Probes in flight at once in one round. */
export const POLL_CONCURRENCY = 200;
/** An unchanged status is still rewritten this often (its checked_at stays meaningful). */
const REWRITE_AFTER_MS = 5 * 60_000;

export class StatusPoller {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<unknown> | null = null;
  private stopped = false;
  /** The last status recorded per system, by this process. */
  private readonly last = new Map<number, FleetSystemStatus>();
  /** When each system's status was last written to the store, by this process. */
  private readonly written = new Map<number, number>();

  constructor(
    private readonly rt: ProbeRuntime,
    readonly intervalMs: number,
  ) {}

  start(): void {
    if (this.timer || this.stopped) return;
    this.timer = setInterval(() => {
      if (this.running) return;
      // A failed round (the store unreachable for a moment) is logged; the next period retries.
      // Nothing may escape the timer: an unhandled rejection ends the process.
      this.running = this.round()
        .catch((err) => this.rt.app.log.warn({ err }, "fleet status round failed"))
        .finally(() => (this.running = null));
    }, this.intervalMs);
    this.timer.unref();
  }

  /** Stop the timer; resolves when the round in flight (if any) has ended, so the store may close. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
  }

  /** Is the timer still scheduling rounds? */
  isRunning(): boolean {
    return this.timer !== null;
  }

  /** One round over every system (also called by the bench and tests); resolves when all are recorded. */
  async round(rows?: SystemRow[]): Promise<FleetSystemStatus[]> {
    const list = rows ?? (await allSystemRows(this.rt.app.store.db));
    if (!this.last.size && list.length) for (const [id, s] of await readStatuses(this.rt.app.store.db)) this.last.set(id, s);
    const out: FleetSystemStatus[] = new Array(list.length);
    let next = 0;
    const worker = async () => {
      while (next < list.length && !this.stopped) {
        const i = next++;
        const row = list[i]!;
        const status = await probeSystem(this.rt, row, false);
        await this.record(row, status).catch((err) => this.rt.app.log.warn({ err, system: row.id }, "fleet status not recorded"));
        out[i] = status;
      }
    };
    await Promise.all(Array.from({ length: Math.min(POLL_CONCURRENCY, list.length) }, worker));
    return out;
  }

  /** Record a system's status: stored when it changed (or is old), announced when it changed. */
  async record(row: Pick<SystemRow, "id" | "name">, status: FleetSystemStatus): Promise<void> {
    const prev = this.last.get(row.id);
    const changed = statusChanged(prev, status);
    this.last.set(row.id, status);
    if (changed || Date.now() - (this.written.get(row.id) ?? 0) > REWRITE_AFTER_MS) {
      this.written.set(row.id, Date.now());
      await writeStatus(this.rt.app.store.db, status);
    }
    if (changed) this.rt.app.events.publish("fleet.system.query", "changed", row.id, { id: row.id, name: row.name, status });
  }

  forget(id: number): void {
    this.last.delete(id);
    this.written.delete(id);
  }
}
