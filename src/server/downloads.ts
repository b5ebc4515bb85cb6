// Job downloads: a job that produces a file (fleet.access.matrix; import/export may use it too)
// offers it here and answers with a URL `GET /_download/<job id>/<token>`.
//
// - The file lives in the data dir's private/downloads (0700; files 0600), never under the web root.
// - The token is 256 random bits, single use: the first GET takes it (a second one is 404).
// - It is bound to the job (the id in the URL must match) and to the session that started the
//   job: the GET is refused once that session ended (terminated, expired, logged out).
// - The file is removed after the download or when the offer expires (default 10 minutes), and
//   every file left over from an earlier run is removed when the store is first used.
//
// Offers are held by the process that ran the job (the file is on its disk): a GET that reaches
// another server process sharing the store is answered 404.

import { createReadStream, mkdirSync, readdirSync, rmSync } from "node:fs";
import path from "node:path";
import { randomBytes, timingSafeEqual } from "node:crypto";
import type { FastifyInstance } from "fastify";
import type { Store } from "../store/db.js";

export interface DownloadOffer {
  jobId: number;
  file: string;
  filename: string;
  contentType: string;
  /** The session that started the job; null for the server's own jobs (never downloadable). */
  sessionId: string | null;
  /** The session is kept only in memory (not in the sessions table): bound by expiry alone. */
  ephemeral: boolean;
  expiresAt: number;
}

const DEFAULT_TTL_MS = 10 * 60_000;

export class Downloads {
  private readonly offers = new Map<string, DownloadOffer & { timer: NodeJS.Timeout }>();
  private prepared = false;

  constructor(
    readonly dir: string,
    private readonly store: Pick<Store, "db">,
  ) {}

  /** A fresh file path in the private directory (created 0700, emptied of earlier runs' files). */
  newFile(ext: string): string {
    if (!this.prepared) {
      mkdirSync(this.dir, { recursive: true, mode: 0o700 });
      for (const f of readdirSync(this.dir)) rmSync(path.join(this.dir, f), { force: true });
      this.prepared = true;
    }
    return path.join(this.dir, `${randomBytes(12).toString("hex")}.${ext.replace(/[^a-z0-9]/gi, "")}`);
  }

  /** Offer `file` for one download; returns the URL path. */
  offer(o: Omit<DownloadOffer, "expiresAt">, ttlMs = DEFAULT_TTL_MS): string {
    const token = randomBytes(32).toString("base64url");
    const timer = setTimeout(() => this.take(token), ttlMs);
    timer.unref();
    this.offers.set(token, { ...o, expiresAt: Date.now() + ttlMs, timer });
    return `/_download/${o.jobId}/${token}`;
  }

  /** Remove an offer (and its file); returns it when it was there. */
  private take(token: string): DownloadOffer | null {
    const o = this.offers.get(token);
    if (!o) return null;
    this.offers.delete(token);
    clearTimeout(o.timer);
    return o;
  }

  private async sessionAlive(o: DownloadOffer): Promise<boolean> {
    if (o.sessionId === null) return false;
    if (o.ephemeral) return true;
    const row = await this.store.db.selectFrom("sessions").select(["terminated", "expires_at"]).where("id", "=", o.sessionId).executeTakeFirst();
    return !!row && !Number(row.terminated) && Number(row.expires_at) > Date.now();
  }

  /** The offer for (job id, token), taken (single use), when the token is right and its session lives. */
  async claim(jobId: number, token: string): Promise<DownloadOffer | null> {
    // Constant-time comparison against the stored token (the map lookup alone would be by hash).
    const found = [...this.offers.keys()].find((t) => t.length === token.length && timingSafeEqual(Buffer.from(t), Buffer.from(token)));
    if (!found) return null;
    const o = this.take(found)!;
    if (o.jobId !== jobId || Date.now() > o.expiresAt || !(await this.sessionAlive(o))) {
      rmSync(o.file, { force: true });
      return null;
    }
    return o;
  }

  /** Remove every offered file (shutdown). */
  clear(): void {
    for (const t of [...this.offers.keys()]) {
      const o = this.take(t);
      if (o) rmSync(o.file, { force: true });
    }
  }
}

const byStore = new WeakMap<object, Downloads>();

/** The downloads of an application (one per store and data dir). */
export function downloadsOf(app: { store: Store; config: { dataDir: string } }): Downloads {
  let d = byStore.get(app.store);
  if (!d) byStore.set(app.store, (d = new Downloads(path.join(app.config.dataDir, "private", "downloads"), app.store)));
  return d;
}

/** `GET /_download/<job id>/<token>`: the file once, then it is gone. */
export function registerDownloadRoute(server: FastifyInstance, app: { store: Store; config: { dataDir: string } }): void {
  server.get<{ Params: { job: string; token: string } }>("/_download/:job/:token", async (req, reply) => {
    const jobId = Number(req.params.job);
    const o = Number.isInteger(jobId) && /^[A-Za-z0-9_-]{43}$/.test(req.params.token) ? await downloadsOf(app).claim(jobId, req.params.token) : null;
    if (!o) {
      reply.code(404).header("content-type", "application/json");
      return JSON.stringify({ error: "Not Found", code: "fleet.matrix_download_gone" });
    }
    const stream = createReadStream(o.file);
    const cleanup = () => rmSync(o.file, { force: true });
    stream.on("close", cleanup);
    stream.on("error", cleanup);
    reply
      .header("content-type", o.contentType)
      .header("content-disposition", `attachment; filename="${o.filename.replace(/[^A-Za-z0-9._-]/g, "_")}"`)
      .header("cache-control", "no-store")
      .header("x-content-type-options", "nosniff");
    return reply.send(stream);
  });
}
