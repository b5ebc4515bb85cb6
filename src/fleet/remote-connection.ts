// One authenticated WebSocket connection to a managed system (another Gatehouse or a compatible
// appliance): connect with the system's TLS settings, log in with its API key, then carry calls.
// Failures to connect are classified (unreachable, TLS, key refused, protocol) so that
// fleet.system.create/update and the status can name the reason with a stable code.
//
// Frames are parsed once and matched to their call by id (a proxied call's plain answer is only
// checked and passed on as wire text, see callRaw); job events (`core.get_jobs`) are handed
// to per-job listeners so the proxy can mirror a remote job as a local one.

import { TLSSocket } from "node:tls";
import WebSocket from "ws";
import { ScramLoginError, peerChannelBinding, scramClientLogin } from "../auth/scram.js";
import { RawWire, fromWire, stringifyWire } from "../server/ejson.js";
import type { ErrorCode } from "../server/errors.js";

/** Where and how to reach a system: its URL, credentials and TLS trust. */
export interface Endpoint {
  url: string;
  apiKey: string;
  /** The key's owner on the system; empty: the system finds it from the key (Gatehouse does). */
  username: string;
  verifySsl: boolean;
  /** PEM of the certificate authority that signs the system's certificate (null: the system's trust store). */
  ca: string | null;
}

export type ConnectFailureCode = Extract<ErrorCode, "fleet.system_unreachable" | "fleet.system_tls" | "fleet.system_key_refused" | "fleet.system_protocol" | "fleet.system_key_unreadable">;

/** Why a connection could not be made (or was lost), with its stable code. */
export class ConnectFailure extends Error {
  constructor(
    readonly code: ConnectFailureCode,
    message: string,
  ) {
    super(message);
    this.name = "ConnectFailure";
  }
}

/** An error object the system answered, kept whole (code, message, data) to pass back unchanged. */
export class RemoteError extends Error {
  constructor(
    readonly rpcCode: number,
    readonly rpcMessage: string,
    readonly data: Record<string, unknown> | null,
  ) {
    super(typeof data?.reason === "string" ? data.reason : rpcMessage);
    this.name = "RemoteError";
  }
}

/** The call did not get an answer in time (the connection stays usable). */
export class RemoteTimeout extends Error {
  override name = "RemoteTimeout";
}

const TLS_CODES = new Set([
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "CERT_HAS_EXPIRED",
  "CERT_NOT_YET_VALID",
  "CERT_UNTRUSTED",
  "CERT_REJECTED",
  "ERR_TLS_CERT_ALTNAME_INVALID",
  "CERT_SIGNATURE_FAILURE",
]);

/** A connection error as one of the stable reasons. */
export function classifyConnectError(err: unknown): ConnectFailure {
  if (err instanceof ConnectFailure) return err;
  const e = err as { code?: string; message?: string };
  const msg = e?.message ?? String(err);
  if (e?.code && TLS_CODES.has(e.code)) return new ConnectFailure("fleet.system_tls", `TLS: ${msg}`);
  if (/certificate|SSL|TLS|wrong version number/i.test(msg)) return new ConnectFailure("fleet.system_tls", `TLS: ${msg}`);
  if (/Unexpected server response/i.test(msg)) return new ConnectFailure("fleet.system_protocol", `not a JSON-RPC WebSocket endpoint: ${msg}`);
  return new ConnectFailure("fleet.system_unreachable", `unreachable: ${msg}`);
}

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  /** When the call times out (performance.now() ms), and the message saying so. */
  deadline: number;
  method: string;
  timeoutMs: number;
  /** Resolve with the result's wire text (RawWire) when the answer has the plain shape. */
  raw: boolean;
}

/** How a Gatehouse answer begins (src/server/rpc.ts reply): `{"jsonrpc":"2.0","id":<n>,"result":<value>}`. */
const ANSWER_HEAD = '{"jsonrpc":"2.0","id":';
const RESULT_KEY = ',"result":';
const CLOSE_BRACE = 125;

export type JobListener = (fields: Record<string, unknown>, msg: string) => void;

export interface OpenOptions {
  /** Connect + login budget (ms). */
  timeoutMs?: number;
  /** Largest frame accepted from the system (bytes). */
  maxPayload?: number;
}

const LOGIN_FAILURES: Record<string, string> = {
  AUTH_ERR: "key refused: invalid API key",
  EXPIRED: "key refused: API key expired or revoked",
  DENIED: "key refused: the key's owner has no API access",
};

