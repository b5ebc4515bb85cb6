// The app under measurement served as a real client sees it: its HTTP/WebSocket server on an
// ephemeral loopback port, with the first administrator set up and signed in on one connection.
// One helper for the bench areas that drive the API over WebSocket.

import type { App } from "../src/app.js";
import { RpcClient } from "../src/cli/client.js";
import { buildHttpServer, closeAllConnections } from "../src/server/http.js";

export interface BenchServer {
  /** ws://127.0.0.1:<port>/api/current */
  url: string;
  /** The administrator ("admin"), signed in. */
  admin: RpcClient;
  /** Close the administrator's connection, every other connection, then the server. */
  close(): Promise<void>;
}

export async function serveWithAdmin(app: App, password: string): Promise<BenchServer> {
  const server = await buildHttpServer(app);
  await server.listen({ host: "127.0.0.1", port: 0 });
  const url = `ws://127.0.0.1:${(server.server.address() as { port: number }).port}/api/current`;
  const admin = await RpcClient.connect(url);
  await admin.call("user.setup_local_administrator", "admin", password);
  await admin.login("admin", password);
  return {
    url,
    admin,
    close: async () => {
      await admin.close().catch(() => undefined);
      closeAllConnections(server);
      await server.close();
    },
  };
}
