// The provisioning model's accounts by id (./model.ts). At 100,000 users a Map<number, …> cost a
// cache miss or two per lookup (its hash table is megabytes, and ids are looked up one after the
// other by every pass over the accounts: build, render, member lists): some 60 ms of a cold full
// run. Store ids are small integers handed out in ascending order, so they are kept here in pages
// of 256 slots (the model's blocks): a pass in id order reads one array after the other, and a
// lookup is one small Map lookup for the page (skipped when the last lookup was in the same page)
// and an array index.

const PAGE_SHIFT = 8;
const PAGE_SLOTS = 1 << PAGE_SHIFT;

interface Page<T> {
  slots: (T | undefined)[];
  /** Slots in use. */
  n: number;
}

/** A Map from integer ids to values (the subset of Map the model uses), iterated in ascending id order. */
export class IdMap<T> {
  private readonly pages = new Map<number, Page<T>>();
  /** Ids that are not 32-bit integers (not expected of a store, but kept right): a plain Map. */
  private readonly other = new Map<number, T>();
  private sortedPages: number[] | null = [];
  private count = 0;
  private lastNo = Number.NaN;
  private lastPage: Page<T> | undefined = undefined;

  get size(): number {
    return this.count;
  }

  private page(no: number): Page<T> | undefined {
    if (no !== this.lastNo) {
      this.lastNo = no;
      this.lastPage = this.pages.get(no);
    }
    return this.lastPage;
  }

  get(id: number): T | undefined {
    if ((id | 0) !== id) return this.other.get(id);
    return this.page(id >> PAGE_SHIFT)?.slots[id & (PAGE_SLOTS - 1)];
  }

  has(id: number): boolean {
    return this.get(id) !== undefined;
  }

  /** `value` must not be undefined (a slot holding undefined is an empty one). */
  set(id: number, value: T): this {
    if ((id | 0) !== id) {
      if (!this.other.has(id)) this.count++;
      this.other.set(id, value);
      return this;
    }
    const no = id >> PAGE_SHIFT;
    let p = this.page(no);
    if (!p) {
      p = { slots: new Array<T | undefined>(PAGE_SLOTS).fill(undefined), n: 0 };
      this.pages.set(no, p);
      this.lastPage = p;
      this.sortedPages = null;
    }
    const slot = id & (PAGE_SLOTS - 1);
    if (p.slots[slot] === undefined) {
      p.n++;
      this.count++;
    }
    p.slots[slot] = value;
    return this;
  }

  delete(id: number): boolean {
    if ((id | 0) !== id) {
      if (!this.other.delete(id)) return false;
      this.count--;
      return true;
    }
    const no = id >> PAGE_SHIFT;
    const p = this.page(no);
    const slot = id & (PAGE_SLOTS - 1);
    if (!p || p.slots[slot] === undefined) return false;
    p.slots[slot] = undefined;
    this.count--;
    if (--p.n === 0) {
      this.pages.delete(no);
      this.lastNo = Number.NaN;
      this.lastPage = undefined;
      this.sortedPages = null;
    }
    return true;
  }

  *entries(): Generator<[number, T]> {
    if (!this.sortedPages) this.sortedPages = [...this.pages.keys()].sort((a, b) => a - b);
    const nos = this.sortedPages;
    const others = this.other.size ? [...this.other].sort((a, b) => a[0] - b[0]) : [];
    let o = 0;
    for (const no of nos) {
      const lo = no << PAGE_SHIFT;
      while (o < others.length && others[o][0] < lo) yield others[o++];
      const p = this.pages.get(no);
      if (!p) continue; // removed while iterating
      for (let i = 0; i < PAGE_SLOTS; i++) {
        const v = p.slots[i];
        if (v === undefined) continue;
        while (o < others.length && others[o][0] < lo + i) yield others[o++];
        yield [lo + i, v];
      }
    }
    while (o < others.length) yield others[o++];
  }

  *keys(): Generator<number> {
    for (const [id] of this.entries()) yield id;
  }

  *values(): Generator<T> {
    for (const [, v] of this.entries()) yield v;
  }
}
