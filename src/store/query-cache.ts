// Results of user.query / group.query reused while the store has not changed, as the change feed
// (./change-feed.ts) tells without a round trip: on SQLite exactly, on PostgreSQL from this
// process's writes and the other processes' NOTIFYs. Without a stamp (PostgreSQL's listening
// connection is down) nothing is reused. The day is part of the key because password_age counts
// days.
//
// An answer is kept only when its question was asked before (recently): a stream of questions
// each asked once — lookups of ever new usernames — would otherwise keep thousands of entry
// graphs alive for nothing, promoted to the old generation and traced by every major GC (the
// p99 of those lookups at 1,000,000 users). A repeated question is answered from the cache from
// its third asking on.

const DAY_MS = 86_400_000;

function deepFreeze<T>(value: T): T {
  if (value && typeof value === "object" && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value as Record<string, unknown>)) deepFreeze(v);
  }
  return value;
}

/**
 * FNV-1a of a key, cut to 30 bits: what the admission filter remembers (a number, not the key's
 * text). 30 bits are a small integer to V8 (a larger one would be a heap number per key asked).
 */
function keyHash(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  return h & 0x3fffffff;
}

export class QueryCache {
  private readonly entries = new Map<string, { stamp: string; value: unknown }>();
  /**
   * Hashes of keys asked once and not kept yet, in two generations: the newer takes first askings
   * and, at 2 × max of them, becomes the older (the older dropped). A key is remembered for at
   * least the last 2 × max first askings, at most 4 × max (a collision only admits early). Dropping
   * the oldest hash one at a time instead walked the set's deleted slots from its start on every
   * first asking (~4 us a new username once the set was full).
   */
  private askedOnce = new Set<number>();
  private askedBefore = new Set<number>();
  hits = 0;
  misses = 0;

  constructor(
    private readonly changeStamp: () => string | null,
    private readonly max = 5000,
  ) {}

  /** The cached result for `key`, or `compute()`'s (may be frozen: callers must copy before changing it). */
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
    const value = await compute();
    // Keep it only if nothing was written while it was computed, and the question was asked before.
    // Only a kept answer is frozen (it will be shared): a first asking's answer goes to its one
    // caller, and walking its whole graph would cost a lookup of a new username for nothing.
    if (`${this.changeStamp()}:${Math.floor(Date.now() / DAY_MS)}` === stamp && (hit || this.admit(key))) {
      deepFreeze(value);
      this.entries.set(key, { stamp, value });
      if (this.entries.size > this.max) this.entries.delete(this.entries.keys().next().value as string);
    }
    return value;
  }

  /** True on a key's second asking (within the last 2 × max to 4 × max first askings). */
  private admit(key: string): boolean {
    const h = keyHash(key);
    if (this.askedOnce.delete(h) || this.askedBefore.delete(h)) return true;
    this.askedOnce.add(h);
    if (this.askedOnce.size >= 2 * this.max) {
      this.askedBefore = this.askedOnce;
      this.askedOnce = new Set();
    }
    return false;
  }
}
