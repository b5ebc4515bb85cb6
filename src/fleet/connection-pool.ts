// Pooled, authenticated connections to managed systems: one pool per system and key (a replaced
// key, URL or trust setting gets a pool of its own, and the old one is closed), normally one
// connection each. Above MAX_INFLIGHT calls on every connection the pool opens another (up to
// MAX_CONNECTIONS), and past that calls queue. A connection that fails is retried with
// exponential back-off: while a system is down, calls fail at once with its last error instead
// of each opening a socket (a thousand parallel calls to a dead system cost one attempt).
// Background work (the status poller) opens at most MAX_BACKGROUND_OPENS connections at once
// across all systems: a round over a thousand systems that are not connected yet logs in a few
// dozen at a time instead of all at once (which, on a loaded host, ran the logins past their
// time limit by the hundred); a caller's own call never waits for that bound.

import { createHash } from "node:crypto";
import { ConnectFailure, RemoteConnection, type Endpoint } from "./remote-connection.js";

export const MAX_INFLIGHT = 20;
export const MAX_CONNECTIONS = 4;
const BACKOFF_BASE_MS = 250;
const BACKOFF_MAX_MS = 15_000;
export const MAX_BACKGROUND_OPENS = 16;

interface PoolEntry {
  key: string;
  systemId: number;
  ep: Endpoint;
  conns: RemoteConnection[];
  /** Calls in flight per connection (ours, not the socket's: a reservation is made before sending). */
  load: Map<RemoteConnection, number>;
  opening: Promise<RemoteConnection> | null;
  failures: number;
  retryAt: number;
  lastError: ConnectFailure | null;
  waiters: (() => void)[];
}

export interface PoolOptions {
  connectTimeoutMs?: number;
  /** Back-off cap (ms); tests shorten it. */
  backoffMaxMs?: number;
}

/** Hashes by endpoint object: the proxy reuses one Endpoint per system and key, so most calls hash nothing. */
const endpointHashes = new WeakMap<Endpoint, string>();

function endpointKey(systemId: number, ep: Endpoint): string {
  let h = endpointHashes.get(ep);
  if (h === undefined) {
    h = createHash("sha256")
      .update(JSON.stringify([ep.url, ep.apiKey, ep.username, ep.verifySsl, ep.ca]))
      .digest("base64url");
    endpointHashes.set(ep, h);
  }
  return `${systemId}|${h}`;
}

/** A call slot taken by `takeSlot`: its connection, given back once by `release` (later calls do nothing). */
export class Slot {
  private released = false;
  constructor(
    readonly conn: RemoteConnection,
    private readonly giveBack: () => void,
  ) {}

  release(): void {
    if (this.released) return;
    this.released = true;
    this.giveBack();
  }
}

export class ConnectionPool {
  private readonly entries = new Map<string, PoolEntry>();
  private readonly bySystem = new Map<number, Set<string>>();
  private closing = false;
  /** Background connection attempts running, and those waiting for one of the slots. */
  private backgroundOpens = 0;
  private readonly backgroundWaiters: (() => void)[] = [];

  constructor(private readonly opts: PoolOptions = {}) {}

  /**
   * Run `fn` on a connection to `ep` (system `systemId`), holding one of its call slots.
   * `fresh`: ignore the back-off (an explicit status check or a connection test).
   * `background`: a connection this call must open waits for one of MAX_BACKGROUND_OPENS slots.
   */
  async run<T>(systemId: number, ep: Endpoint, fn: (conn: RemoteConnection) => Promise<T>, fresh = false, background = false): Promise<T> {
    const entry = this.entry(systemId, ep);
    // The slot is taken inside acquire, in the same turn the connection is chosen (no other caller
    // can see its load before it counts).
    const conn = this.takeFree(entry) ?? (await this.acquire(entry, fresh, background));
    try {
      return await fn(conn);
    } finally {
      this.release(entry, conn);
    }
  }

  /**
   * A call slot on an open connection to `ep` with room, taken now (the proxy's common call,
   * without an await); null when none is free — use `run`, which opens, waits or fails as it must.
   */
  takeSlot(systemId: number, ep: Endpoint): Slot | null {
    const entry = this.entry(systemId, ep);
    const conn = this.takeFree(entry);
    return conn ? new Slot(conn, () => this.release(entry, conn)) : null;
  }

  private release(entry: PoolEntry, conn: RemoteConnection): void {
    const n = (entry.load.get(conn) ?? 1) - 1;
    if (entry.load.has(conn)) entry.load.set(conn, n);
    entry.waiters.shift()?.();
  }

  /** The last connection failure of the system's current pool, if it is in back-off. */
  lastError(systemId: number, ep: Endpoint): ConnectFailure | null {
    return this.entries.get(endpointKey(systemId, ep))?.lastError ?? null;
  }