export class RemoteConnection {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly jobListeners = new Map<number, JobListener>();
  /** Job events that arrived before anyone listened (the job id is answered after the ADDED event). */
  private readonly earlyJobs = new Map<number, { fields: Record<string, unknown>; msg: string }>();
  private jobsSubscribed: Promise<void> | null = null;
  private closeHandlers: ((reason: string) => void)[] = [];
  /**
   * One timer per connection for the calls' time limits (armed for the earliest deadline, and
   * again after it fires while calls remain), not one per call: a timer per call cost a timer-list
   * insert and removal each on the proxy's path.
   */
  private deadlineTimer: NodeJS.Timeout | null = null;
  private deadlineAt = Number.POSITIVE_INFINITY;
  closed = false;
  closeReason = "";
  /** The system's version as it answered at login (null: it does not tell). */
  version: string | null = null;
  /** Round trip of the login's first call, ms. */
  latencyMs = 0;

  private constructor(private readonly ws: WebSocket) {
    ws.on("message", (data) => this.onFrame(data.toString()));
    ws.on("close", (code, reason) => this.onClosed(`connection closed (${code}${reason.length ? ` ${reason.toString()}` : ""})`));
    ws.on("error", (err) => this.onClosed(`connection error: ${err.message}`));
  }

  get inflight(): number {
    return this.pending.size;
  }

  /** Connect, log in with the endpoint's key and read the system's version. */
  static async open(ep: Endpoint, opts: OpenOptions = {}): Promise<RemoteConnection> {
    const timeoutMs = opts.timeoutMs ?? 10_000;
    const deadline = Date.now() + timeoutMs;
    const ws = await connectSocket(ep, timeoutMs, opts.maxPayload ?? 16 * 1024 * 1024);
    const conn = new RemoteConnection(ws);
    try {
      const left = () => Math.max(1, deadline - Date.now());
      const t0 = performance.now();
      const mechanisms = await conn.call("auth.mechanism_choices", [], left()).catch(() => ["API_KEY_PLAIN"]);
      conn.latencyMs = performance.now() - t0;
      const offered = Array.isArray(mechanisms) ? (mechanisms as unknown[]) : ["API_KEY_PLAIN"];
      // SCRAM keeps the key off the wire; it names the key's owner, so it needs the username.
      if (offered.includes("SCRAM") && ep.username) await conn.loginScram(ep, ws, left());
      else if (offered.includes("API_KEY_PLAIN")) await conn.loginPlain(ep, left());
      else throw new ConnectFailure("fleet.system_key_refused", `key refused: the system offers no API-key login this proxy speaks (${offered.join(", ")}; SCRAM needs the username)`);
      conn.version = await conn.call("system.version", [], left()).then(
        (v) => (typeof v === "string" ? v : null),
        () => null,
      );
      return conn;
    } catch (err) {
      conn.close();
      if (err instanceof ConnectFailure) throw err;
      if (err instanceof RemoteTimeout) throw new ConnectFailure("fleet.system_unreachable", "unreachable: the system did not answer the login in time");
      if (err instanceof RemoteError) throw new ConnectFailure("fleet.system_protocol", `the system refused the login call: ${err.message}`);
      throw classifyConnectError(err);
    }
  }

  private async loginPlain(ep: Endpoint, timeoutMs: number): Promise<void> {
    const r = (await this.call("auth.login_ex", [{ mechanism: "API_KEY_PLAIN", username: ep.username, api_key: ep.apiKey }], timeoutMs)) as { response_type?: string };
    if (r?.response_type !== "SUCCESS") {
      throw new ConnectFailure("fleet.system_key_refused", LOGIN_FAILURES[r?.response_type ?? ""] ?? `key refused: ${String(r?.response_type)}`);
    }
  }

  /** SCRAM-SHA-512, bound to the server's certificate over wss:// (tls-server-end-point). */
  private async loginScram(ep: Endpoint, ws: WebSocket, timeoutMs: number): Promise<void> {
    const socket = (ws as unknown as { _socket?: unknown })._socket;
    const channelBinding = socket instanceof TLSSocket ? peerChannelBinding(socket) : null;
    try {
      await scramClientLogin((loginData) => this.call("auth.login_ex", [loginData], timeoutMs), { username: ep.username, apiKey: ep.apiKey, channelBinding });
    } catch (err) {
      if (err instanceof ScramLoginError) throw new ConnectFailure("fleet.system_key_refused", `key refused: ${err.message}`);
      throw err;
    }
  }

