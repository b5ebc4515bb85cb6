// Login mechanisms and response types, auth.me, tokens, reconnect tokens, sessions, logout,
// one-time passwords, set_password, deprecated methods and one-shot HTTP authentication.

import { after, before, it } from "node:test";
import assert from "node:assert/strict";
import WebSocket from "ws";
import { spawnSync } from "node:child_process";
import { forEachStore, rpcError, type TestServer } from "./harness.js";
import { RpcClient } from "../src/cli/client.js";
import { PASSWORD, clientFor, lastAudit, loginAs, makeAdmin, makeUser, start, type TestUser } from "./auth-helpers.js";
import { BIN_ENV } from "./gatehouse-command.js";

forEachStore("auth login", (store) => {
  let ts: TestServer;
  let admin: TestUser;
  before(async () => {
    ts = await start(store);
    admin = await makeAdmin(ts);
  });
  after(() => ts.stop());

  it("offers mechanisms before login and refuses calls without one", async () => {
    const c = await ts.client();
    assert.deepEqual(await c.call("auth.mechanism_choices"), ["API_KEY_PLAIN", "TOKEN_PLAIN", "PASSWORD_PLAIN", "SCRAM"]);
    const e = await rpcError(c.call("auth.me"));
    assert.equal(e.errname, "ENOTAUTHENTICATED");
    assert.equal(e.data?.error, 207);
    const s = await rpcError(c.call("core.subscribe", "core.get_jobs"));
    assert.equal(s.errname, "ENOTAUTHENTICATED");
    assert.equal(await c.call("core.ping"), "pong");
  });

  it("PASSWORD_PLAIN answers SUCCESS with user_info; roles travel as a set", async () => {
    const c = await ts.client();
    const raw = await c.sendRaw(JSON.stringify({ jsonrpc: "2.0", id: 1, method: "auth.login_ex", params: [{ mechanism: "PASSWORD_PLAIN", username: admin.username, password: PASSWORD }] }));
    const r = raw.result;
    assert.equal(r.response_type, "SUCCESS");
    assert.equal(r.authenticator, "LEVEL_1");
    assert.equal(r.reconnect_token, null);
    assert.ok(Array.isArray(r.user_info.privilege.roles.$set));
    assert.ok(r.user_info.privilege.roles.$set.includes("FULL_ADMIN"));
    assert.ok(r.user_info.privilege.roles.$set.includes("ACCOUNT_WRITE"));
    assert.deepEqual(r.user_info.privilege.allowlist, [{ method: "*", resource: "*" }]);
    // Subscribing to jobs works right after login.
    const sub = await c.sendRaw(JSON.stringify({ jsonrpc: "2.0", id: 2, method: "core.subscribe", params: ["core.get_jobs"] }));
    assert.equal(typeof sub.result, "string");
  });

  it("auth.me has every field of the reference", async () => {
    const { client, user } = await clientFor(ts, ["READONLY_ADMIN"]);
    const me = await client.call("auth.me");
    assert.deepEqual(Object.keys(me).sort(), [
      "account_attributes",
      "attributes",
      "grouplist",
      "local",
      "privilege",
      "pw_dir",
      "pw_gecos",
      "pw_gid",
      "pw_name",
      "pw_shell",
      "pw_uid",
      "sid",
      "source",
      "two_factor_config",
    ]);
    assert.equal(me.pw_name, user.username);
    assert.equal(me.pw_uid, user.uid);
    assert.equal(me.pw_gid, user.gid);
    assert.equal(me.source, "LOCAL");
    assert.equal(me.local, true);
    assert.deepEqual(me.account_attributes, ["LOCAL"]);
    assert.deepEqual(me.two_factor_config, { provisioning_uri: null, secret_configured: false, interval: 30, otp_digits: 6 });
    assert.equal(me.privilege.webui_access, true);
    assert.equal(me.privilege.web_shell, false);
    assert.ok(me.privilege.roles.includes("READONLY_ADMIN"));
    assert.ok(me.privilege.roles.includes("ACCOUNT_READ"));
    assert.ok(!me.privilege.roles.includes("ACCOUNT_WRITE"));
    assert.ok(me.privilege.allowlist.some((a: any) => a.method === "CALL" && a.resource === "auth.sessions"));
    // set_attribute round trip, per user.
    await client.call("auth.set_attribute", "preferences", { lifetime: 300 });
    assert.deepEqual((await client.call("auth.me")).attributes, { preferences: { lifetime: 300 } });
    const other = await loginAs(ts, admin);
    assert.deepEqual((await other.call("auth.me")).attributes, {});
  });

  it("webui_access is false for an individual role only", async () => {
    const { client } = await clientFor(ts, ["FILESYSTEM_ATTRS_WRITE"]);
    assert.equal((await client.call("auth.me")).privilege.webui_access, false);
  });

  it("AUTH_ERR is the same for an unknown user and a wrong password, and is audited", async () => {
    const c = await ts.client();
    assert.deepEqual(await c.login("nosuchuser", "x"), { response_type: "AUTH_ERR" });
    assert.deepEqual(await c.login(admin.username, "wrong"), { response_type: "AUTH_ERR" });
    const entry = await lastAudit(ts, (e) => e.event === "AUTHENTICATION" && e.username === "nosuchuser");
    assert.equal(entry.success, false);
    assert.equal(entry.event_data.error, "nosuchuser: user does not exist");
    assert.equal(entry.event_data.credentials.credentials, "LOGIN_PASSWORD");
  });

  it("DENIED for a valid user without any privilege; AUTH_ERR for a locked one", async () => {
    const plain = await makeUser(ts);
    const c = await ts.client();
    assert.deepEqual(await c.login(plain.username, PASSWORD), { response_type: "DENIED" });
    const entry = await lastAudit(ts, (e) => e.event === "AUTHENTICATION" && e.username === plain.username);
    assert.equal(entry.event_data.error, "User lacks API access.");
    const locked = await makeUser(ts, { roles: ["READONLY_ADMIN"] });
    await ts.app.store.db.updateTable("users").set({ locked: 1 }).where("id", "=", locked.id).execute();
    assert.deepEqual(await c.login(locked.username, PASSWORD), { response_type: "AUTH_ERR" });
  });

  it("a user whose privileges come from an auxiliary group gets their roles", async () => {
    const holder = await makeUser(ts, { roles: ["SHARING_ADMIN"] });
    const member = await makeUser(ts, { auxGids: [holder.gid] });
    const c = await loginAs(ts, member);
    const me = await c.call("auth.me");
    assert.ok(me.privilege.roles.includes("SHARING_ADMIN"));
    assert.ok(me.privilege.roles.includes("SHARING_SMB_WRITE"));
  });

  it("logging in again on a connection replaces its credential", async () => {
    const limited = await makeUser(ts, { roles: ["READONLY_ADMIN"] });
    const c = await loginAs(ts, admin);
    assert.ok((await c.call("auth.me")).privilege.roles.includes("FULL_ADMIN"));
    assert.equal((await c.login(limited.username, PASSWORD)).response_type, "SUCCESS");
    const me = await c.call("auth.me");
    assert.equal(me.pw_name, limited.username);
    assert.ok(!me.privilege.roles.includes("FULL_ADMIN"));
  });

  it("tokens: login on another connection, single use, match_origin, attrs, parent lifetime", async () => {
    const c = await loginAs(ts, admin);
    const token = await c.call<string>("auth.generate_token", 600, {}, true, false);
    assert.equal(token.length, 64);
    assert.match(token, /^[A-Za-z0-9_-]{64}$/);
    const t1 = await ts.client();
    const r = await t1.call("auth.login_ex", { mechanism: "TOKEN_PLAIN", token });
    assert.equal(r.response_type, "SUCCESS");
    const sessions = await t1.call<any[]>("auth.sessions", [["current", "=", true]]);
    assert.equal(sessions[0].credentials, "TOKEN");
    assert.equal(sessions[0].credentials_data.parent.credentials, "LOGIN_PASSWORD");
    // Multi-use: works twice.
    const t2 = await ts.client();
    assert.equal(await t2.call("auth.login_with_token", token), true);

    const once = await c.call<string>("auth.generate_token", 600, {}, true, true);
    const o1 = await ts.client();
    assert.equal((await o1.call("auth.login_ex", { mechanism: "TOKEN_PLAIN", token: once })).response_type, "SUCCESS");
    assert.equal((await o1.call("auth.login_ex", { mechanism: "TOKEN_PLAIN", token: once })).response_type, "AUTH_ERR");

    const download = await c.call<string>("auth.generate_token", 600, { filename: "x" }, true, false);
    const d = await ts.client();
    assert.equal((await d.call("auth.login_ex", { mechanism: "TOKEN_PLAIN", token: download })).response_type, "AUTH_ERR");
    const bad = await lastAudit(ts, (e) => e.event === "AUTHENTICATION" && e.event_data.credentials.credentials === "TOKEN");
    assert.equal(bad.event_data.error, "Bad token");

    // A token bound to another origin is refused.
    await ts.app.store.db.updateTable("tokens").set({ match_origin: "10.1.2.3" }).execute();
    const m = await ts.client();
    assert.equal((await m.call("auth.login_ex", { mechanism: "TOKEN_PLAIN", token })).response_type, "AUTH_ERR");
    await ts.app.store.db.updateTable("tokens").set({ match_origin: "127.0.0.1" }).execute();

    // Terminating the minting session kills its tokens.
    const [mine] = await c.call<any[]>("auth.sessions", [["current", "=", true]]);
    const killer = await loginAs(ts, admin);
    assert.equal(await killer.call("auth.terminate_session", mine.id), true);
    const t3 = await ts.client();
    assert.equal((await t3.call("auth.login_ex", { mechanism: "TOKEN_PLAIN", token })).response_type, "AUTH_ERR");
  });

  it("token sessions keep the parent's limited rights", async () => {
    const { client } = await clientFor(ts, ["READONLY_ADMIN"]);
    const token = await client.call<string>("auth.generate_token");
    const t = await ts.client();
    assert.equal((await t.call("auth.login_ex", { mechanism: "TOKEN_PLAIN", token })).response_type, "SUCCESS");
    assert.ok(Array.isArray(await t.call("privilege.query")));
    assert.equal((await rpcError(t.call("privilege.create", { name: "x", web_shell: false }))).errname, "EACCES");
  });

  it("reconnect_token: null by default, 64 chars when asked, usable once after the socket closed", async () => {
    const c = await ts.client();
    const r = await c.call("auth.login_ex", { mechanism: "PASSWORD_PLAIN", username: admin.username, password: PASSWORD, login_options: { reconnect_token: true, user_info: false } });
    assert.equal(r.user_info, null);
    assert.equal(r.reconnect_token.length, 64);
    await c.close();
    const again = await ts.client();
    const r2 = await again.call("auth.login_ex", { mechanism: "TOKEN_PLAIN", token: r.reconnect_token });
    assert.equal(r2.response_type, "SUCCESS");
    assert.equal(r2.user_info.pw_name, admin.username);
    const third = await ts.client();
    assert.equal((await third.call("auth.login_ex", { mechanism: "TOKEN_PLAIN", token: r.reconnect_token })).response_type, "AUTH_ERR");
  });

  it("auth.sessions, terminate_session closes the other socket, terminate_other_sessions", async () => {
    const { client: ro } = await clientFor(ts, ["READONLY_ADMIN"]);
    const me = await ro.call<any>("auth.sessions", [["current", "=", true]], { get: true });
    assert.equal(me.credentials, "LOGIN_PASSWORD");
    assert.equal(me.internal, false);
    assert.equal(me.secure_transport, true);
    assert.match(me.origin, /^127\.0\.0\.1:\d+$/);
    assert.ok(me.created_at instanceof Date);
    assert.equal(typeof me.credentials_data.username, "string");
    // READONLY lists, and ends only its own account's sessions: another account's answers false
    // (as an unknown id does) and stays open.
    const a = await loginAs(ts, admin);
    const [adminSession] = await a.call<any[]>("auth.sessions", [["current", "=", true]]);
    assert.equal(await ro.call("auth.terminate_session", adminSession.id), false);
    assert.equal((await a.call<any>("auth.me")).pw_name, admin.username);
    const closed = new Promise<number>((res) => ro.ws.once("close", (code) => res(code)));
    assert.equal(await a.call("auth.terminate_session", me.id), true);
    await closed;
    assert.equal(await a.call("auth.terminate_session", me.id), false);
    assert.equal(await a.call("auth.terminate_session", "no-such-session"), false);

    const { client: other } = await clientFor(ts, ["READONLY_ADMIN"]);
    const otherClosed = new Promise<void>((res) => other.ws.once("close", () => res()));
    assert.equal(await a.call("auth.terminate_other_sessions"), true);
    await otherClosed;
    const left = await a.call<any[]>("auth.sessions");
    assert.equal(left.length, 1);
    assert.equal(left[0].current, true);
  });

  it("auth.logout ends the session and writes LOGOUT", async () => {
    const c = await loginAs(ts, admin);
    assert.equal(await c.call("auth.logout"), true);
    assert.equal((await rpcError(c.call("auth.me"))).errname, "ENOTAUTHENTICATED");
    const entry = await lastAudit(ts, (e) => e.event === "LOGOUT" && e.username === admin.username);
    assert.ok(entry);
  });

  it("one-time passwords: generate, sign in once with OTPW, change the password without the old one", async () => {
    const a = await loginAs(ts, admin);
    const u = await makeUser(ts, { roles: ["READONLY_ADMIN"] });
    const otpw = await a.call<string>("auth.generate_onetime_password", { username: u.username });
    assert.match(otpw, /^\d+_[A-Za-z0-9]{6}-[A-Za-z0-9]{6}-[A-Za-z0-9]{6}-[A-Za-z0-9]{6}$/);
    const c = await ts.client();
    const r = await c.call("auth.login_ex", { mechanism: "PASSWORD_PLAIN", username: u.username, password: otpw, login_options: { reconnect_token: true } });
    assert.equal(r.response_type, "SUCCESS");
    assert.equal(r.reconnect_token, null);
    assert.ok(r.user_info.account_attributes.includes("OTPW"));
    assert.ok(r.user_info.account_attributes.includes("PASSWORD_CHANGE_REQUIRED"));
    assert.deepEqual(await c.call("auth.mechanism_choices"), ["API_KEY_PLAIN", "PASSWORD_PLAIN", "SCRAM"]);
    assert.equal((await rpcError(c.call("auth.generate_token"))).errname, "EOPNOTSUPP");
    const [s] = await c.call<any[]>("auth.sessions", [["current", "=", true]]);
    assert.equal(s.credentials, "LOGIN_ONETIME_PASSWORD");
    await c.call("user.set_password", { username: u.username, new_password: "Brand-new-pass-1" });
    assert.equal((await (await ts.client()).login(u.username, "Brand-new-pass-1")).response_type, "SUCCESS");
    // Reuse is refused.
    assert.equal((await (await ts.client()).login(u.username, otpw)).response_type, "AUTH_ERR");
    // Not for password-disabled or locked accounts.
    const nopw = await makeUser(ts, { password: null });
    const e1 = await rpcError(a.call("auth.generate_onetime_password", { username: nopw.username }));
    assert.equal(e1.codes[0], "auth.password_disabled");
    await ts.app.store.db.updateTable("users").set({ locked: 1 }).where("id", "=", u.id).execute();
    const e2 = await rpcError(a.call("auth.generate_onetime_password", { username: u.username }));
    assert.equal(e2.codes[0], "auth.account_locked");
    // Expired one-time password → EXPIRED.
    const v = await makeUser(ts, { roles: ["READONLY_ADMIN"] });
    const old = await a.call<string>("auth.generate_onetime_password", { username: v.username });
    await ts.app.store.db
      .updateTable("onetime_codes")
      .set({ expires_at: Date.now() - 1 })
      .where("kind", "=", "OTPW")
      .execute();
    assert.equal((await (await ts.client()).login(v.username, old)).response_type, "EXPIRED");
  });

  it("user.set_password rules", async () => {
    const a = await loginAs(ts, admin);
    const u = await makeUser(ts, { roles: ["READONLY_ADMIN"] });
    const c = await loginAs(ts, u);
    // Someone else's password needs FULL_ADMIN.
    assert.equal((await rpcError(c.call("user.set_password", { username: admin.username, new_password: "x-Y-1zzzzzz" }))).errname, "EPERM");
    // Own password needs the old one.
    const e1 = await rpcError(c.call("user.set_password", { username: u.username, new_password: "Another-pass-1" }));
    assert.equal(e1.extra[0][0], "user.set_password.old_password");
    assert.equal(e1.codes[0], "auth.old_password_required");
    const e2 = await rpcError(c.call("user.set_password", { username: u.username, old_password: "wrong", new_password: "Another-pass-1" }));
    assert.equal(e2.codes[0], "auth.old_password_wrong");
    await c.call("user.set_password", { username: u.username, old_password: PASSWORD, new_password: "Another-pass-1" });
    assert.equal((await (await ts.client()).login(u.username, "Another-pass-1")).response_type, "SUCCESS");
    // FULL_ADMIN needs no old password; unknown user is a field error.
    await a.call("user.set_password", { username: u.username, new_password: "Third-pass-1" });
    const e3 = await rpcError(a.call("user.set_password", { username: "ghost", new_password: "Third-pass-1" }));
    assert.equal(e3.extra[0][0], "user.set_password.username");
    const audit = await lastAudit(ts, (e) => e.event === "METHOD_CALL" && e.event_data.method === "user.set_password" && e.success);
    assert.equal(audit.event_data.description, `Set account password ${u.username}`);
    assert.equal(audit.event_data.params[0].new_password, "********");
  });

  it("deprecated methods exist on older API versions only", async () => {
    const c = await ts.client();
    const e = await rpcError(c.call("auth.login", admin.username, PASSWORD));
    assert.equal(e.code, -32601);
    assert.equal(e.errorCode, "core.method_not_found");
    const old = await RpcClient.connect(ts.url.replace("/api/current", "/api/v26.0.0"));
    try {
      assert.equal(await old.call("auth.login", admin.username, "bad"), false);
      assert.equal(await old.call("auth.login", admin.username, PASSWORD), true);
      assert.equal((await old.call("auth.me")).pw_name, admin.username);
    } finally {
      await old.close();
    }
  });

  it("one-shot HTTP calls accept Basic and Bearer API keys", async () => {
    const basic = Buffer.from(`${admin.username}:${PASSWORD}`).toString("base64");
    const res = await fetch(`${ts.httpUrl}/api/current`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Basic ${basic}` },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "auth.me", params: [] }),
    });
    assert.equal(((await res.json()) as any).result.pw_name, admin.username);
    const a = await loginAs(ts, admin);
    const key = await a.call("api_key.create", { name: `http-${Date.now()}`, username: admin.username });
    const res2 = await fetch(`${ts.httpUrl}/api/current`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${key.key}` },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "auth.me", params: [] }),
    });
    const me = ((await res2.json()) as any).result;
    assert.ok(me.account_attributes.includes("API_KEY"));
    const res3 = await fetch(`${ts.httpUrl}/api/current`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: "Bearer 1-bad" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "auth.me", params: [] }),
    });
    assert.equal(res3.status, 401);
    // HTTP sessions are not left behind.
    const sessions = await a.call<any[]>("auth.sessions");
    assert.ok(sessions.every((s) => s.credentials !== "API_KEY"));
  });

  it("a plain WebSocket upgrade works and unknown methods answer -32601", async () => {
    const ws = new WebSocket(ts.url);
    await new Promise((r) => ws.once("open", r));
    ws.close();
    const c = await loginAs(ts, admin);
    const e = await rpcError(c.call("no.such_method"));
    assert.equal(e.code, -32601);
  });

  it("gatehouse reset-admin sets a new password directly in the store (break-glass)", async () => {
    const u = await makeUser(ts, { auxGids: [544] });
    await ts.app.store.db.updateTable("users").set({ locked: 1 }).where("id", "=", u.id).execute();
    const args = ["bin/gatehouse.js", "reset-admin", "--data-dir", ts.dataDir, "--username", u.username, "--password", "Break-glass-pass-1"];
    if (ts.config.database) args.push("--database", ts.config.database);
    const r = spawnSync(process.execPath, args, { encoding: "utf8", env: { ...process.env, ...BIN_ENV, GATEHOUSE_HASH_ROUNDS: "1000" } });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`Password of ${u.username} reset`));
    const c = await ts.client();
    assert.equal((await c.login(u.username, "Break-glass-pass-1")).response_type, "SUCCESS");
  });
});
