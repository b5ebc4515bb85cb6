// The on-host API socket (issue 13 point 7, like the appliance's middlewared.sock): JSON-RPC over
// WebSocket on a Unix socket, default <data-dir>/gatehouse.sock (/run/gatehouse.sock with
// --host-root /). A connection is signed in by its peer's credentials, which the kernel reports
// (SO_PEERCRED, through the native addon gatehouse_peercred: Node has no API for it):
//   uid 0               → an internal session (full administrator), as the reference's root socket;
//   another local user  → that user's own session, with their roles (the store's user of that uid);
//   no such user        → unauthenticated (it may still log in with auth.login_ex).
// No password crosses the socket and, being authenticated, its calls skip the anonymous rate limit.
// The socket file is 0600 (only the server's own user) unless GATEHOUSE_SOCKET_MODE says otherwise
// (0660 on a system install, where GATEHOUSE_SOCKET_GROUP names the group allowed in).

import { chmodSync, chownSync, lstatSync, unlinkSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import { createRequire } from "node:module";
import { randomUUID } from "node:crypto";
import { fileURLToPath } from "node:url";
import { execFileSync } from "node:child_process";
import { WebSocketServer } from "ws";
import type { App } from "../app.js";
import { Connection } from "./connection.js";
import { handleMessage } from "./rpc.js";
import { writeAudit } from "../audit/audit.js";

export interface PeerCred {
  pid: number;
  uid: number;
  gid: number;
}

interface PeercredAddon {
  peerCred(fd: number): PeerCred;
}

/** The addon, or why it is not there (the server then runs without its socket). */
const ADDON_FILE = fileURLToPath(new URL("../../native/build/Release/gatehouse_peercred.node", import.meta.url));

export function loadPeercred(file = ADDON_FILE): { addon: PeercredAddon; error: null } | { addon: null; error: string } {
  try {
    return { addon: createRequire(import.meta.url)(file) as PeercredAddon, error: null };
  } catch (err) {
    return { addon: null, error: `native addon gatehouse_peercred not loadable (${(err as Error).message.split("\n")[0]}); build it with \`npx node-gyp rebuild -C native\`` };
  }
}

/** Where the socket lives: GATEHOUSE_SOCKET, else /run/gatehouse.sock on the real host, else in the data dir. */
export function defaultSocketPath(dataDir: string, hostRoot: string, env: NodeJS.ProcessEnv = process.env): string {
  if (env.GATEHOUSE_SOCKET) return env.GATEHOUSE_SOCKET;
  return hostRoot === "/" ? "/run/gatehouse.sock" : `${dataDir}/gatehouse.sock`;
}

/** The session a peer gets: root → internal; a local user → theirs; else none. */
async function signInPeer(app: App, conn: Connection, peer: PeerCred): Promise<void> {
  const credentialsData = { username: "root", pid: peer.pid, uid: peer.uid, gid: peer.gid };
  if (peer.uid === 0) {
    conn.session = { ...app.auth.internalSession(), credentials: "UNIX_SOCKET", credentialsData, origin: conn.origin };
  } else {
    const user = await app.store.db.selectFrom("users").select(["id", "username", "uid", "locked"]).where("uid", "=", peer.uid).executeTakeFirst();
    if (!user || user.locked) return; // unauthenticated: auth.login_ex as on any connection
    const sec = await app.auth.security();
    const data = { ...credentialsData, username: user.username };
    const session = await app.auth.sessionForUser(user, "UNIX_SOCKET", conn, { credentialsData: data }, sec);
    if (!(await app.auth.hasApiAccess(session))) return;
    await app.auth.attach(conn, session);
  }
  await writeAudit(app, {
    event: "AUTHENTICATION",
    eventData: { credentials: { credentials: "UNIX_SOCKET", credentials_data: conn.session!.credentialsData }, error: null },
    success: true,
    conn,
    session: conn.session,
  });
}

function socketMode(env: NodeJS.ProcessEnv): number {
  const m = env.GATEHOUSE_SOCKET_MODE;
  return m && /^0?[0-7]{3}$/.test(m) ? Number.parseInt(m, 8) : 0o600;
}

/** Does a server accept connections on this socket? */
function answers(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(socketPath);
    s.once("connect", () => (s.destroy(), resolve(true)));
    s.once("error", () => resolve(false));
  });
}

