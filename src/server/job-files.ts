// Job uploads: a job that reads a file (user.import) offers a one-time URL
// `PUT /_upload/<job id>/<token>` in its progress (`extra.upload_url`) and waits for the body —
// a WebSocket frame is capped at 64 KiB, a file of 100,000 accounts is many megabytes. The
// counterpart of the job-bound downloads (./downloads.ts), with the same rules:
//
// - the token is 256 random bits, single use (the first PUT takes it; a second is 404);
// - it is bound to the job (the id in the URL must match) and to the session that started the
//   job: the PUT is refused once that session ended;
// - the offer expires (default 10 minutes): the waiting job then fails;
// - the body is bounded (GATEHOUSE_UPLOAD_MAX_BYTES, default 256 MiB) and held in memory only
//   until the job took it; nothing is written to disk.
// Offers live in the process that runs the job: a PUT reaching another process is answered 404.

import { randomBytes, timingSafeEqual } from "node:crypto";
import type { FastifyInstance } from "fastify";
import type { Store } from "../store/db.js";

interface UploadOffer {
  jobId: number;
  sessionId: string | null;
  ephemeral: boolean;
  expiresAt: number;
  resolve(body: Buffer): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

const DEFAULT_TTL_MS = 10 * 60_000;
export const UPLOAD_MAX_BYTES = Number(process.env.GATEHOUSE_UPLOAD_MAX_BYTES) || 256 * 1024 * 1024;

export class Uploads {
  private readonly offers = new Map<string, UploadOffer>();

  constructor(private readonly store: Pick<Store, "db">) {}

  /**
   * Offer an upload to the job; `url` is where the file is PUT, `body` resolves with it (or
   * rejects when the offer expires or is cancelled).
   */
  offer(o: { jobId: number; sessionId: string | null; ephemeral: boolean }, ttlMs = DEFAULT_TTL_MS): { url: string; body: Promise<Buffer>; cancel(): void } {
    const token = randomBytes(32).toString("base64url");
    let resolve!: (b: Buffer) => void;
    let reject!: (e: Error) => void;
    const body = new Promise<Buffer>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    const timer = setTimeout(() => {
      if (this.offers.delete(token)) reject(new Error("no file was uploaded in time"));
    }, ttlMs);
    timer.unref();
    this.offers.set(token, { ...o, expiresAt: Date.now() + ttlMs, resolve, reject, timer });
    const cancel = () => {
      const x = this.offers.get(token);
      if (!x) return;
      this.offers.delete(token);
      clearTimeout(x.timer);
      x.reject(new Error("the upload was cancelled"));
    };
    return { url: `/_upload/${o.jobId}/${token}`, body, cancel };
  }

  private async sessionAlive(o: UploadOffer): Promise<boolean> {
    if (o.sessionId === null) return false;
    if (o.ephemeral) return true;
    const row = await this.store.db.selectFrom("sessions").select(["terminated", "expires_at"]).where("id", "=", o.sessionId).executeTakeFirst();
    return !!row && !Number(row.terminated) && Number(row.expires_at) > Date.now();
  }

  /** Hand `body` to the job that offered (job id, token); false when there is no such live offer. */
  async deliver(jobId: number, token: string, body: Buffer): Promise<boolean> {
    const found = [...this.offers.keys()].find((t) => t.length === token.length && timingSafeEqual(Buffer.from(t), Buffer.from(token)));
    if (!found) return false;
    const o = this.offers.get(found)!;
    this.offers.delete(found);
    clearTimeout(o.timer);
    if (o.jobId !== jobId || Date.now() > o.expiresAt || !(await this.sessionAlive(o))) {
      o.reject(new Error("the upload was refused (wrong job, expired or the session ended)"));
      return false;
    }
    o.resolve(body);
    return true;
  }
}

const byStore = new WeakMap<object, Uploads>();

export function uploadsOf(app: { store: Store }): Uploads {
  let u = byStore.get(app.store);
  if (!u) byStore.set(app.store, (u = new Uploads(app.store)));
  return u;
}

/** `PUT /_upload/<job id>/<token>`: the body goes to the waiting job, once. */
export function registerUploadRoute(server: FastifyInstance, app: { store: Store }): void {
  void server.register(async (scope) => {
    // Any Content-Type: the body is the file, as bytes.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser("*", { parseAs: "buffer", bodyLimit: UPLOAD_MAX_BYTES }, (_req, body, done) => done(null, body));
    scope.put<{ Params: { job: string; token: string } }>("/_upload/:job/:token", { bodyLimit: UPLOAD_MAX_BYTES }, async (req, reply) => {
      const jobId = Number(req.params.job);
      const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      const ok = Number.isInteger(jobId) && /^[A-Za-z0-9_-]{43}$/.test(req.params.token) && (await uploadsOf(app).deliver(jobId, req.params.token, body));
      reply.header("content-type", "application/json");
      if (!ok) {
        reply.code(404);
        return JSON.stringify({ error: "Not Found", code: "job.upload_gone" });
      }
      return JSON.stringify({ received: body.length });
    });
  });
}