  /** Close every connection to a system (deleted, or its key replaced). */
  closeSystem(systemId: number, keep?: string): void {
    for (const key of this.bySystem.get(systemId) ?? []) {
      if (key === keep) continue;
      const e = this.entries.get(key);
      this.entries.delete(key);
      this.bySystem.get(systemId)?.delete(key);
      for (const c of e?.conns ?? []) c.close();
      for (const w of e?.waiters.splice(0) ?? []) w();
    }
  }

  closeAll(): void {
    this.closing = true;
    for (const id of [...this.bySystem.keys()]) this.closeSystem(id);
  }

  /** Number of open connections (tests, bench). */
  get size(): number {
    let n = 0;
    for (const e of this.entries.values()) n += e.conns.length;
    return n;
  }

  private entry(systemId: number, ep: Endpoint): PoolEntry {
    const key = endpointKey(systemId, ep);
    let e = this.entries.get(key);
    if (!e) {
      // A system may have two pools (its main and its read-only key). A replaced key, URL or trust
      // setting is closed by fleet.system.update (closeSystem); another process's change leaves
      // the old pool idle here until the system ends its sessions.
      e = { key, systemId, ep, conns: [], load: new Map(), opening: null, failures: 0, retryAt: 0, lastError: null, waiters: [] };
      this.entries.set(key, e);
      let keys = this.bySystem.get(systemId);
      if (!keys) this.bySystem.set(systemId, (keys = new Set()));
      keys.add(key);
    }
    return e;
  }

  /** The common case without a wait: an open connection with a free slot (the least loaded), taken at once. */
  private takeFree(e: PoolEntry): RemoteConnection | null {
    if (this.closing) return null;
    let best: RemoteConnection | null = null;
    for (const c of e.conns) if (!best || (e.load.get(c) ?? 0) < (e.load.get(best) ?? 0)) best = c;
    return best && (e.load.get(best) ?? 0) < MAX_INFLIGHT ? this.take(e, best) : null;
  }

  private async acquire(e: PoolEntry, fresh: boolean, background: boolean): Promise<RemoteConnection> {
    for (;;) {
      if (this.closing) throw new ConnectFailure("fleet.system_unreachable", "unreachable: the server is shutting down");
      let best: RemoteConnection | null = null;
      for (const c of e.conns) if (!best || (e.load.get(c) ?? 0) < (e.load.get(best) ?? 0)) best = c;
      if (best && (e.load.get(best) ?? 0) < MAX_INFLIGHT) return this.take(e, best);
      if (e.conns.length < MAX_CONNECTIONS || !best) {
        if (!e.opening) {
          if (!fresh && e.lastError && Date.now() < e.retryAt) throw e.lastError;
          e.opening = background ? this.openInBackground(e) : this.open(e);
        }
        try {
          const c = await e.opening;
          if (!best && !c.closed && (e.load.get(c) ?? 0) < MAX_INFLIGHT) return this.take(e, c);
          continue;
        } catch (err) {
          if (!best) throw err;
        }
      }
      // Every connection is full and no more may be opened: wait for a slot.
      await new Promise<void>((r) => e.waiters.push(r));
    }
  }

  private take(e: PoolEntry, c: RemoteConnection): RemoteConnection {
    e.load.set(c, (e.load.get(c) ?? 0) + 1);
    return c;
  }

  /** open(e) once one of the background slots is free (the connect time limit starts then). */
  private async openInBackground(e: PoolEntry): Promise<RemoteConnection> {
    while (this.backgroundOpens >= MAX_BACKGROUND_OPENS) await new Promise<void>((r) => this.backgroundWaiters.push(r));
    this.backgroundOpens++;
    try {
      // Dropped while it waited (shutting down, the system's settings changed): nothing to open.
      if (this.closing || this.entries.get(e.key) !== e) throw new ConnectFailure("fleet.system_unreachable", "unreachable: the connection was dropped before it opened");
      return await this.open(e);
    } finally {
      this.backgroundOpens--;
      this.backgroundWaiters.shift()?.();
    }
  }

  private async open(e: PoolEntry): Promise<RemoteConnection> {
    try {
      const c = await RemoteConnection.open(e.ep, { timeoutMs: this.opts.connectTimeoutMs ?? 10_000 });
      if (this.entries.get(e.key) !== e) {
        c.close(); // the pool was dropped while connecting
        throw new ConnectFailure("fleet.system_unreachable", "unreachable: the system's settings changed while connecting");
      }
      e.conns.push(c);
      e.load.set(c, 0);
      e.failures = 0;
      e.lastError = null;
      c.onClose(() => {
        e.conns = e.conns.filter((x) => x !== c);
        e.load.delete(c);
        for (const w of e.waiters.splice(0)) w();
      });
      return c;
    } catch (err) {
      const f = err instanceof ConnectFailure ? err : new ConnectFailure("fleet.system_unreachable", `unreachable: ${(err as Error).message}`);
      e.failures++;
      e.lastError = f;
      e.retryAt = Date.now() + Math.min(this.opts.backoffMaxMs ?? BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** (e.failures - 1));
      throw f;
    } finally {
      e.opening = null;
    }
  }
}