export interface UnixSocketServer {
  path: string;
  close(): Promise<void>;
}

/**
 * Listen on `socketPath`; null (with the reason logged) when the addon is missing or the path is
 * unusable — the server then runs on TCP only.
 */
export async function listenUnixSocket(app: App, socketPath: string, env: NodeJS.ProcessEnv = process.env, addonFile?: string): Promise<UnixSocketServer | null> {
  const { addon, error } = loadPeercred(addonFile);
  if (!addon) {
    app.log.warn({ socket: socketPath }, `Unix socket disabled: ${error}`);
    return null;
  }
  // A socket left by a process that died is replaced; a live server's is not, nor anything else.
  if (lstatSync(socketPath, { throwIfNoEntry: false })?.isSocket()) {
    if (await answers(socketPath)) {
      app.log.warn({ socket: socketPath }, `Unix socket disabled: another server is listening on ${socketPath}`);
      return null;
    }
    try {
      unlinkSync(socketPath);
    } catch {
      // listen() below reports the problem
    }
  }
  const server = http.createServer((_req, res) => {
    res.writeHead(426, { "content-type": "text/plain" }).end("WebSocket only (JSON-RPC at /api/current)\n");
  });
  const wss = new WebSocketServer({ server, maxPayload: 1024 * 1024 });
  const connections = new Set<Connection>();
  wss.on("connection", (socket, req) => {
    const fd = (req.socket as unknown as { _handle?: { fd?: number } })._handle?.fd ?? -1;
    let peer: PeerCred;
    try {
      peer = addon.peerCred(fd);
    } catch (err) {
      app.log.warn({ err }, "Unix socket: peer credentials unreadable; connection closed");
      socket.close(1008, "peer credentials unreadable");
      return;
    }
    const origin = `UNIX socket (pid=${peer.pid} uid=${peer.uid} gid=${peer.gid})`;
    const conn = new Connection(
      randomUUID(),
      origin,
      "unix",
      true,
      "WEBSOCKET",
      (t) => socket.send(t),
      (code, reason) => socket.close(code, reason),
    );
    connections.add(conn);
    app.auth.registerConnection(conn);
    // Messages wait for the sign-in, so the first call already runs as the peer.
    const ready = signInPeer(app, conn, peer).catch((err) => app.log.error({ err, origin }, "Unix socket: sign-in by peer credentials failed"));
    socket.on("message", (data, isBinary) => {
      const text = isBinary ? Buffer.from(data as Buffer).toString("utf8") : data.toString();
      void ready.then(() => handleMessage(app, conn, text));
    });
    socket.on("close", () => {
      conn.closed = true;
      connections.delete(conn);
      for (const subId of conn.subscriptions.keys()) app.events.unsubscribe(subId);
      void app.auth.connectionClosed(conn);
    });
  });
  const ok = await new Promise<boolean>((resolve) => {
    server.once("error", (err) => {
      app.log.warn({ err, socket: socketPath }, `Unix socket disabled: cannot listen on ${socketPath}`);
      resolve(false);
    });
    // Created 0600 whatever the umask (then widened if asked): never a window where others connect.
    const old = process.umask(0o177);
    server.listen(socketPath, () => resolve(true));
    process.umask(old);
  });
  if (!ok) return null;
  chmodSync(socketPath, socketMode(env));
  if (env.GATEHOUSE_SOCKET_GROUP) {
    try {
      const gid = /^\d+$/.test(env.GATEHOUSE_SOCKET_GROUP) ? Number(env.GATEHOUSE_SOCKET_GROUP) : Number(execFileSync("getent", ["group", env.GATEHOUSE_SOCKET_GROUP]).toString().split(":")[2]);
      chownSync(socketPath, -1, gid);
    } catch (err) {
      app.log.warn({ err }, `Unix socket: group ${env.GATEHOUSE_SOCKET_GROUP} not applied`);
    }
  }
  return {
    path: socketPath,
    async close() {
      for (const c of connections) c.close(1001, "Server shutting down");
      wss.close();
      await new Promise<void>((r) => server.close(() => r()));
      try {
        unlinkSync(socketPath);
      } catch {
        // already gone
      }
    },
  };
}
