// A small JSON-RPC 2.0 WebSocket client for the browser (reference §8): one socket to
// /api/current, extended JSON both ways ({"$date": ms} ⇄ Date, {"$set": [...]} ⇄ Set on the way
// out / array on the way in), collection_update subscriptions, automatic reconnect with
// re-authentication (a hook set by the session layer) and re-subscription, and error objects whose
// `data.extra` `[attribute, message, errno]` triples map onto form fields.

import { fromWire, toWire } from "../../src/shared/ejson";
import type { ErrorCode } from "../../src/server/error-codes";
import { sentenceFor } from "./messages";
import type { MethodName, Params, QueryEntries, Result } from "./api-types";

export type Filter = unknown[];

/** *.query methods taking (filters, options), as api.select, api.count and api.page call them. */
export type FilterQuery = { [M in keyof QueryEntries]: Params<M> extends [filters?: unknown[], options?: Record<string, unknown>] ? M : never }[keyof QueryEntries];
export interface QueryOptions {
  limit?: number;
  offset?: number;
  order_by?: string[];
  count?: boolean;
  get?: boolean;
  select?: (string | [string, string])[];
  extra?: Record<string, unknown>;
}

// ---------------------------------------------------------------------------------------------
// Extended JSON: the server's own codec (one module, src/shared/ejson.ts, shared by both builds).

export { fromWire, toWire };

// ---------------------------------------------------------------------------------------------
// Errors

export type FieldTriple = [attribute: string, message: string, errno: number];

/** A JSON-RPC message from the server: a reply (id with result or error) or a notification. */
interface WireMessage {
  id?: number | null;
  result?: unknown;
  error?: { code: number; message: string; data?: ErrorData | null };
  method?: string;
  params?: unknown;
}

/** The `data` of a JSON-RPC error: the reference's errno fields, plus Gatehouse's stable codes. */
interface ErrorData {
  error?: number;
  errname?: string;
  reason?: string;
  extra?: unknown;
  code?: ErrorCode;
  codes?: ErrorCode[];
}

export class RpcError extends Error {
  readonly code: number;
  readonly errname: string | undefined;
  readonly errno: number | undefined;
  readonly reason: string;
  readonly extra: FieldTriple[];
  /** Gatehouse's stable error code (docs/errors.md); undefined from servers without codes. */
  readonly errorCode: ErrorCode | undefined;
  /** Validation errors: one code per `extra` triple, in the same order. */
  readonly codes: (ErrorCode | undefined)[];

  constructor(code: number, message: string, data?: ErrorData | null) {
    const reason = data?.reason ?? message;
    // A sentence for people from the stable code (web/src/messages.ts); the server's text otherwise.
    super(code === -32602 ? cleanReason(reason) : (sentenceFor(data?.code, cleanReason(reason)) ?? cleanReason(reason)));
    this.name = "RpcError";
    this.code = code;
    this.errname = data?.errname;
    this.errno = data?.error;
    this.reason = reason;
    this.extra = Array.isArray(data?.extra) ? (data!.extra as unknown[]).filter((t): t is FieldTriple => Array.isArray(t) && typeof t[0] === "string") : [];
    this.errorCode = data?.code;
    this.codes = Array.isArray(data?.codes) ? data.codes : [];
  }

  get isValidation(): boolean {
    return this.code === -32602 && this.extra.length > 0;
  }

  get methodMissing(): boolean {
    return this.code === -32601;
  }

  /**
   * Field errors keyed by field path without the argument name: `user_create.username` →
   * `username`, `user_update.groups.0` → `groups` (and also `groups.0`).
   */
  fieldErrors(): Record<string, string[]> {
    const out: Record<string, string[]> = {};
    for (const [i, [attr, raw]] of this.extra.entries()) {
      const msg = sentenceFor(this.codes[i], raw) ?? raw;
      const parts = attr.split(".");
      const path = parts.length > 1 ? parts.slice(1) : parts;
      const keys = new Set<string>([path.join(".")]);
      const firstNonNumeric = path.filter((p) => !/^\d+$/.test(p));
      if (firstNonNumeric.length) keys.add(firstNonNumeric.join("."));
      if (path.length) keys.add(path[0]);
      // `user.set_password.new_password` style paths (method name as prefix)
      if (parts.length > 2) keys.add(parts[parts.length - 1]);
      for (const k of keys) (out[k] ??= []).includes(msg) || out[k].push(msg);
    }
    return out;
  }
}

