// TOTP two-factor (reference §7.7): global config, per-user secrets, OTP_REQUIRED → OTP_TOKEN,
// single-use codes. Codes are computed by otpauth from the provisioning URI, not by server code.

import { after, before, it } from "node:test";
import assert from "node:assert/strict";
import { forEachStore, rpcError, type TestServer } from "./harness.js";
import { PASSWORD, clientFor, lastAudit, makeUser, startAsAdmin, totpFromUri, type TestUser } from "./auth-helpers.js";
import type { RpcClient } from "../src/cli/client.js";

forEachStore("auth two-factor", (store) => {
  let ts: TestServer;
  let admin: TestUser;
  let a: RpcClient;
  before(async () => ({ ts, admin, a } = await startAsAdmin(store)));
  after(() => ts.stop());

  it("auth.twofactor.config defaults and update", async () => {
    assert.deepEqual(await a.call("auth.twofactor.config"), { id: 1, enabled: false, window: 0, services: { ssh: false } });
    const e = await rpcError(a.call("auth.twofactor.update", { window: -1 }));
    assert.equal(e.extra[0][0], "auth_twofactor_update.window");
    assert.deepEqual((await rpcError(a.call("auth.twofactor.update", { bogus: 1 }))).codes, ["core.extra_field"]);
    const updated = await a.call("auth.twofactor.update", { enabled: true, window: 1 });
    assert.deepEqual(updated, { id: 1, enabled: true, window: 1, services: { ssh: false } });
    const { client: ro } = await clientFor(ts, ["READONLY_ADMIN"]);
    assert.equal((await ro.call("auth.twofactor.config")).enabled, true);
    assert.equal((await rpcError(ro.call("auth.twofactor.update", { enabled: false }))).errname, "EACCES");
  });

  it("renew_2fa_secret: digits and intervals, provisioning URI, rejected intervals write nothing", async () => {
    const u = await makeUser(ts, { roles: ["READONLY_ADMIN"] });
    for (const [interval, digits] of [
      [30, 6],
      [60, 7],
      [30, 8],
    ]) {
      const r = await a.call("user.renew_2fa_secret", u.username, { interval, otp_digits: digits });
      assert.equal(r.twofactor_config.interval, interval);
      assert.equal(r.twofactor_config.otp_digits, digits);
      assert.equal(r.twofactor_config.secret_configured, true);
      assert.match(r.twofactor_config.provisioning_uri, /^otpauth:\/\/totp\//);
      assert.match(r.twofactor_config.provisioning_uri, new RegExp(`${u.username}-`));
      assert.equal(r.username, u.username);
    }
    const before = await ts.app.store.db.selectFrom("users").select("twofactor_secret").where("id", "=", u.id).executeTakeFirstOrThrow();
    for (const interval of [5, 15, 40, 45, 50, 90, 120]) {
      const e = await rpcError(a.call("user.renew_2fa_secret", u.username, { interval }));
      assert.equal(e.extra[0][0], "twofactor_options.interval");
    }
    assert.equal((await rpcError(a.call("user.renew_2fa_secret", u.username, { otp_digits: 9 }))).extra[0][0], "twofactor_options.otp_digits");
    const afterRow = await ts.app.store.db.selectFrom("users").select("twofactor_secret").where("id", "=", u.id).executeTakeFirstOrThrow();
    assert.equal(afterRow.twofactor_secret, before.twofactor_secret);
  });

  it("restricted users renew their own secret only; results are redacted for them", async () => {
    const { client, user } = await clientFor(ts, ["READONLY_ADMIN"]);
    assert.equal((await rpcError(client.call("user.renew_2fa_secret", admin.username))).errname, "EPERM");
    const r = await client.call("user.renew_2fa_secret", user.username);
    assert.equal(r.unixhash, "********");
    assert.equal((await client.call("auth.me")).two_factor_config.secret_configured, true);
    const entry = await lastAudit(ts, (e) => e.event === "METHOD_CALL" && e.event_data.method === "user.renew_2fa_secret" && e.success);
    assert.equal(entry.event_data.description, `Renew two-factor authentication secret: ${user.username}`);
  });

  it("OTP_REQUIRED then OTP_TOKEN; codes are single use; wrong codes fail; nothing pending → EINVAL", async () => {
    await a.call("auth.twofactor.update", { enabled: true, window: 0 });
    const u = await makeUser(ts, { roles: ["READONLY_ADMIN"] });
    const { twofactor_config } = await a.call("user.renew_2fa_secret", u.username, { interval: 30, otp_digits: 6 });
    const uri = twofactor_config.provisioning_uri;

    const c = await ts.client();
    const e0 = await rpcError(c.call("auth.login_ex_continue", { mechanism: "OTP_TOKEN", otp_token: "123456" }));
    assert.equal(e0.errname, "EINVAL");
    assert.equal(e0.errorCode, "auth.otp_not_in_progress");

    assert.deepEqual(await c.login(u.username, PASSWORD), { response_type: "OTP_REQUIRED", username: u.username });
    assert.equal((await rpcError(c.call("auth.me"))).errname, "ENOTAUTHENTICATED");
    const code = totpFromUri(uri);
    const r = await c.call("auth.login_ex_continue", { mechanism: "OTP_TOKEN", otp_token: code });
    assert.equal(r.response_type, "SUCCESS");
    assert.ok(r.user_info.account_attributes.includes("2FA"));
    const [s] = await c.call<any[]>("auth.sessions", [["current", "=", true]]);
    assert.equal(s.credentials, "LOGIN_TWOFACTOR");

    // The same code is refused the second time (replay), even on another connection.
    const c2 = await ts.client();
    assert.equal((await c2.login(u.username, PASSWORD)).response_type, "OTP_REQUIRED");
    assert.deepEqual(await c2.call("auth.login_ex", { mechanism: "OTP_TOKEN", otp_token: code }), { response_type: "AUTH_ERR" });
    // A wrong code leaves the login pending for 3 more tries (a departure); after them nothing is pending.
    for (let i = 0; i < 3; i++) assert.deepEqual(await c2.call("auth.login_ex", { mechanism: "OTP_TOKEN", otp_token: code }), { response_type: "AUTH_ERR" });
    assert.equal((await rpcError(c2.call("auth.login_ex", { mechanism: "OTP_TOKEN", otp_token: code }))).errname, "EINVAL");
    // Wrong code.
    assert.equal((await c2.login(u.username, PASSWORD)).response_type, "OTP_REQUIRED");
    const wrong = code === "000000" ? "111111" : "000000";
    assert.deepEqual(await c2.call("auth.login_ex", { mechanism: "OTP_TOKEN", otp_token: wrong }), { response_type: "AUTH_ERR" });
    const entry = await lastAudit(ts, (e) => e.event === "AUTHENTICATION" && e.event_data.credentials.credentials === "LOGIN_TWOFACTOR" && !e.success);
    assert.ok(entry);
  });

  it("the window accepts the neighbouring step; abandoning an OTP and logging in as someone else works", async () => {
    await a.call("auth.twofactor.update", { enabled: true, window: 1 });
    const u = await makeUser(ts, { roles: ["READONLY_ADMIN"] });
    const { twofactor_config } = await a.call("user.renew_2fa_secret", u.username);
    const c = await ts.client();
    assert.equal((await c.login(u.username, PASSWORD)).response_type, "OTP_REQUIRED");
    const previous = totpFromUri(twofactor_config.provisioning_uri, Date.now() - 30_000);
    assert.equal((await c.call("auth.login_ex", { mechanism: "OTP_TOKEN", otp_token: previous })).response_type, "SUCCESS");

    const c2 = await ts.client();
    assert.equal((await c2.login(u.username, PASSWORD)).response_type, "OTP_REQUIRED");
    assert.equal((await c2.login(admin.username, PASSWORD)).response_type, "SUCCESS");
    const abandoned = await lastAudit(ts, (e) => e.event === "AUTHENTICATION" && /Abandoning login attempt/.test(e.event_data.error ?? ""));
    assert.ok(abandoned);
  });

  it("a user without a secret signs in without OTP; disabled 2FA asks nobody; unset removes the secret", async () => {
    await a.call("auth.twofactor.update", { enabled: true });
    const plain = await makeUser(ts, { roles: ["READONLY_ADMIN"] });
    assert.equal((await (await ts.client()).login(plain.username, PASSWORD)).response_type, "SUCCESS");
    const u = await makeUser(ts, { roles: ["READONLY_ADMIN"] });
    await a.call("user.renew_2fa_secret", u.username);
    assert.equal((await (await ts.client()).login(u.username, PASSWORD)).response_type, "OTP_REQUIRED");
    await a.call("auth.twofactor.update", { enabled: false });
    assert.equal((await (await ts.client()).login(u.username, PASSWORD)).response_type, "SUCCESS");
    await a.call("auth.twofactor.update", { enabled: true });
    assert.equal(await a.call("user.unset_2fa_secret", u.username), null);
    assert.equal((await (await ts.client()).login(u.username, PASSWORD)).response_type, "SUCCESS");
    const { client: ro } = await clientFor(ts, ["READONLY_ADMIN"]);
    assert.equal((await rpcError(ro.call("user.unset_2fa_secret", u.username))).errname, "EACCES");
    await a.call("auth.twofactor.update", { enabled: false });
  });

  it("deprecated auth.login takes the OTP as third argument", async () => {
    await a.call("auth.twofactor.update", { enabled: true, window: 1 });
    const u = await makeUser(ts, { roles: ["READONLY_ADMIN"] });
    const { twofactor_config } = await a.call("user.renew_2fa_secret", u.username);
    const { RpcClient } = await import("../src/cli/client.js");
    const old = await RpcClient.connect(ts.url.replace("/api/current", "/api/v25.10.0"));
    try {
      assert.equal(await old.call("auth.login", u.username, PASSWORD), false);
      assert.equal(await old.call("auth.login", u.username, PASSWORD, totpFromUri(twofactor_config.provisioning_uri, Date.now() + 30_000)), true);
    } finally {
      await old.close();
      await a.call("auth.twofactor.update", { enabled: false, window: 0 });
    }
  });
});
