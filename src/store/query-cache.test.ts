import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import pino from "pino";
import { App } from "../app.js";
import { resolveConfig } from "../config.js";
import { callMethod } from "../server/rpc.js";
import { Connection } from "../server/connection.js";

async function withApp(fn: (app: App, dataDir: string, call: (m: string, ...p: unknown[]) => Promise<any>) => Promise<void>) {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "gh-qc-"));
  const app = await App.create({ ...resolveConfig({ dataDir, port: 0, hashRounds: 1000, logLevel: "silent" }, {}), failDelay: [0, 0] }, { log: pino({ level: "silent" }) });
  const conn = new Connection("t", "127.0.0.1:1", "127.0.0.1", false, "WEBSOCKET", () => {}, () => {});
  conn.session = app.auth.internalSession();
  try {
    await fn(app, dataDir, (m, ...p) => callMethod(app, conn, m, p, 1));
  } finally {
    await app.shutdown();
    await app.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

test("user.query results are reused until this process writes (INSERT … RETURNING included)", async () => {
  await withApp(async (app, _dir, call) => {
    const cache = app.store.queryCache!;
    assert.ok(cache, "the embedded store has a query cache");
    const q = () => call("user.query", [["username", "^", "qc"]], { order_by: ["username"] });
    assert.deepEqual(await q(), []);
    const hits = cache.hits;
    assert.deepEqual(await q(), []);
    assert.equal(cache.hits, hits + 1, "second identical query is a hit");
    await call("user.create", { username: "qc1", full_name: "Q C", password: "Qc-pass-1234", group_create: true, smb: false });
    assert.deepEqual((await q()).map((u: any) => u.username), ["qc1"], "a create invalidates");
    await call("user.update", (await q())[0].id, { full_name: "Changed" });
    assert.equal((await q())[0].full_name, "Changed", "an update invalidates");
    const [entry] = await q();
    assert.throws(() => {
      (entry as any).full_name = "mutated";
    }, "cached results are frozen");
  });
});

test("a commit by another connection (the CLI, another process) invalidates through data_version", async () => {
  await withApp(async (app, dataDir, call) => {
    await call("user.create", { username: "qc2", full_name: "Before", password: "Qc-pass-1234", group_create: true, smb: false });
    const q = () => call("user.query", [["username", "=", "qc2"]]);
    assert.equal((await q())[0].full_name, "Before");
    assert.equal((await q())[0].full_name, "Before");
    const other = new Database(path.join(dataDir, "gatehouse.db"));
    other.prepare("update users set full_name = 'After' where username = 'qc2'").run();
    other.close();
    assert.equal((await q())[0].full_name, "After");
  });
});
