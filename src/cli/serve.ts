// `gatehouse serve`: start the server, print the URL, shut down gracefully on SIGTERM/SIGINT
// (in-flight calls and jobs finish; nothing committed is lost).

import { mkdirSync } from "node:fs";
import path from "node:path";
import { App } from "../app.js";
import type { Config } from "../config.js";
import { buildHttpServer, closeAllConnections } from "../server/http.js";
import { defaultSocketPath, listenUnixSocket } from "../server/unix-socket.js";

export async function serve(config: Config): Promise<void> {
  // The demo's storage root (`<data-dir>/mnt`, the default off a real host) exists from the first
  // start, with a `homes` directory, so `--home <data-dir>/mnt/homes --home-create` works at once.
  const demoRoot = path.join(config.dataDir, "mnt");
  if (config.hostRoot !== "/" && config.storageRoots.includes(demoRoot)) mkdirSync(path.join(demoRoot, "homes"), { recursive: true, mode: 0o755 });
  const app = await App.create(config);
  const server = await buildHttpServer(app);
  await server.listen({ host: config.host, port: config.port });
  const addr = server.server.address();
  const port = typeof addr === "object" && addr ? addr.port : config.port;
  const scheme = config.tlsCert ? "https" : "http";
  const host = config.host.includes(":") ? `[${config.host}]` : config.host;
  // The on-host socket for `gatehouse call` (peer credentials, no password); TCP only without the addon.
  const unix = await listenUnixSocket(app, defaultSocketPath(config.dataDir, config.hostRoot));
  process.stdout.write(`Gatehouse listening on ${scheme}://${host}:${port}/${unix ? ` and ${unix.path}` : ""} (store: ${app.store.describe}, host root: ${config.hostRoot})\n`);
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    app.log.info({ signal }, "shutting down");
    // Stop accepting, let in-flight calls and jobs finish, then close sockets and the store.
    server.server.close();
    await unix?.close();
    await app.drain();
    await app.shutdown();
    closeAllConnections(server);
    await server.close();
    await app.close();
    process.exit(0);
  };
  process.on("SIGTERM", () => void stop("SIGTERM"));
  process.on("SIGINT", () => void stop("SIGINT"));
}
