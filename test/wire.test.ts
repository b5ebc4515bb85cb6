// The wire contract (reference §8, SPEC "What existing clients need"): framing, every error code,
// extended JSON, notifications, batches, limits, events, jobs, HTTP one-shot calls, shutdown.

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { forEachStore, rpcError, startServer, uniq, type TestServer, ADMIN_PASSWORD } from "./harness.js";
import { RpcClient } from "../src/cli/client.js";
import { GATEHOUSE_ARGS } from "./gatehouse-command.js";

forEachStore("wire protocol", (store) => {
  let ts: TestServer;
  before(async () => {
    ts = await startServer({ store });
  });
  after(async () => {
    await ts.stop();
  });

  test("bad JSON answers -32700 with id null", async () => {
    const c = await ts.client();
    const r = await c.sendRaw("{not json");
    assert.equal(r.id, null);
    assert.equal(r.error.code, -32700);
  });

  test("batches are refused", async () => {
    const c = await ts.client();
    const r = await c.sendRaw(JSON.stringify([{ jsonrpc: "2.0", id: 1, method: "core.ping" }]));
    assert.equal(r.error.code, -32700);
    assert.equal(r.error.message, "Batch messages are not supported at this time");
  });

  test("malformed requests answer -32600", async () => {
    const c = await ts.client();
    for (const bad of [
      { id: 1, method: "core.ping" },
      { jsonrpc: "2.0", id: 2, method: 5 },
      { jsonrpc: "2.0", id: 3, method: "core.ping", params: {} },
    ]) {
      const r = await c.sendRaw(JSON.stringify(bad));
      assert.equal(r.error.code, -32600, JSON.stringify(bad));
      assert.equal(typeof r.error.data.reason, "string");
    }
  });

  test("unknown method: -32601 'Method does not exist' with the full data object", async () => {
    const c = await ts.client();
    const e = await rpcError(c.call("nope.nothing"));
    assert.equal(e.code, -32601);
    assert.equal(e.rpcMessage, "Method does not exist");
    for (const k of ["error", "errname", "reason", "trace", "extra"]) assert.ok(k in e.data!, k);
  });

  test("core.ping and core.set_options work before login", async () => {
    const c = await ts.client();
    assert.equal(await c.call("core.ping"), "pong");
    // The resulting options (issue 13; test/scram.test.ts has the rest).
    assert.deepEqual(await c.call("core.set_options", { legacy_jobs: false }), { legacy_jobs: false, private_methods: false, py_exceptions: false });
  });

  test("before login, core.subscribe fails ENOTAUTHENTICATED (207); after login core.get_jobs subscription succeeds", async () => {
    const c = await ts.client();
    const e = await rpcError(c.call("core.subscribe", "core.get_jobs"));
    assert.equal(e.code, -32001);
    assert.equal(e.data!.error, 207);
    assert.equal(e.data!.errname, "ENOTAUTHENTICATED");
    assert.equal(e.data!.reason, "[ENOTAUTHENTICATED] Not authenticated"); // the reference's reason format
    assert.equal(e.errorCode, "core.not_authenticated");
    const a = await ts.adminClient();
    const id = await a.call("core.subscribe", "core.get_jobs");
    assert.match(id, /^[0-9a-f-]{36}$/);
    assert.equal(await a.call("core.unsubscribe", id), null);
  });

  test("validation errors: -32602 with [attribute, message, errno] triples", async () => {
    const a = await ts.adminClient();
    const e = await rpcError(a.call("core.subscribe"));
    assert.equal(e.code, -32602);
    assert.equal(e.rpcMessage, "Invalid params");
    assert.equal(e.data!.error, 22);
    assert.deepEqual(e.extra, [["name", "Field required", 22]]);
    const e2 = await rpcError(a.call("core.ping", 1));
    assert.deepEqual(e2.extra[0]!.slice(1), ["Too many arguments (expected 0, found 1)", 22]);
  });

  test("notifications (no id) get no reply", async () => {
    const c = await ts.client();
    const got: unknown[] = [];
    c.ws.on("message", (d) => got.push(JSON.parse(d.toString())));
    c.ws.send(JSON.stringify({ jsonrpc: "2.0", method: "core.ping" }));
    assert.equal(await c.call("core.ping"), "pong");
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(got.length, 1, "only the reply to the call with an id");
  });

  test("anonymous messages over 8 kB close the socket with 1007", async () => {
    const c = await ts.client();
    c.ws.send(JSON.stringify({ jsonrpc: "2.0", id: 1, method: "core.ping", params: ["x".repeat(9000)] }));
    await new Promise((r) => c.ws.once("close", r));
    assert.equal(c.closeInfo?.code, 1007);
    assert.equal(c.closeInfo?.reason, "Anonymous connection max message length is 8 kB");
  });

  test("authenticated messages over 64 kB close the socket with 1009", async () => {
    const a = await ts.adminClient();
    a.ws.send(JSON.stringify({ jsonrpc: "2.0", id: 1, method: "core.ping", params: ["x".repeat(70000)] }));
    await new Promise((r) => a.ws.once("close", r));
    assert.equal(a.closeInfo?.code, 1009);
  });

  test("more than 20 concurrent calls answer -32000", async () => {
    const slow = await startServer({ store, config: { failDelay: [400, 400] } });
    try {
      const c = await slow.client();
      const calls = Array.from({ length: 25 }, () =>
        c.call("auth.login_ex", { mechanism: "PASSWORD_PLAIN", username: "nobody-here", password: "x" }).then(
          (r): { ok?: any; err?: any } => ({ ok: r }),
          (e): { ok?: any; err?: any } => ({ err: e }),
        ),
      );
      const results = await Promise.all(calls);
      const over = results.filter((r: any) => r.err?.code === -32000);
      assert.equal(over.length, 5);
      assert.equal(over[0]!.err.errorCode, "core.too_many_calls");
      assert.ok(results.filter((r: any) => r.ok?.response_type === "AUTH_ERR").length === 20);
    } finally {
      await slow.stop();
    }
  });

  test("unauthenticated methods are rate limited per IP: EBUSY 'Rate Limit Exceeded'", async () => {
    const limited = await startServer({ store, rateLimitLoopback: true });
    try {
      const c = await limited.client();
      for (let i = 0; i < 20; i++) await c.call("auth.login_ex", { mechanism: "PASSWORD_PLAIN", username: "x", password: "y" });
      const e = await rpcError(c.call("auth.login_ex", { mechanism: "PASSWORD_PLAIN", username: "x", password: "y" }));
      assert.equal(e.data!.errname, "EBUSY");
      assert.equal(e.errorCode, "auth.rate_limited");
    } finally {
      await limited.stop();
    }
  });

  test("jobs: legacy_jobs answers the job id; core.get_jobs shows progress and $date times; job_wait returns the result", async () => {
    const a = await ts.adminClient();
    const sub = await a.call("core.subscribe", "core.get_jobs");
    assert.ok(sub);
    const jobId = await a.call<number>("core.bulk", "core.ping", [[], [], []]);
    assert.equal(typeof jobId, "number");
    const waitId = await a.call<number>("core.job_wait", jobId);
    assert.equal(typeof waitId, "number");
    const done = await a.waitFor((n) => n.params.collection === "core.get_jobs" && n.params.id === jobId && n.params.fields?.state === "SUCCESS");
    assert.equal(done.params.fields.progress.percent, 100);
    assert.deepEqual(
      done.params.fields.result.map((r: any) => r.result),
      ["pong", "pong", "pong"],
    );
    assert.ok(done.params.fields.message_ids.length === 1);
    // Raw wire: datetimes are {"$date": ms}.
    const raw = await a.sendRaw(JSON.stringify({ jsonrpc: "2.0", id: 999, method: "core.get_jobs", params: [[["id", "=", jobId]]] }));
    assert.equal(typeof raw.result[0].time_started.$date, "number");
    assert.equal(raw.result[0].state, "SUCCESS");
    // With legacy_jobs off, a job call answers with its result.
    await a.call("core.set_options", { legacy_jobs: false });
    const direct = await a.call<any[]>("core.bulk", "core.ping", [[]]);
    assert.deepEqual(direct, [{ result: "pong", error: null, errname: null }]);
  });

  test("core.job_abort stops an abortable job: state ABORTED", async () => {
    const a = await ts.adminClient();
    await a.call("core.set_options", { legacy_jobs: true });
    const many = Array.from({ length: 2000 }, () => [[["username", "=", "root"]]]);
    const jobId = await a.call<number>("core.bulk", "user.query", many);
    await a.call("core.job_abort", jobId);
    for (;;) {
      const [job] = await a.call<any[]>("core.get_jobs", [["id", "=", jobId]]);
      if (job.state !== "RUNNING" && job.state !== "WAITING") {
        assert.equal(job.state, "ABORTED");
        break;
      }
      await new Promise((r) => setTimeout(r, 10));
    }
  });

  test("core.get_methods lists method schemas and roles, filtered by the caller", async () => {
    const a = await ts.adminClient();
    const methods = await a.call<Record<string, any>>("core.get_methods");
    assert.ok(methods["user.create"], "user.create listed for an admin");
    assert.deepEqual(methods["user.create"].roles, ["ACCOUNT_WRITE"]);
    assert.equal(methods["user.create"].accepts[0]._name_, "user_create");
    assert.ok(methods["core.ping"]);
    const anon = await ts.client();
    const anonMethods = await anon.call<Record<string, any>>("core.get_methods").catch((e) => e);
    assert.equal(anonMethods.data?.errname, "ENOTAUTHENTICATED");
  });

  test("collection_update events for user.query: added, changed, removed", async () => {
    const a = await ts.adminClient();
    await a.call("core.subscribe", "user.query");
    const name = uniq("ev");
    const user = await a.call<any>("user.create", { username: name, full_name: "Event User", password: "Ev-pass-123", group_create: true, smb: false });
    const added = await a.waitFor((n) => n.method === "collection_update" && n.params.msg === "added" && n.params.id === user.id);
    assert.equal(added.params.collection, "user.query");
    assert.equal(added.params.fields.username, name);
    await a.call("user.update", user.id, { full_name: "Changed" });
    const changed = await a.waitFor((n) => n.params.msg === "changed" && n.params.id === user.id);
    assert.equal(changed.params.fields.full_name, "Changed");
    await a.call("user.delete", user.id);
    const removed = await a.waitFor((n) => n.params.msg === "removed" && n.params.id === user.id);
    assert.equal(removed.params.fields, undefined);
  });

  test("extended JSON in: a $date filter value matches stored datetimes", async () => {
    const a = await ts.adminClient();
    const name = uniq("dt");
    await a.call("user.create", { username: name, full_name: "Date User", password: "Dt-pass-123", group_create: true, smb: false });
    const raw = await a.sendRaw(JSON.stringify({ jsonrpc: "2.0", id: 5, method: "user.query", params: [[["username", "=", name]], { get: true }] }));
    assert.equal(typeof raw.result.last_password_change.$date, "number");
    const since = raw.result.last_password_change.$date - 1000;
    const rows = await a.call<any[]>("user.query", [
      ["username", "=", name],
      ["last_password_change", ">", { $date: since }],
    ]);
    assert.equal(rows.length, 1);
  });

  test("HTTP: GET /api/versions and one-shot POST /api/current with Basic auth", async () => {
    const versions = await (await fetch(`${ts.httpUrl}/api/versions`)).json();
    assert.ok(Array.isArray(versions) && versions.includes("v25.10.0"));
    await ts.adminClient();
    const basic = Buffer.from(`admin:${ADMIN_PASSWORD}`).toString("base64");
    const res = await fetch(`${ts.httpUrl}/api/current`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Basic ${basic}` },
      body: JSON.stringify({ method: "user.query", params: [[["username", "=", "root"]], { get: true }] }),
    });
    const body = (await res.json()) as any;
    assert.equal(body.result.uid, 0);
    const anon: any = await (
      await fetch(`${ts.httpUrl}/api/current`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ method: "user.query", params: [] }) })
    ).json();
    assert.equal(anon.error.data.errname, "ENOTAUTHENTICATED");
    const bad = await fetch(`${ts.httpUrl}/api/current`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Basic ${Buffer.from("admin:wrong").toString("base64")}` },
      body: JSON.stringify({ method: "core.ping" }),
    });
    assert.equal(bad.status, 401);
  });

  test("/api/v25.10.0 is a WebSocket endpoint too", async () => {
    const c = await RpcClient.connect(`ws://127.0.0.1:${ts.port}/api/v25.10.0`);
    assert.equal(await c.call("core.ping"), "pong");
    await c.close();
  });
});

test("SIGTERM: in-flight calls finish before the server exits", async () => {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "gatehouse-sigterm-"));
  const child = spawn(process.execPath, [...GATEHOUSE_ARGS, "serve", "--port", "0", "--data-dir", dataDir, "--log-level", "silent"], {
    env: { ...process.env, GATEHOUSE_FAIL_DELAY_MS: "800-800", GATEHOUSE_HASH_ROUNDS: "1000" },
    stdio: ["ignore", "pipe", "inherit"],
  });
  try {
    const line: string = await new Promise((resolve) => child.stdout!.once("data", (d) => resolve(d.toString())));
    const url = line.match(/http:\/\/([^/ ]+)\//)![1]!;
    const c = await RpcClient.connect(`ws://${url}/api/current`);
    const pending = c.call("auth.login_ex", { mechanism: "PASSWORD_PLAIN", username: "ghost", password: "wrong" });
    await new Promise((r) => setTimeout(r, 150));
    const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
    child.kill("SIGTERM");
    const result = await pending;
    assert.equal(result.response_type, "AUTH_ERR", "the in-flight call got its answer");
    assert.equal(await exited, 0);
  } finally {
    child.kill("SIGKILL");
    rmSync(dataDir, { recursive: true, force: true });
  }
});
