// Threat: a secret an API caller sends — a password (positional ones too), an API key, a token, a
// one-time code — is kept where others can read it later: audit rows and their CSV/JSON exports,
// the server's log, job listings and job events, error messages that echo input. And: anonymous
// callers fill the audit log with huge, control-character-laden parameters. Guarantee: methods
// declare their secret arguments (`secretArgs`); the dispatcher keeps those values out of every
// one of these places; unauthenticated calls are audited bounded and within a per-address budget.

import { after, before, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { Writable } from "node:stream";
import { z } from "zod";
import pino from "pino";
import { forEachStore, rpcError, startServer, type TestServer } from "../harness.js";
import { uniq } from "../harness.js";
import { RpcClient } from "../../src/cli/client.js";
import { ValidationErrors } from "../../src/server/errors.js";
import { ANON_AUDIT_PER_MINUTE, ANON_LIMITS } from "../../src/audit/audit.js";
import { secretArgLocations } from "../../src/audit/secret-args.js";

const REDACTED = "********";
const SETUP_PW = "Setup-Positional-Secret-71";

/** Every line the server logs, at every level. */
function captureLog(): { log: pino.Logger; text: () => string } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      lines.push(String(chunk));
      cb();
    },
  });
  return { log: pino({ level: "trace" }, stream), text: () => lines.join("") };
}

function assertNone(text: string, secrets: string[], where: string): void {
  for (const s of secrets) assert.ok(!text.includes(s), `${where} holds the secret ${s.slice(0, 4)}…`);
}