export class ConnectionLost extends Error {
  constructor(message = "The connection to the server was lost.") {
    super(message);
    this.name = "ConnectionLost";
  }
}

/** "[EINVAL] user_create.username: message" → "message"; "[EACCES] Not authorized" → "Not authorized". */
export function cleanReason(reason: string): string {
  return reason
    .split("\n")
    .map((l) => l.replace(/^\[[A-Z_]+\]\s*/, ""))
    .join("\n");
}

/** Human text for any error thrown by a call. */
export function errorText(err: unknown): string {
  if (err instanceof RpcError) {
    if (err.isValidation) return err.extra.map(([a, m], i) => `${a.split(".").slice(1).join(".") || a}: ${sentenceFor(err.codes[i], m) ?? m}`).join("\n");
    if (err.errorCode === "core.not_authorized") return "You are not allowed to do this.";
    return err.message;
  }
  if (err instanceof Error) return err.message;
  return String(err);
}

// ---------------------------------------------------------------------------------------------
// Client

export type ConnState = "connecting" | "open" | "reconnecting" | "closed";

export interface CollectionUpdate {
  msg: "added" | "changed" | "removed";
  collection: string;
  id: unknown;
  fields?: Record<string, unknown>;
  extra?: Record<string, unknown>;
}

type Handler = (u: CollectionUpdate) => void;

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
  method: string;
}

export function defaultUrl(): string {
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  return `${proto}//${location.host}/api/current`;
}

/** WebSocket close code of a session the server ended; the close reason says why (src/auth/service.ts). */
export const SESSION_ENDED_CLOSE_CODE = 4001;

export class Api {
  private ws: WebSocket | null = null;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  /** Told when the last pending call is answered (see answered). */
  private readonly quietWaiters: (() => void)[] = [];
  private readonly subs = new Map<string, { handlers: Set<Handler>; serverId: string | null }>();
  private readonly stateListeners = new Set<(s: ConnState) => void>();
  private readonly lostListeners = new Set<(why: string) => void>();
  private ready: Promise<void> | null = null;
  private attempt = 0;
  private stopped = false;
  state: ConnState = "closed";
  /** Set by the session layer: runs after every (re)connect, before queued calls go out. */
  onConnected: ((api: Api, reconnect: boolean) => Promise<void>) | null = null;
  /** Whether a session is expected (so ENOTAUTHENTICATED means "your session ended"). */
  authenticated = false;
  private everConnected = false;
  /** Why the server last ended this client's session (close code 4001), until taken. */
  private endReason: string | null = null;

  /** The server's reason for ending the session, once (null when it gave none). */
  takeEndReason(): string | null {
    const r = this.endReason;
    this.endReason = null;
    return r;
  }

  constructor(readonly url: string = defaultUrl()) {}

  private setState(s: ConnState): void {
    this.state = s;
    for (const l of this.stateListeners) l(s);
  }

  onState(fn: (s: ConnState) => void): () => void {
    this.stateListeners.add(fn);
    return () => this.stateListeners.delete(fn);
  }

  /** Called when the server says the session is gone (expired, terminated, logged out elsewhere). */
  onSessionLost(fn: (why: string) => void): () => void {
    this.lostListeners.add(fn);
    return () => this.lostListeners.delete(fn);
  }

  sessionLost(why: string): void {
    if (!this.authenticated) return;
    this.authenticated = false;
    for (const l of this.lostListeners) l(why);
  }

