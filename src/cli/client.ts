// A small JSON-RPC 2.0 WebSocket client for Gatehouse and compatible appliances. Used by the CLI,
// the fleet proxy and the tests.

import WebSocket from "ws";
import { fromWire, stringifyWire } from "../server/ejson.js";

export class RpcCallError extends Error {
  constructor(
    readonly code: number,
    /** The JSON-RPC error message ("Invalid params", "Method does not exist", …). */
    readonly rpcMessage: string,
    readonly data: { error?: number; errname?: string; reason?: string; extra?: unknown; trace?: unknown; code?: string; codes?: string[] } | undefined,
  ) {
    super(data?.reason ?? rpcMessage);
    this.name = "RpcCallError";
  }
  get errname(): string | undefined {
    return this.data?.errname;
  }
  get extra(): [string, string, number][] {
    return (this.data?.extra as [string, string, number][]) ?? [];
  }
  /** The stable error code (`data.code`, docs/errors.md); `code` is the JSON-RPC one. */
  get errorCode(): string | undefined {
    return this.data?.code;
  }
  /** Validation errors: one stable code per `extra` triple, in the same order. */
  get codes(): string[] {
    return this.data?.codes ?? [];
  }
}

/**
 * What the peer sent, before the caller names its type. `call()` without a type argument and a
 * notification's params are left loose on purpose: tests and scripts read the server's JSON freely,
 * while src/ names what it expects (`call<UserRow[]>(…)`). One of src/'s two `any`s (with MigrationDb).
 */
// biome-ignore lint/suspicious/noExplicitAny: the one deliberate escape hatch, described above
export type PeerJson = any;

export interface Notification {
  method: string;
  params: PeerJson;
}

export class RpcClient {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  readonly notifications: Notification[] = [];
  private readonly listeners = new Set<(n: Notification) => void>();
  closeInfo: { code: number; reason: string } | null = null;

  private constructor(readonly ws: WebSocket) {
    ws.on("message", (data) => {
      const text = data.toString();
      const msg = JSON.parse(text);
      // Most replies carry no extended JSON; skip the decoding walk for them.
      const decode = text.includes('"$') ? fromWire : (v: unknown) => v;
      if (msg.id !== undefined && msg.id !== null && this.pending.has(msg.id)) {
        const p = this.pending.get(msg.id)!;
        this.pending.delete(msg.id);
        if (msg.error) p.reject(new RpcCallError(msg.error.code, msg.error.message, msg.error.data));
        else p.resolve(decode(msg.result));
      } else if (msg.method) {
        const n = { method: msg.method, params: decode(msg.params) };
        this.notifications.push(n);
        for (const l of this.listeners) l(n);
      }
    });
    ws.on("close", (code, reason) => {
      this.closeInfo = { code, reason: reason.toString() };
      for (const p of this.pending.values()) p.reject(new Error(`connection closed (${code} ${reason})`));
      this.pending.clear();
    });
  }

  static connect(url: string, opts: { ca?: string | Buffer; rejectUnauthorized?: boolean } = {}): Promise<RpcClient> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { ca: opts.ca, rejectUnauthorized: opts.rejectUnauthorized ?? true, maxPayload: 64 * 1024 * 1024 });
      ws.once("open", () => resolve(new RpcClient(ws)));
      ws.once("error", reject);
    });
  }

  call<T = PeerJson>(method: string, ...params: unknown[]): Promise<T> {
    const id = this.nextId++;
    if (this.ws.readyState !== WebSocket.OPEN) {
      return Promise.reject(new Error(`connection closed (${this.closeInfo?.code ?? "not open"})`));
    }
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.ws.send(stringifyWire({ jsonrpc: "2.0", id, method, params }));
    });
  }

  /** Send raw text (tests of malformed frames); resolves with the next message. */
  sendRaw(text: string): Promise<PeerJson> {
    return new Promise((resolve) => {
      this.ws.once("message", (d) => resolve(JSON.parse(d.toString())));
      this.ws.send(text);
    });
  }

  onNotification(fn: (n: Notification) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Wait for a notification matching `pred`, already received or arriving within `ms`. */
  waitFor(pred: (n: Notification) => boolean, ms = 5000): Promise<Notification> {
    const seen = this.notifications.find(pred);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        reject(new Error("timed out waiting for notification"));
      }, ms);
      const off = this.onNotification((n) => {
        if (pred(n)) {
          clearTimeout(timer);
          off();
          resolve(n);
        }
      });
    });
  }

  async login(username: string, password: string): Promise<PeerJson> {
    return this.call("auth.login_ex", { mechanism: "PASSWORD_PLAIN", username, password });
  }

  async loginApiKey(apiKey: string, username = ""): Promise<PeerJson> {
    return this.call("auth.login_ex", { mechanism: "API_KEY_PLAIN", username, api_key: apiKey });
  }

  /** Call a job method and wait for its result (legacy_jobs off for this connection). */
  async callJob<T = PeerJson>(method: string, ...params: unknown[]): Promise<T> {
    const id = await this.call<number>(method, ...params);
    return this.call<T | number>("core.job_wait", id).then(async (waitId) => {
      if (typeof waitId === "number") {
        // legacy_jobs: core.job_wait is itself a job; poll it.
        for (;;) {
          const [job] = await this.call<{ state: string; result: T; error: string }[]>("core.get_jobs", [["id", "=", waitId]]);
          if (job && job.state !== "RUNNING" && job.state !== "WAITING") {
            if (job.state === "SUCCESS") return job.result;
            throw new Error(job.error);
          }
          await new Promise((r) => setTimeout(r, 20));
        }
      }
      return waitId;
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      if (this.ws.readyState === WebSocket.CLOSED) return resolve();
      this.ws.once("close", () => resolve());
      this.ws.close();
    });
  }
}
