// HTTP + WebSocket server (reference §8.1): JSON-RPC over WebSocket at /api/current and the
// versioned endpoints, one-shot `POST /api/current`, `GET /api/versions`, and the web UI at `/`.

import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { randomUUID } from "node:crypto";
import Fastify, { type FastifyInstance } from "fastify";
import websocket from "@fastify/websocket";
import fastifyStatic from "@fastify/static";
import type { App } from "../app.js";
import { Connection } from "./connection.js";
import { callMethod, errorObject, handleMessage } from "./rpc.js";
import { stringifyWire } from "./ejson.js";
import { RpcError } from "./errors.js";
import { clientAddress, isTrustedPeer, trustedProxyList } from "../auth/source.js";
import { pemToDer, tlsServerEndPoint } from "../auth/scram.js";
import { registerDownloadRoute } from "./downloads.js";
import { registerUploadRoute } from "./job-files.js";

export const API_VERSIONS = ["v25.10.0", "v26.0.0", "v27.0.0"] as const;
export const CURRENT_VERSION = "v27.0.0";

function originOf(address: string, port: number): string {
  return address.includes(":") && !address.startsWith("::ffff:") ? `[${address}]:${port}` : `${address.replace(/^::ffff:/, "")}:${port}`;
}

export function webRoot(): string | null {
  const here = path.dirname(fileURLToPath(import.meta.url));
  for (const candidate of [path.resolve(here, "../../web/dist"), path.resolve(here, "../../../web/dist")]) {
    if (existsSync(path.join(candidate, "index.html"))) return candidate;
  }
  return null;
}

/**
 * Messages sent in the same turn of the event loop (SQLite answers synchronously, so a burst of
 * pipelined calls often does; events come in bursts) leave in one write instead of one syscall
 * each. The answer of the only call in flight (`alone`) has no burst to wait for and leaves at
 * once — unless the turn's write is already gathering, which it then joins (order is kept).
 */
export function sendCorked(socket: Pick<import("ws").WebSocket, "send">, text: string, alone = false): void {
  const raw = (socket as unknown as { _socket?: Pick<import("node:net").Socket, "writableCorked" | "cork" | "uncork"> })._socket;
  if (!alone && raw && !raw.writableCorked) {
    raw.cork();
    setImmediate(() => raw.uncork());
  }
  socket.send(text);
}

/**
 * A request a browser made on another site's behalf: its Origin (or, without one, a
 * Sec-Fetch-Site of cross-site / same-site) names a site other than the one it was sent to.
 * Scripts and CLIs send neither header; the UI calls from its own origin.
 */
export function crossSite(req: import("fastify").FastifyRequest): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) {
    const site = req.headers["sec-fetch-site"];
    return site === "cross-site" || site === "same-site";
  }
  let host: string;
  try {
    host = new URL(origin).host;
  } catch {
    return true; // "null" (sandboxed frames, file: pages) and anything unparsable
  }
  return !host || host.toLowerCase() !== String(req.headers.host ?? "").toLowerCase();
}

/** The tls-server-end-point data of the served certificate; null (logged) when it has none. */
function serverChannelBinding(pem: string, app: App): Buffer | null {
  try {
    const der = pemToDer(pem);
    const b = der ? tlsServerEndPoint(der) : null;
    if (!b) app.log.warn("TLS certificate's signature algorithm defines no tls-server-end-point binding: SCRAM with channel binding will be refused");
    return b;
  } catch (err) {
    app.log.warn({ err }, "TLS certificate could not be read for SCRAM channel binding");
    return null;
  }
}

