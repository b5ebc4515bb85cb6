// Two-factor done right (issue 14 point 6; docs/departures.md): a staged secret is turned on only
// once a code from it is confirmed, and a wrong code at sign-in leaves the pending login open for
// 3 retries within its 5 minutes, without the password again. Codes come from otpauth.

import { after, before, it } from "node:test";
import assert from "node:assert/strict";
import { forEachStore, rpcError, type TestServer } from "./harness.js";
import { PASSWORD, clientFor, makeUser, startAsAdmin, totpFromUri, type TestUser } from "./auth-helpers.js";
import type { RpcClient } from "../src/cli/client.js";

forEachStore("two-factor setup and retries", (store) => {
  let ts: TestServer;
  let admin: TestUser;
  let a: RpcClient;
  before(async () => {
    ({ ts, admin, a } = await startAsAdmin(store));
    await a.call("auth.twofactor.update", { enabled: true, window: 0 });
  });
  after(() => ts.stop());

  const secretOf = async (id: number) => (await ts.app.store.db.selectFrom("users").select("twofactor_secret").where("id", "=", id).executeTakeFirstOrThrow()).twofactor_secret;
  const wrongFor = (code: string) => (code === "000000" ? "111111" : "000000");

  it("a staged secret is off until a code from it is confirmed; a wrong code keeps it staged", async () => {
    const { client, user } = await clientFor(ts, ["READONLY_ADMIN"]);
    const staged = await client.call<any>("user.stage_2fa_secret", user.username, { interval: 30, otp_digits: 6 });
    assert.match(staged.provisioning_uri, /^otpauth:\/\/totp\//);
    assert.ok(staged.expires_at instanceof Date || typeof staged.expires_at === "object");
    assert.equal(await secretOf(user.id), null, "nothing on yet");
    assert.equal((await (await ts.client()).login(user.username, PASSWORD)).response_type, "SUCCESS", "sign-in without a code meanwhile");

    const code = totpFromUri(staged.provisioning_uri);
    const e = await rpcError(client.call("user.confirm_2fa_secret", user.username, wrongFor(code)));
    assert.deepEqual(e.codes, ["user.twofactor_code_invalid"]);
    assert.equal(e.extra[0][0], "otp_token");
    assert.equal(await secretOf(user.id), null);

    const r = await client.call<any>("user.confirm_2fa_secret", user.username, code);
    assert.equal(r.twofactor_config.secret_configured, true);
    assert.equal(r.twofactor_config.provisioning_uri, staged.provisioning_uri);
    assert.ok(await secretOf(user.id));
    // Confirmed once: nothing is staged any more, and the confirming code cannot sign in (used).
    assert.deepEqual((await rpcError(client.call("user.confirm_2fa_secret", user.username, code))).codes, ["user.twofactor_setup_not_started"]);
    const c = await ts.client();
    assert.equal((await c.login(user.username, PASSWORD)).response_type, "OTP_REQUIRED");
    assert.deepEqual(await c.call("auth.login_ex", { mechanism: "OTP_TOKEN", otp_token: code }), { response_type: "AUTH_ERR" });
  });

  it("staging again replaces the staged secret; the active one stays until confirmed", async () => {
    const u = await makeUser(ts, { roles: ["READONLY_ADMIN"] });
    const first = await a.call<any>("user.renew_2fa_secret", u.username);
    const active = await secretOf(u.id);
    const s1 = await a.call<any>("user.stage_2fa_secret", u.username);
    const s2 = await a.call<any>("user.stage_2fa_secret", u.username);
    assert.notEqual(s1.provisioning_uri, s2.provisioning_uri);
    assert.equal(await secretOf(u.id), active, "the active secret is untouched by staging");
    // The old staged secret's code does not confirm; the active secret still signs in.
    assert.deepEqual((await rpcError(a.call("user.confirm_2fa_secret", u.username, totpFromUri(s1.provisioning_uri)))).codes, ["user.twofactor_code_invalid"]);
    const c = await ts.client();
    assert.equal((await c.login(u.username, PASSWORD)).response_type, "OTP_REQUIRED");
    assert.equal((await c.call("auth.login_ex", { mechanism: "OTP_TOKEN", otp_token: totpFromUri(first.twofactor_config.provisioning_uri) })).response_type, "SUCCESS");
  });

  it("another account's secret: FULL_ADMIN only", async () => {
    const { client } = await clientFor(ts, ["READONLY_ADMIN"]);
    assert.equal((await rpcError(client.call("user.stage_2fa_secret", admin.username))).errname, "EPERM");
    assert.equal((await rpcError(client.call("user.confirm_2fa_secret", admin.username, "123456"))).errname, "EPERM");
  });

  it("a wrong code at sign-in: 3 retries without the password, then the login must start again", async () => {
    const u = await makeUser(ts, { roles: ["READONLY_ADMIN"] });
    const { twofactor_config } = await a.call<any>("user.renew_2fa_secret", u.username);
    const c = await ts.client();
    assert.equal((await c.login(u.username, PASSWORD)).response_type, "OTP_REQUIRED");
    const code = totpFromUri(twofactor_config.provisioning_uri);
    for (let i = 0; i < 3; i++) assert.deepEqual(await c.call("auth.login_ex", { mechanism: "OTP_TOKEN", otp_token: wrongFor(code) }), { response_type: "AUTH_ERR" });
    // The third retry: the right code signs in.
    const ok = await c.call<any>("auth.login_ex", { mechanism: "OTP_TOKEN", otp_token: code });
    assert.equal(ok.response_type, "SUCCESS");

    const c2 = await ts.client();
    assert.equal((await c2.login(u.username, PASSWORD)).response_type, "OTP_REQUIRED");
    for (let i = 0; i < 4; i++) assert.deepEqual(await c2.call("auth.login_ex", { mechanism: "OTP_TOKEN", otp_token: "000001" }), { response_type: "AUTH_ERR" });
    const e = await rpcError(c2.call("auth.login_ex", { mechanism: "OTP_TOKEN", otp_token: totpFromUri(twofactor_config.provisioning_uri, Date.now() + 30_000) }));
    assert.equal(e.errorCode, "auth.otp_not_in_progress");
  });
});
