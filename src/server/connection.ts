// One client connection: a WebSocket, or a single HTTP request for one-shot calls. Holds the
// session, per-connection options, subscriptions and the in-flight call count.

import type { Session } from "../auth/session.js";

export interface ConnectionOptions {
  legacy_jobs: boolean;
  private_methods: boolean;
  py_exceptions: boolean;
}

export class Connection {
  session: Session | null = null;
  readonly options: ConnectionOptions = { legacy_jobs: true, private_methods: false, py_exceptions: false };
  readonly subscriptions = new Map<string, string>(); // subscription id → event name
  inflight = 0;
  closed = false;
  /** Pending second factor after OTP_REQUIRED (reference §7.3). */
  pendingTwoFactor: { userId: number; username: string; mechanism: string; options: Record<string, unknown>; at: number; wrongCodes?: number } | null = null;
  /** tls-server-end-point channel-binding data of the certificate this connection's TLS presented (SCRAM). */
  channelBinding: Buffer | null = null;
  /** API version of the endpoint ("v27.0.0" for /api/current); hides methods removed by then. */
  apiVersion = "v27.0.0";

  constructor(
    readonly id: string,
    /** "ip:port" or "[v6]:port" */
    readonly origin: string,
    readonly remoteAddress: string,
    readonly secure: boolean,
    readonly protocol: "WEBSOCKET" | "REST",
    /** `alone`: the answer of the only call in flight (see `send`). */
    private readonly sendFn: (text: string, alone: boolean) => void,
    private readonly closeFn: (code: number, reason: string) => void,
  ) {}

  get loopback(): boolean {
    const a = this.remoteAddress;
    return a === "127.0.0.1" || a === "::1" || a === "::ffff:127.0.0.1" || a.startsWith("127.") || a.startsWith("::ffff:127.");
  }

  /**
   * Send one message. `alone`: it answers the only call in flight on this connection, so no other
   * answer of this turn can join its write — a WebSocket sends it at once instead of at the turn's
   * end (src/server/http.ts).
   */
  send(text: string, alone = false): void {
    if (!this.closed) this.sendFn(text, alone);
  }

  close(code = 1000, reason = ""): void {
    if (this.closed) return;
    this.closed = true;
    this.closeFn(code, reason);
  }
}