export async function buildHttpServer(app: App): Promise<FastifyInstance> {
  const { tlsCert, tlsKey } = app.config;
  const https = tlsCert && tlsKey ? { cert: readFileSync(tlsCert), key: readFileSync(tlsKey) } : null;
  // No plugin start-up timeout: the plugins are local code, and a start-up that shares the event
  // loop with a long first provisioning run (a large store) must not abort the server.
  const server = Fastify({ logger: false, bodyLimit: 1024 * 1024, pluginTimeout: 0, ...(https ? { https } : {}) }) as unknown as FastifyInstance;
  await server.register(websocket, { options: { maxPayload: 1024 * 1024 } });
  const secure = !!https;
  // SCRAM channel binding (tls-server-end-point) hashes the leaf certificate this server presents.
  const binding = https ? serverChannelBinding(https.cert.toString("utf8"), app) : null;
  // The client behind a trusted proxy is named by X-Forwarded-For; anyone else's header is ignored.
  const trusted = app.config.trustedProxies?.length ? trustedProxyList(app.config.trustedProxies) : null;
  const clientOf = (req: import("fastify").FastifyRequest) => clientAddress(req.socket.remoteAddress ?? "", req.headers["x-forwarded-for"], trusted);
  // A trusted proxy that terminated TLS says so; from anyone else only our own TLS counts.
  const secureOf = (req: import("fastify").FastifyRequest) =>
    secure || (!!trusted && isTrustedPeer(trusted, req.socket.remoteAddress ?? "") && /^\s*https\s*(,|$)/i.test(String(req.headers["x-forwarded-proto"] ?? "")));
  const connections = new Set<Connection>();
  (server as unknown as { gatehouseConnections: Set<Connection> }).gatehouseConnections = connections;
  const ignore = () => {};
  /** A connection for `req`'s client: its address and TLS as seen through a trusted proxy. */
  const connectionFor = (
    req: import("fastify").FastifyRequest,
    protocol: "WEBSOCKET" | "REST",
    send: (text: string, alone: boolean) => void = ignore,
    close: (code: number, reason: string) => void = ignore,
  ) => {
    const remote = clientOf(req);
    return new Connection(randomUUID(), originOf(remote, req.socket.remotePort ?? 0), remote, secureOf(req), protocol, send, close);
  };

  const wsHandler = (version: string) => (socket: import("ws").WebSocket, req: import("fastify").FastifyRequest) => {
    const conn = connectionFor(
      req,
      "WEBSOCKET",
      (text, alone) => sendCorked(socket, text, alone),
      (code, reason) => socket.close(code, reason),
    );
    conn.apiVersion = version;
    if (binding && (req.socket as { encrypted?: boolean }).encrypted) conn.channelBinding = binding;
    connections.add(conn);
    app.auth.registerConnection(conn);
    socket.on("message", (data, isBinary) => {
      void handleMessage(app, conn, isBinary ? Buffer.from(data as Buffer).toString("utf8") : data.toString());
    });
    socket.on("close", () => {
      conn.closed = true;
      connections.delete(conn);
      for (const subId of conn.subscriptions.keys()) app.events.unsubscribe(subId);
      void app.auth.connectionClosed(conn);
    });
  };

  server.register(async (scope) => {
    scope.get("/api/current", { websocket: true }, wsHandler(CURRENT_VERSION));
    for (const v of API_VERSIONS) scope.get(`/api/${v}`, { websocket: true }, wsHandler(v));
  });

  server.get("/api/versions", async () => [...API_VERSIONS, "current"]);
  // Files made by jobs (fleet.access.matrix): one GET each, bound to the job and its session.
  registerDownloadRoute(server, app);
  registerUploadRoute(server, app);

  // One-shot call: {"method": "...", "params": [...]} or a JSON-RPC request, authenticated by
  // `Authorization: Bearer <api key>` or Basic, at /api/current and at each versioned path.
  server.register(async (scope) => {
    // The body is JSON whatever the Content-Type says (`curl -d` sends form-encoded, a script
    // may send none or text/plain). Those are the types a web page can send cross-site without
    // asking first, so refuseCrossSite below turns away any request another site's page makes.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser("*", { parseAs: "string" }, (_req, body, done) => {
      const text = String(body);
      if (!text.trim()) return done(null, {});
      try {
        done(null, JSON.parse(text));
      } catch {
        const err = new Error("the body is not JSON") as Error & { statusCode: number };
        err.statusCode = 400;
        done(err, undefined);
      }
    });
    scope.addHook("onRequest", async (req, reply) => {
      if (crossSite(req)) {
        reply.code(403).header("content-type", "application/json");
        return reply.send(
          JSON.stringify({ jsonrpc: "2.0", id: null, error: errorObject(new RpcError(-32001, "Cross-site request refused", { errname: "EACCES", error: 13 }, "auth.cross_site_refused")) }),
        );
      }
    });
    scope.post("/api/current", oneShot(CURRENT_VERSION));
    for (const v of API_VERSIONS) scope.post(`/api/${v}`, oneShot(v));
  });

  function oneShot(version: string) {
    return async (req: import("fastify").FastifyRequest, reply: import("fastify").FastifyReply) => {
      // Its credentials and rights are checked against every commit made before it arrived.
      app.store.changes.callArrived();
      const conn = connectionFor(req, "REST");
      conn.apiVersion = version;
      const raw = req.body;
      const body = (raw && typeof raw === "object" && !Array.isArray(raw) ? raw : {}) as Record<string, unknown>;
      const id = (body.id as string | number | undefined) ?? null;
      try {
        if (typeof body.method !== "string") throw new RpcError(-32600, "Invalid Request: method must be a string", undefined, "core.invalid_request");
        if (body.params !== undefined && !Array.isArray(body.params)) throw new RpcError(-32600, "Invalid Request: params must be an array", undefined, "core.invalid_request");
        const auth = req.headers.authorization;
        if (auth) {
          const ok = await app.auth.httpAuthenticate(conn, auth);
          if (!ok) {
            reply.code(401).header("content-type", "application/json");
            return stringifyWire({
              jsonrpc: "2.0",
              id,
              error: errorObject(new RpcError(-32001, "Authentication failed", { errname: "ENOTAUTHENTICATED", error: 207 }, "auth.http_authentication_failed")),
            });
          }
        }
        conn.options.legacy_jobs = false;
        const result = await callMethod(app, conn, body.method, (body.params as unknown[]) ?? [], id);
        reply.header("content-type", "application/json");
        return stringifyWire({ jsonrpc: "2.0", id, result });
      } catch (err) {
        reply.header("content-type", "application/json");
        return JSON.stringify({ jsonrpc: "2.0", id, error: errorObject(err) });
      } finally {
        await app.auth.connectionClosed(conn);
      }
    };
  }

  const root = webRoot();
  if (root) {
    await server.register(fastifyStatic, { root, prefix: "/", wildcard: false });
    server.setNotFoundHandler((req, reply) => {
      if (req.method === "GET" && !req.url.startsWith("/api/")) return reply.sendFile("index.html");
      reply.code(404).send({ error: "Not Found" });
    });
  } else {
    server.get("/", async (_req, reply) => {
      reply.type("text/html");
      return "<!doctype html><title>Gatehouse</title><p>Gatehouse is running. The web UI is not built: run <code>npm run build</code>.</p>";
    });
  }
  return server;
}

/** Close every WebSocket (graceful shutdown, after in-flight calls finished). */
export function closeAllConnections(server: FastifyInstance, code = 1001, reason = "Server shutting down"): void {
  const conns = (server as unknown as { gatehouseConnections?: Set<Connection> }).gatehouseConnections;
  for (const c of conns ?? []) c.close(code, reason);
}