  /** Open the socket (idempotent); resolves when connected and the onConnected hook ran. */
  connect(): Promise<void> {
    if (this.ready) return this.ready;
    this.stopped = false;
    this.setState(this.everConnected ? "reconnecting" : "connecting");
    this.ready = new Promise<void>((resolve) => {
      const open = () => {
        if (this.stopped) return;
        const ws = new WebSocket(this.url);
        let opened = false;
        ws.onopen = async () => {
          opened = true;
          this.ws = ws;
          this.attempt = 0;
          const reconnect = this.everConnected;
          this.everConnected = true;
          try {
            await this.onConnected?.(this, reconnect);
          } catch {
            // The hook decides what a failed re-authentication means.
          }
          await this.resubscribe();
          this.setState("open");
          resolve();
        };
        ws.onmessage = (ev) => this.handleMessage(String(ev.data));
        ws.onclose = (ev) => {
          if (this.ws === ws) this.ws = null;
          // The server ended the session (terminated, or the account changed) and says why.
          if (ev.code === SESSION_ENDED_CLOSE_CODE && ev.reason) this.endReason = ev.reason;
          for (const p of this.pending.values()) p.reject(new ConnectionLost());
          this.pending.clear();
          for (const w of this.quietWaiters.splice(0)) w();
          for (const s of this.subs.values()) s.serverId = null;
          if (this.stopped) return;
          if (opened) {
            // Lost an open connection: start over (calls wait on the new `ready`).
            this.ready = null;
            void this.connect();
          } else {
            this.attempt++;
            const delay = Math.min(10_000, 250 * 2 ** Math.min(this.attempt, 6));
            setTimeout(open, delay);
          }
        };
      };
      open();
    });
    return this.ready;
  }

  /** Close for good (page unload / tests). */
  close(): void {
    this.stopped = true;
    this.ready = null;
    this.ws?.close();
    this.setState("closed");
  }

  /** Drop the socket so that a fresh one (and session) starts — used by sign out. */
  reset(): void {
    const ws = this.ws;
    this.authenticated = false;
    this.ready = null;
    this.ws = null;
    if (ws) {
      ws.onclose = null;
      ws.close();
    }
    for (const p of this.pending.values()) p.reject(new ConnectionLost());
    this.pending.clear();
    for (const w of this.quietWaiters.splice(0)) w();
    for (const s of this.subs.values()) s.serverId = null;
    this.everConnected = false;
  }

  private handleMessage(text: string): void {
    let msg: WireMessage;
    try {
      msg = JSON.parse(text);
    } catch {
      return;
    }
    if (msg.id !== undefined && msg.id !== null && this.pending.has(msg.id)) {
      const p = this.pending.get(msg.id)!;
      this.pending.delete(msg.id);
      if (!this.pending.size) for (const w of this.quietWaiters.splice(0)) w();
      if (msg.error) {
        const err = new RpcError(msg.error.code, msg.error.message, msg.error.data);
        if (err.errname === "ENOTAUTHENTICATED" || (err.errname === "EACCES" && /session is expired/i.test(err.reason))) {
          this.sessionLost(err.errname === "EACCES" ? "Your session has expired." : "Your session has ended.");
        }
        p.reject(err);
      } else p.resolve(fromWire(msg.result));
      return;
    }
    if (msg.method === "collection_update") {
      const u = fromWire(msg.params) as CollectionUpdate;
      const s = this.subs.get(u.collection);
      if (s) for (const h of s.handlers) h(u);
      // Subscriptions to "*" see everything.
      const all = this.subs.get("*");
      if (all && u.collection !== "*") for (const h of all.handlers) h(u);
    } else if (msg.method === "notify_unsubscribed") {
      const name = (msg.params as { collection?: string } | undefined)?.collection;
      const s = name ? this.subs.get(name) : undefined;
      if (s) s.serverId = null;
    }
  }

  /** Resolved once no call is waiting for its answer (at once when none is). */
  answered(): Promise<void> {
    if (!this.pending.size) return Promise.resolve();
    return new Promise((resolve) => this.quietWaiters.push(resolve));
  }

  /** Send without waiting for connect (used by the onConnected hook itself). */
  rawCall<M extends MethodName>(method: M, ...params: Params<M>): Promise<Result<M>> {
    return this.send(method, params) as Promise<Result<M>>;
  }

  private send(method: string, params: unknown[]): Promise<unknown> {
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return Promise.reject(new ConnectionLost());
    const id = this.nextId++;
    return new Promise<unknown>((resolve, reject) => {
      this.pending.set(id, { resolve, reject, method });
      ws.send(JSON.stringify({ jsonrpc: "2.0", id, method, params: toWire(params) }));
    });
  }

  /** Call a method: parameters and result typed from the server's schemas (web/src/api-types.ts). */
  async call<M extends MethodName>(method: M, ...params: Params<M>): Promise<Result<M>> {
    if (!this.ws || this.state !== "open") await this.connect();
    return this.rawCall(method, ...params);
  }

  /**
   * A method this server may not have (newer than it, or another product's): untyped; callers
   * handle RpcError.methodMissing.
   */
  async callOptional(method: string, ...params: unknown[]): Promise<unknown> {
    if (!this.ws || this.state !== "open") await this.connect();
    return this.send(method, params);
  }

