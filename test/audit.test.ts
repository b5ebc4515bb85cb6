// Audit log (reference §10): AUTHENTICATION, LOGOUT and METHOD_CALL entries with redacted
// params; audit.query option rules; audit.export as CSV and JSON (a job).

import { after, before, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { forEachStore, rpcError, type TestServer } from "./harness.js";
import { PASSWORD, clientFor, loginAs, makeUser, randomName, startAsAdmin, type TestUser } from "./auth-helpers.js";
import type { RpcClient } from "../src/cli/client.js";

forEachStore("audit", (store) => {
  let ts: TestServer;
  let admin: TestUser;
  let a: RpcClient;
  before(async () => ({ ts, admin, a } = await startAsAdmin(store)));
  after(() => ts.stop());

  const q = (filters: unknown[], options: Record<string, unknown> = { limit: 1000 }) => a.call<any[]>("audit.query", { "query-filters": filters, "query-options": options });

  it("METHOD_CALL: unauthenticated, unauthorized, invalid and valid calls", async () => {
    const name = randomName("p");
    const anon = await ts.client();
    await rpcError(anon.call("privilege.create", { name, web_shell: false }));
    const { client: ro, user } = await clientFor(ts, ["READONLY_ADMIN"]);
    await rpcError(ro.call("privilege.create", { name, web_shell: false }));
    await rpcError(a.call("privilege.create", { name, web_shell: "nope" }));
    await a.call("privilege.create", { name, web_shell: false });
    const rows = await q(
      [
        ["event", "=", "METHOD_CALL"],
        ["event_data.method", "=", "privilege.create"],
        ["event_data.params.0.name", "=", name],
      ],
      { limit: 10, order_by: ["timestamp"] },
    );
    assert.equal(rows.length, 4);
    const [unauth, unauthz, invalid, ok] = rows;
    assert.equal(unauth.username, ".UNAUTHENTICATED");
    assert.deepEqual([unauth.event_data.authenticated, unauth.event_data.authorized, unauth.success], [false, false, false]);
    assert.equal(unauthz.username, user.username);
    assert.deepEqual([unauthz.event_data.authenticated, unauthz.event_data.authorized, unauthz.success], [true, false, false]);
    assert.deepEqual([invalid.event_data.authorized, invalid.success], [true, false]);
    assert.deepEqual([ok.event_data.authorized, ok.success], [true, true]);
    assert.equal(ok.event_data.description, `Create privilege ${name}`);
    assert.equal(ok.service, "MIDDLEWARE");
    assert.deepEqual(ok.service_data.vers, { major: 0, minor: 1 });
    assert.equal(ok.service_data.protocol, "WEBSOCKET");
    assert.equal(ok.service_data.credentials.credentials, "LOGIN_PASSWORD");
    assert.ok(ok.timestamp instanceof Date);
    assert.equal(typeof ok.message_timestamp, "number");
    assert.match(ok.audit_id, /^[0-9a-f-]{36}$/);
    assert.equal(typeof ok.address, "string");
  });

  it("secrets in params are redacted; AUTHENTICATION and LOGOUT entries", async () => {
    const u = await makeUser(ts, { roles: ["READONLY_ADMIN"] });
    await a.call("user.set_password", { username: u.username, new_password: "Secret-value-99" });
    const c = await ts.client();
    await c.login(u.username, "Secret-value-99");
    await c.call("auth.logout");
    const all = JSON.stringify(await q([], { limit: 10000 }));
    assert.ok(!all.includes("Secret-value-99"));
    assert.ok(!all.includes(PASSWORD));
    const [auth] = await q([
      ["event", "=", "AUTHENTICATION"],
      ["username", "=", u.username],
      ["success", "=", true],
    ]);
    assert.equal(auth.event_data.credentials.credentials, "LOGIN_PASSWORD");
    assert.equal(auth.event_data.error, null);
    const [logout] = await q([
      ["event", "=", "LOGOUT"],
      ["username", "=", u.username],
    ]);
    assert.ok(logout);
    const [setpw] = await q([
      ["event_data.method", "=", "user.set_password"],
      ["event_data.params.0.username", "=", u.username],
    ]);
    assert.equal(setpw.event_data.params[0].new_password, "********");
  });

  it("audit.query option rules and roles", async () => {
    const e1 = await rpcError(a.call("audit.query", { "query-filters": [] }));
    assert.deepEqual(e1.extra[0].slice(0, 2), ["audit_query.query-options", "query-options must be set to either gather row count or contain a limit on the rows returned."]);
    const e2 = await rpcError(a.call("audit.query", { "query-options": { limit: 1, select: ["nope"] } }));
    assert.equal(e2.extra[0][0], "audit_query.query-options.select.0");
    const e3 = await rpcError(a.call("audit.query", { services: ["MIDDLEWARE", "SMB"], "query-options": { limit: 1 } }));
    assert.equal(e3.extra[0][0], "audit_query.services");
    const n = await a.call<number>("audit.query", { "query-options": { count: true } });
    assert.ok(n > 0);
    const one = await a.call("audit.query", { "query-options": { get: true, order_by: ["-message_timestamp"] } });
    assert.equal(typeof one.audit_id, "string");
    const sel = await a.call<any[]>("audit.query", { "query-options": { limit: 2, select: ["event", "username"] } });
    assert.deepEqual(Object.keys(sel[0]).sort(), ["event", "username"]);
    assert.deepEqual(await a.call("audit.query", { services: ["SMB"], "query-options": { limit: 5 } }), []);
    const { client: ro } = await clientFor(ts, ["READONLY_ADMIN"]);
    assert.ok((await ro.call<any[]>("audit.query", { "query-options": { limit: 1 } })).length === 1);
    const { client: none } = await clientFor(ts, ["ACCOUNT_READ"]);
    assert.equal((await rpcError(none.call("audit.query", { "query-options": { limit: 1 } }))).errname, "EACCES");
  });

  it("audit.export writes CSV and JSON (a job)", async () => {
    const c = await loginAs(ts, admin);
    await c.call("core.set_options", { legacy_jobs: false });
    const jsonPath = await c.call<string>("audit.export", { export_format: "JSON", "query-filters": [["event", "=", "AUTHENTICATION"]] });
    const entries = JSON.parse(readFileSync(jsonPath, "utf8"));
    assert.ok(entries.length > 0);
    assert.ok(entries.every((e: any) => e.event === "AUTHENTICATION"));
    const csvPath = await c.call<string>("audit.export", { export_format: "CSV" });
    const lines = readFileSync(csvPath, "utf8").trim().split(/\r\n/);
    assert.equal(lines[0], "audit_id,message_timestamp,timestamp,address,username,session,service,service_data,event,event_data,success");
    assert.ok(lines.length > 2);
    // legacy_jobs: the call answers with a job id.
    const jobId = await a.call("audit.export", { export_format: "CSV" });
    assert.equal(typeof jobId, "number");
  });
});