forEachStore("security: secret arguments", (store) => {
  let ts: TestServer;
  let a: RpcClient;
  let logs: ReturnType<typeof captureLog>;
  const secrets: string[] = [SETUP_PW];

  before(async () => {
    logs = captureLog();
    ts = await startServer({ store, log: logs.log });
    const anon = await ts.client();
    await anon.call("user.setup_local_administrator", "admin", SETUP_PW);
    a = await ts.client();
    assert.equal((await a.login("admin", SETUP_PW)).response_type, "SUCCESS");
    await a.call("core.set_options", { legacy_jobs: false });
  });
  after(() => ts.stop());

  /** A user with `password` whose privilege grants `roles`, made by the administrator. */
  async function makeUser(_ts: TestServer, opts: { roles: string[]; password?: string }): Promise<{ id: number; username: string; password: string }> {
    const username = uniq("s");
    const password = opts.password ?? "Plain-Test-Pass-1234";
    const groupId = await a.call<number>("group.create", { name: `${username}_g`, smb: false });
    const group = await a.call<any>("group.get_instance", groupId);
    await a.call("privilege.create", { name: `${username}_p`, local_groups: [group.gid], ds_groups: [], roles: opts.roles, web_shell: false });
    const user = await a.call<any>("user.create", { username, full_name: username, group: groupId, smb: false, password });
    return { id: user.id, username, password };
  }

  /** Every audit row as stored, audit.query's answer, and both exports, as one text. */
  async function everyAuditView(): Promise<string> {
    const raw = await ts.app.store.db.selectFrom("audit").select(["username", "event_data"]).execute();
    const queried = await a.call("audit.query", { "query-options": { limit: 10000 } });
    const csvPath = await a.call<string>("audit.export", { export_format: "CSV" });
    const jsonPath = await a.call<string>("audit.export", { export_format: "JSON" });
    return [JSON.stringify(raw), JSON.stringify(queried), readFileSync(csvPath, "utf8"), readFileSync(jsonPath, "utf8")].join("\n");
  }

  it("setup_local_administrator's positional password never reaches the audit log or its CSV/JSON export", async () => {
    const rows = await a.call<any[]>("audit.query", { "query-filters": [["event_data.method", "=", "user.setup_local_administrator"]], "query-options": { limit: 10 } });
    assert.equal(rows.length, 1);
    assert.deepEqual(rows[0].event_data.params.slice(0, 2), ["admin", REDACTED]);
    assertNone(await everyAuditView(), [SETUP_PW], "the audit log");
  });

  it("a row written before the declaration (an older server) is redacted on the way out of query and export", async () => {
    const old = "Old-Row-Secret-8842";
    const { writeAudit } = await import("../../src/audit/audit.js");
    // Written as a session would have, unredacted: what an older version stored.
    await writeAudit(ts.app, {
      event: "METHOD_CALL",
      eventData: { method: "user.setup_local_administrator", params: ["admin", old], description: "old", authenticated: true, authorized: true },
      success: true,
      conn: null,
      session: ts.app.auth.internalSession(),
    });
    const views = await everyAuditView();
    assertNone(views.split("\n").slice(1).join("\n"), [old], "audit.query and the exports");
    assert.deepEqual(await a.call("audit.query", { "query-filters": [["event_data.params.1", "=", old]], "query-options": { count: true } }), 0, "a filter cannot match the old value");
  });

  it("passwords of user.create / user.update / user.set_password and API keys stay out of audit rows and exports", async () => {
    const p1 = "Create-Secret-Pw-5521";
    const p2 = "Update-Secret-Pw-7734";
    const p3 = "SetPw-Secret-Pw-9012";
    const u = await makeUser(ts, { roles: ["READONLY_ADMIN"], password: p1 });
    await a.call("user.update", u.id, { password: p2 });
    await a.call("user.set_password", { username: u.username, new_password: p3 });
    const key = (await a.call<any>("api_key.create", { name: "sa-key", username: u.username })).key as string;
    // auth.login_with_api_key left /api/current with v27; older clients still send it.
    const c1 = await RpcClient.connect(ts.url.replace("/api/current", "/api/v25.10.0"));
    assert.equal(await c1.call("auth.login_with_api_key", key), true);
    await c1.close();
    const c2 = await ts.client();
    assert.equal((await c2.call<any>("auth.login_ex", { mechanism: "API_KEY_PLAIN", username: u.username, api_key: key })).response_type, "SUCCESS");
    const token = await c2.call<string>("auth.generate_token");
    const c3 = await ts.client();
    assert.equal((await c3.call<any>("auth.login_ex", { mechanism: "TOKEN_PLAIN", token })).response_type, "SUCCESS");
    await rpcError(a.call("user.update", u.id, { password: p2, uid: "not-a-number" }));
    secrets.push(p1, p2, p3, key, token);
    assertNone(await everyAuditView(), [p1, p2, p3, key, token, key.split("-")[1]!], "the audit log");
  });

  it("job listings and job events hold no positional secret (core.bulk of a login, of setup_local_administrator)", async () => {
    await a.call("core.subscribe", "core.get_jobs");
    const bogusKey = `9-${"Q".repeat(64)}`;
    const bulkPw = "Bulk-Positional-Secret-33";
    const viaBulk = await a.call<any[]>("core.bulk", "user.setup_local_administrator", [["admin", bulkPw]]);
    assert.ok(viaBulk[0].error, "already set up: the inner call fails");
    const nestedPw = "Nested-Bulk-Secret-61";
    await a.call("core.bulk", "core.bulk", [["user.setup_local_administrator", [["admin", nestedPw]]]]);
    const reader = await makeUser(ts, { roles: ["READONLY_ADMIN"] });
    const b = await RpcClient.connect(ts.url.replace("/api/current", "/api/v25.10.0"));
    assert.equal((await b.login(reader.username, reader.password)).response_type, "SUCCESS");
    await b.call("core.set_options", { legacy_jobs: false });
    await b.call("core.bulk", "auth.login_with_api_key", [[bogusKey]]);
    const jobs = await a.call<any[]>("core.get_jobs", [["method", "=", "core.bulk"]]);
    assert.ok(
      jobs.some((j) => j.arguments[0] === "auth.login_with_api_key" && j.arguments[1][0][0] === REDACTED),
      "the key is redacted by its declared position",
    );
    const setupJob = jobs.find((j) => j.arguments[0] === "user.setup_local_administrator");
    assert.deepEqual(setupJob.arguments[1], [["admin", REDACTED]]);
    await new Promise((r) => setTimeout(r, 100));
    await b.close();
    const text = JSON.stringify([jobs, a.notifications, viaBulk]);
    assertNone(text, [bulkPw, nestedPw, bogusKey, "Q".repeat(64)], "job listings, job events and bulk results");
    const nested = jobs.find((j) => j.arguments[0] === "core.bulk");
    assert.deepEqual(nested.arguments[1], [["user.setup_local_administrator", [["admin", REDACTED]]]], "a bulk of bulks is redacted by the innermost declaration");
    const audit = await everyAuditView();
    assertNone(audit, [bulkPw, nestedPw, bogusKey, "Q".repeat(64)], "the audit log");
  });

  it("a handler error that echoes a password is answered, logged and kept in jobs without it", async () => {
    const pw = "Echoed-Secret-Pw-4419";
    const short = "q7z"; // shorter than the everywhere-scrub length: still scrubbed where the field is named
    const login = ts.app.auth.login.bind(ts.app.auth);
    ts.app.auth.login = (async (_conn: unknown, data: any) => {
      if (data.password === pw) throw new Error(`cannot hash ${data.password}: boom`);
      if (data.password === short) throw new ValidationErrors([["login_data.password", `'${short}' is not a valid password`, 22]]);
      throw new ValidationErrors([["login_data.username", `no user ${data.username}; password ${data.password} refused`, 22]]);
    }) as typeof ts.app.auth.login;
    try {
      const c = await ts.client();
      const e1 = await rpcError(c.call("auth.login_ex", { mechanism: "PASSWORD_PLAIN", username: "x", password: pw }));
      assert.equal(e1.data?.errname, "EFAULT");
      assert.match(String(e1.data?.reason), /cannot hash \*{8}: boom/);
      const e2 = await rpcError(c.call("auth.login_ex", { mechanism: "PASSWORD_PLAIN", username: "x", password: short }));
      assert.equal((e2.data?.extra as any)?.[0]?.[1], `'${REDACTED}' is not a valid password`);
      const other = "Other-Echo-Secret-1187";
      const e3 = await rpcError(c.call("auth.login_ex", { mechanism: "PASSWORD_PLAIN", username: "bob", password: other }));
      assert.equal((e3.data?.extra as any)?.[0]?.[1], `no user bob; password ${REDACTED} refused`);
      const res = await fetch(`${ts.httpUrl}/api/current`, {
        method: "POST",
        body: JSON.stringify({ method: "auth.login_ex", params: [{ mechanism: "PASSWORD_PLAIN", username: "x", password: pw }] }),
        headers: { "content-type": "application/json" },
      });
      assertNone(await res.text(), [pw], "the HTTP answer");
      const out = await a.call<any[]>("core.bulk", "auth.login_ex", [[{ mechanism: "PASSWORD_PLAIN", username: "x", password: pw }]]);
      assertNone(JSON.stringify([out, await a.call("core.get_jobs")]), [pw], "core.bulk's result and job listing");
      assertNone(JSON.stringify([e1.data, e2.data, e3.data]), [pw, other], "the answers");
      assert.match(logs.text(), /method failed/, "the failure was logged");
      assertNone(logs.text(), [pw, other, `'${short}'`], "the server log");
    } finally {
      ts.app.auth.login = login;
    }
  });

  it("a validation error about a password field does not echo it (real policy and type errors)", async () => {
    const u = await makeUser(ts, { roles: ["READONLY_ADMIN"] });
    const weak = "Ab1!x-short";
    await a.call("system.security.update", { min_password_length: 12 });
    const e1 = await rpcError(a.call("user.set_password", { username: u.username, new_password: weak }));
    await a.call("system.security.update", { min_password_length: null });
    const e2 = await rpcError(a.call("user.create", { username: "vx1", full_name: "x", group_create: true, password: { nested: "Nested-Obj-Secret-551" } }));
    const e3 = await rpcError(a.call("user.update", u.id, { password: weak, shell: "/not/a/shell" }));
    assertNone(JSON.stringify([e1.data, e2.data, e3.data]), [weak, "Nested-Obj-Secret-551"], "validation errors");
    assertNone(await everyAuditView(), ["Nested-Obj-Secret-551"], "the audit log");
  });

  it("the server log holds none of the secrets sent in this suite", () => {
    assert.ok(logs.text().length > 0);
    assertNone(logs.text(), secrets, "the server log");
  });

  it("anonymous flood: 1,000 unauthenticated calls with huge, control-laden params leave a bounded number of bounded rows", async () => {
    const before = Number(
      (
        await ts.app.store.db
          .selectFrom("audit")
          .select((eb) => eb.fn.countAll().as("n"))
          .executeTakeFirstOrThrow()
      ).n,
    );
    const huge = {
      username: `evil\u0000\r\n\u001b[31m${"x".repeat(20_000)}`,
      full_name: "y".repeat(5000),
      deep: { a: { b: { c: { d: { e: { f: "deep-leaf-value" } } } } } },
      ...Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`k${i}`, "v".repeat(300)])),
      list: Array.from({ length: 500 }, (_, i) => i),
    };
    // Wide and deep, but small enough once bounded to keep its (bounded) parameters.
    const medium = {
      username: `evil\u0000\r\n\u001b[31m${"x".repeat(1000)}`,
      deep: { a: { b: { c: { d: { e: "deep-leaf-value" } } } } },
      ...Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`m${i}`, i])),
    };
    const bodies = [huge, medium].map((p) => JSON.stringify({ method: "user.create", params: [p] }));
    const started = Date.now();
    for (let i = 0; i < 100; i++) {
      await Promise.all(
        Array.from({ length: 10 }, (_, j) => fetch(`${ts.httpUrl}/api/current`, { method: "POST", body: bodies[j % 2], headers: { "content-type": "application/json" } }).then((r) => r.text())),
      );
    }
    const rows = (await ts.app.store.db.selectFrom("audit").selectAll().orderBy("id").execute()).slice(before);
    const anonRows = rows.filter((r) => r.username === ".UNAUTHENTICATED");
    assert.equal(anonRows.length, rows.length, "only unauthenticated rows were written");
    // The budget is per minute: a flood shorter than a minute touches at most two windows.
    assert.ok(Date.now() - started < 60_000, "the flood took under a minute");
    assert.ok(anonRows.length <= 2 * (ANON_AUDIT_PER_MINUTE + 1), `${anonRows.length} rows for 1,000 calls`);
    assert.ok(anonRows.length >= 1, "calls within the budget are audited");
    const depth = (v: unknown): number => (v && typeof v === "object" ? 1 + Math.max(0, ...Object.values(v).map(depth)) : 0);
    const strings = (v: unknown): string[] => (typeof v === "string" ? [v] : v && typeof v === "object" ? [...Object.keys(v), ...Object.values(v).flatMap(strings)] : []);
    const widest = (v: unknown): number => (v && typeof v === "object" ? Math.max(Object.keys(v).length, ...Object.values(v).map(widest)) : 0);
    for (const r of anonRows) {
      assert.ok(Buffer.byteLength(r.event_data) <= ANON_LIMITS.entryBytes, `entry of ${Buffer.byteLength(r.event_data)} bytes`);
      assert.ok(!/[\u0000-\u001f\u007f-\u009f]/.test(r.event_data.replace(/\\u00[0-9a-f]{2}/g, "")), "no control character");
      const data = JSON.parse(r.event_data);
      for (const s of strings(data)) {
        assert.ok(s.length <= ANON_LIMITS.string, `string of ${s.length}`);
        assert.ok(!/[\u0000-\u001f]/.test(s), "control characters escaped");
      }
      if (data.params) {
        assert.ok(depth(data.params) <= ANON_LIMITS.depth, `depth ${depth(data.params)}`);
        assert.ok(widest(data.params) <= ANON_LIMITS.keys, `${widest(data.params)} keys`);
      }
    }
    const kept = anonRows.map((r) => JSON.parse(r.event_data)).filter((d) => d.params?.[0]?.username);
    assert.ok(kept.length >= 1, "bounded parameters are kept when they fit");
    assert.ok(kept[0].params[0].username.startsWith("evil\\u0000\\u000d\\u000a\\u001b[31m"), "control characters are escaped, not dropped");
    assert.equal(kept[0].params[0].deep.a.b, "…", "deeper levels are cut");
    assert.ok(
      anonRows.some((r) => JSON.parse(r.event_data).params_truncated === true),
      "a too-big entry keeps a marked preview",
    );
  });

  it("an anonymous login with a huge, control-laden username is audited bounded", async () => {
    const c = await ts.client();
    const name = `\u0007bell\u2028${"n".repeat(4000)}`;
    await c.call("auth.login_ex", { mechanism: "PASSWORD_PLAIN", username: name, password: "whatever-pass-1" }).catch(() => null);
    const row = await ts.app.store.db.selectFrom("audit").selectAll().where("event", "=", "AUTHENTICATION").orderBy("id", "desc").executeTakeFirstOrThrow();
    assert.ok(row.username.length <= ANON_LIMITS.string);
    assert.ok(row.username.startsWith("\\u0007bell\\u2028"));
    assert.ok(Buffer.byteLength(row.event_data) <= ANON_LIMITS.entryBytes);
    assert.ok(!row.event_data.includes("whatever-pass-1"));
  });

  it("every method whose arguments carry a password, key, token or code declares it (no undeclared secret argument)", () => {
    const secretName = /(^|_)(password|passwd|pass|secret|token|api_key|otp_token|otp|key|bind_password)$/;
    const notSecret = new Set([
      "auth.set_attribute.key", // a session attribute's name
      "auth.generate_token.attrs", // token attributes, not a token
    ]);
    const undeclared: string[] = [];
    let declared = 0;
    for (const def of ts.app.registry.all()) {
      secretArgLocations(def); // every declaration names an argument (throws otherwise)
      declared += def.secretArgs.length;
      const paths: string[] = [];
      const walk = (schema: any, path: string): void => {
        if (!schema || typeof schema !== "object") return;
        const last = path.split(".").pop()!;
        if (schema.type === "string" && secretName.test(last)) paths.push(path);
        for (const [k, v] of Object.entries(schema.properties ?? {})) walk(v, `${path}.${k}`);
        for (const alt of [...(schema.anyOf ?? []), ...(schema.oneOf ?? [])]) walk(alt, path);
      };
      for (const arg of def.args) walk(z.toJSONSchema(arg.schema, { unrepresentable: "any", io: "input" }), arg.name);
      for (const p of paths) {
        if (notSecret.has(`${def.name}.${p.replace(/^[^.]+\./, "")}`) || notSecret.has(`${def.name}.${p}`)) continue;
        if (!def.secretArgs.some((d) => p === d || p.startsWith(`${d}.`))) undeclared.push(`${def.name}: ${p}`);
      }
    }
    assert.deepEqual(undeclared, []);
    assert.ok(declared >= 14, `${declared} declared secret arguments`);
  });
});