  /** Send one call; resolves with its (decoded) result, rejects with RemoteError / RemoteTimeout / ConnectFailure. */
  call(method: string, params: unknown[], timeoutMs: number): Promise<unknown> {
    return this.send(method, stringifyWire(params), timeoutMs, false);
  }

  /**
   * Send one call whose parameters are already wire text; resolves with the result as wire text
   * (RawWire, checked to be one JSON value) when the answer has Gatehouse's plain shape, decoded
   * otherwise. The proxy passes it on without decoding and encoding it again.
   */
  callRaw(method: string, paramsJson: string, timeoutMs: number): Promise<unknown> {
    return this.send(method, paramsJson, timeoutMs, true);
  }

  private send(method: string, paramsJson: string, timeoutMs: number, raw: boolean): Promise<unknown> {
    if (this.closed) return Promise.reject(new ConnectFailure("fleet.system_unreachable", `unreachable: ${this.closeReason}`));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const deadline = performance.now() + timeoutMs;
      this.pending.set(id, { resolve, reject, deadline, method, timeoutMs, raw });
      if (deadline < this.deadlineAt) this.armDeadline(deadline);
      // Alone on the connection (one call in flight), it leaves at once: no burst to wait for.
      if (this.pending.size > 1) this.corkForTurn();
      this.ws.send(`{"jsonrpc":"2.0","id":${id},"method":${JSON.stringify(method)},"params":${paramsJson}}`);
    });
  }

  /** Fire at `deadline` (a call's time limit, the earliest one pending). */
  private armDeadline(deadline: number): void {
    if (this.deadlineTimer) clearTimeout(this.deadlineTimer);
    this.deadlineAt = deadline;
    this.deadlineTimer = setTimeout(() => this.expire(), Math.max(0, deadline - performance.now()));
    // The socket keeps the process up while calls are out; this timer alone does not.
    this.deadlineTimer.unref();
  }

  /** Time out the calls past their limit; arm again for the earliest one left. */
  private expire(): void {
    this.deadlineTimer = null;
    this.deadlineAt = Number.POSITIVE_INFINITY;
    const now = performance.now();
    let next = Number.POSITIVE_INFINITY;
    for (const [id, p] of this.pending) {
      if (p.deadline <= now) {
        this.pending.delete(id);
        p.reject(new RemoteTimeout(`${p.method}: no answer within ${p.timeoutMs} ms`));
      } else if (p.deadline < next) next = p.deadline;
    }
    if (next !== Number.POSITIVE_INFINITY && !this.closed) this.armDeadline(next);
  }

  /**
   * Calls sent in the same turn of the event loop (a burst of proxied calls answered by one read)
   * leave in one write instead of one syscall each, as the server's replies do (src/server/http.ts).
   * Only while other calls are in flight: a lone call would wait for the turn's end for nothing.
   */
  private corkForTurn(): void {
    const raw = (this.ws as unknown as { _socket?: { writableCorked: number; cork(): void; uncork(): void } })._socket;
    if (raw && !raw.writableCorked) {
      raw.cork();
      setImmediate(() => raw.uncork());
    }
  }

  /**
   * The answer to a raw call, when `text` is exactly `{"jsonrpc":"2.0","id":<n>,"result":<X>}` and
   * X parses as one JSON value (so nothing but the result can ride along into the reply it is
   * spliced into). False: take the ordinary path.
   */
  private rawAnswer(text: string): boolean {
    if (!text.startsWith(ANSWER_HEAD) || text.charCodeAt(text.length - 1) !== CLOSE_BRACE) return false;
    const at = text.indexOf(RESULT_KEY, ANSWER_HEAD.length);
    if (at < 0 || at > ANSWER_HEAD.length + 15) return false;
    const idText = text.slice(ANSWER_HEAD.length, at);
    if (!/^[1-9][0-9]*$/.test(idText)) return false;
    const id = Number(idText);
    const p = this.pending.get(id);
    if (!p?.raw) return false;
    const json = text.slice(at + RESULT_KEY.length, -1);
    try {
      JSON.parse(json);
    } catch {
      return false;
    }
    this.pending.delete(id);
    p.resolve(new RawWire(json));
    return true;
  }

  /** Subscribe once to the system's job events (needed before the first job call). */
  subscribeJobs(timeoutMs: number): Promise<void> {
    this.jobsSubscribed ??= this.call("core.subscribe", ["core.get_jobs"], timeoutMs).then(
      () => undefined,
      (err) => {
        this.jobsSubscribed = null;
        throw err;
      },
    );
    return this.jobsSubscribed;
  }

  /** Listen to one remote job's events (replays any that arrived first); returns the stop function. */
  onJob(jobId: number, fn: JobListener): () => void {
    this.jobListeners.set(jobId, fn);
    const early = this.earlyJobs.get(jobId);
    if (early) {
      this.earlyJobs.delete(jobId);
      fn(early.fields, early.msg);
    }
    return () => this.jobListeners.delete(jobId);
  }

  /** Call `fn` when the connection closes (at once if it has); returns the function that stops listening. */
  onClose(fn: (reason: string) => void): () => void {
    if (this.closed) {
      fn(this.closeReason);
      return () => {};
    }
    this.closeHandlers.push(fn);
    return () => {
      this.closeHandlers = this.closeHandlers.filter((h) => h !== fn);
    };
  }

  close(): void {
    this.onClosed("closed by the proxy");
    try {
      this.ws.close();
    } catch {
      // already closing
    }
  }

  private onFrame(text: string): void {
    if (this.pending.size && this.rawAnswer(text)) return;
    let msg: { id?: unknown; result?: unknown; error?: { code: number; message: string; data?: Record<string, unknown> }; method?: string; params?: unknown };
    try {
      msg = JSON.parse(text);
    } catch {
      return;
    }
    const decode = text.includes('"$') ? fromWire : (v: unknown) => v;
    if (typeof msg.id === "number" && this.pending.has(msg.id)) {
      const p = this.pending.get(msg.id)!;
      this.pending.delete(msg.id);
      if (msg.error) p.reject(new RemoteError(msg.error.code, msg.error.message, msg.error.data ?? null));
      else p.resolve(decode(msg.result));
      return;
    }
    if (msg.method === "collection_update") this.onJobEvent(decode(msg.params) as { collection?: string; msg?: string; id?: unknown; fields?: Record<string, unknown> });
  }

  private onJobEvent(p: { collection?: string; msg?: string; id?: unknown; fields?: Record<string, unknown> }): void {
    if (p?.collection !== "core.get_jobs" || typeof p.id !== "number" || !p.fields) return;
    const fn = this.jobListeners.get(p.id);
    if (fn) {
      fn(p.fields, p.msg ?? "changed");
      return;
    }
    // Keep the latest state of a few unclaimed jobs (ours are claimed within one round trip).
    this.earlyJobs.set(p.id, { fields: p.fields, msg: p.msg ?? "changed" });
    if (this.earlyJobs.size > 256) this.earlyJobs.delete(this.earlyJobs.keys().next().value as number);
  }

  private onClosed(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.closeReason = reason;
    if (this.deadlineTimer) clearTimeout(this.deadlineTimer);
    this.deadlineTimer = null;
    for (const p of this.pending.values()) p.reject(new ConnectFailure("fleet.system_unreachable", `unreachable: ${reason}`));
    this.pending.clear();
    for (const h of this.closeHandlers) h(reason);
    this.closeHandlers = [];
  }
}

function connectSocket(ep: Endpoint, timeoutMs: number, maxPayload: number): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    let ws: WebSocket;
    try {
      ws = new WebSocket(ep.url, {
        rejectUnauthorized: ep.verifySsl,
        ca: ep.ca ?? undefined,
        handshakeTimeout: timeoutMs,
        maxPayload,
        perMessageDeflate: false,
      });
    } catch (err) {
      reject(new ConnectFailure("fleet.system_unreachable", `unreachable: ${(err as Error).message}`));
      return;
    }
    const onError = (err: Error) => {
      ws.removeAllListeners();
      ws.on("error", () => {});
      reject(classifyConnectError(err));
    };
    ws.once("error", onError);
    ws.once("unexpected-response", (_req, res) => {
      ws.removeAllListeners();
      ws.on("error", () => {});
      ws.terminate();
      reject(new ConnectFailure("fleet.system_protocol", `not a JSON-RPC WebSocket endpoint (HTTP ${res.statusCode})`));
    });
    ws.once("open", () => {
      ws.off("error", onError);
      ws.removeAllListeners("unexpected-response");
      resolve(ws);
    });
  });
}
