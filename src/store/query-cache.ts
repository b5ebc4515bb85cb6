// Results of user.query / group.query reused while the store has not changed, as the change feed
// (./change-feed.ts) tells without a round trip: on SQLite exactly, on PostgreSQL from this
// process's writes and the other processes' NOTIFYs. Without a stamp (PostgreSQL's listening
// connection is down) nothing is reused. The day is part of the key because password_age counts
// days.

const DAY_MS = 86_400_000;

function deepFreeze<T>(value: T): T {
  if (value && typeof value === "object" && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value as Record<string, unknown>)) deepFreeze(v);
  }
  return value;
}

export class QueryCache {
  private readonly entries = new Map<string, { stamp: string; value: unknown }>();
  hits = 0;
  misses = 0;

  constructor(
    private readonly changeStamp: () => string | null,
    private readonly max = 5000,
  ) {}

  /** The cached result for `key`, or `compute()`'s (frozen: callers must copy before changing it). */
  async get(key: string, compute: () => Promise<unknown>): Promise<unknown> {
    const current = this.changeStamp();
    if (current === null) {
      this.misses++;
      return compute();
    }
    const stamp = `${current}:${Math.floor(Date.now() / DAY_MS)}`;
    const hit = this.entries.get(key);
    if (hit && hit.stamp === stamp) {
      this.hits++;
      // Most recently used last, so eviction drops the oldest.
      this.entries.delete(key);
      this.entries.set(key, hit);
      return hit.value;
    }
    this.misses++;
    const value = deepFreeze(await compute());
    // Keep it only if nothing was written while it was computed.
    if (`${this.changeStamp()}:${Math.floor(Date.now() / DAY_MS)}` === stamp) {
      this.entries.set(key, { stamp, value });
      if (this.entries.size > this.max) this.entries.delete(this.entries.keys().next().value as string);
    }
    return value;
  }
}