  /** A *.query-style call without get, count or select: its entries. */
  async query<M extends keyof QueryEntries>(method: M, ...params: Params<M>): Promise<QueryEntries[M][]> {
    const r = await this.call(method, ...params);
    if (!Array.isArray(r)) throw new Error(`${method}: expected a list of entries`);
    return r as QueryEntries[M][];
  }

  /** A *.query call with select: entries holding only the fields named (no aliases). */
  async select<M extends FilterQuery, K extends keyof QueryEntries[M] & string>(
    method: M,
    filters: Filter[],
    fields: readonly K[],
    options: Omit<QueryOptions, "select" | "get" | "count"> = {},
  ): Promise<Pick<QueryEntries[M], K>[]> {
    const r = await this.callOptional(method, filters, { ...options, select: [...fields] });
    if (!Array.isArray(r)) throw new Error(`${method}: expected a list of entries`);
    return r as Pick<QueryEntries[M], K>[];
  }

  /** How many entries match (query-options.count). */
  async count<M extends FilterQuery>(method: M, filters: Filter[]): Promise<number> {
    const r = await this.callOptional(method, filters, { count: true });
    if (typeof r !== "number") throw new Error(`${method}: expected a count`);
    return r;
  }

  /** Count + page in two calls, as the appliance UI does (reference §12). */
  async page<M extends FilterQuery>(method: M, filters: Filter[], opts: Omit<QueryOptions, "select" | "get" | "count">): Promise<{ total: number; rows: QueryEntries[M][] }> {
    const [total, rows] = await Promise.all([this.count(method, filters), this.callOptional(method, filters, opts)]);
    if (!Array.isArray(rows)) throw new Error(`${method}: expected a list of entries`);
    return { total, rows: rows as QueryEntries[M][] };
  }

  /** Subscribe to an event (e.g. "user.query"); returns an unsubscribe function. */
  subscribe(name: string, handler: Handler): () => void {
    let s = this.subs.get(name);
    if (!s) {
      s = { handlers: new Set(), serverId: null };
      this.subs.set(name, s);
    }
    s.handlers.add(handler);
    if (!s.serverId && this.state === "open") void this.subscribeOnServer(name);
    return () => {
      const cur = this.subs.get(name);
      if (!cur) return;
      cur.handlers.delete(handler);
      if (!cur.handlers.size) {
        this.subs.delete(name);
        if (cur.serverId && this.state === "open") void this.rawCall("core.unsubscribe", cur.serverId).catch(() => {});
      }
    };
  }

  private async subscribeOnServer(name: string): Promise<void> {
    const s = this.subs.get(name);
    if (!s || s.serverId) return;
    s.serverId = "pending";
    try {
      const id = await this.rawCall("core.subscribe", name);
      const cur = this.subs.get(name);
      if (cur === s) s.serverId = id;
      else void this.rawCall("core.unsubscribe", id).catch(() => {});
    } catch {
      if (this.subs.get(name) === s) s.serverId = null;
    }
  }

  async resubscribe(): Promise<void> {
    if (!this.authenticated) return;
    await Promise.all([...this.subs.keys()].map((n) => this.subscribeOnServer(n)));
  }
}

// ---------------------------------------------------------------------------------------------
// Query-filter helpers

/** Escape regex metacharacters, but turn the user's `*` into `.*` (reference §12). */
export function searchPattern(text: string): string {
  return text
    .split("*")
    .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, "\\$&"))
    .join(".*");
}

/** Case-insensitive "contains" over several fields: ["OR", [[f,"~","(?i).*x"], …]]. */
export function quickSearch(fields: string[], text: string): Filter[] {
  const t = text.trim();
  if (!t) return [];
  const pat = `(?i).*${searchPattern(t)}`;
  if (fields.length === 1) return [[fields[0], "~", pat]];
  return [["OR", fields.map((f) => [f, "~", pat])]];
}

/** OR over alternatives, each a filter or a list of filters (AND). */
export function anyOf(alternatives: (Filter | Filter[])[]): Filter[] {
  if (!alternatives.length) return [];
  if (alternatives.length === 1) {
    const a = alternatives[0];
    return Array.isArray(a[0]) ? (a as Filter[]) : [a as Filter];
  }
  return [["OR", alternatives]];
}

export const api = new Api();
