// Two server instances on one PostgreSQL database (scale-out, SPEC): sessions, tokens, API keys,
// lock-out counters, one-time passwords and used TOTP steps are shared through the store.

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { startServer, type TestServer } from "./harness.js";
import { PASSWORD, loginAs, makeAdmin, makeUser, randomName, totpFromUri, type TestUser } from "./auth-helpers.js";
import type { RpcClient } from "../src/cli/client.js";

describe("two server processes on one PostgreSQL", { skip: !process.env.GATEHOUSE_TEST_PG && "GATEHOUSE_TEST_PG is not set" }, () => {
  let one: TestServer;
  let two: TestServer;
  let admin: TestUser;
  let a1: RpcClient;
  let a2: RpcClient;
  before(async () => {
    one = await startServer({ store: "postgres" });
    two = await startServer({ databaseUrl: one.config.database! });
    for (const ts of [one, two]) ts.app.rateLimitLoopbackExempt = true;
    admin = await makeAdmin(one);
    a1 = await loginAs(one, admin);
    a2 = await loginAs(two, admin);
  });
  after(async () => {
    await two?.stop();
    await one?.stop();
  });

  it("a session made on one is listed, used through tokens and terminated from the other", async () => {
    const token = await a1.call<string>("auth.generate_token");
    const t = await two.client();
    assert.equal((await t.call("auth.login_ex", { mechanism: "TOKEN_PLAIN", token })).response_type, "SUCCESS");
    assert.equal((await t.call("auth.me")).pw_name, admin.username);

    const [mine] = await a1.call<any[]>("auth.sessions", [["current", "=", true]]);
    const seen = await a2.call<any[]>("auth.sessions", [["id", "=", mine.id]]);
    assert.equal(seen.length, 1);
    assert.equal(seen[0].current, false);
    const closed = new Promise<void>((res) => a1.ws.once("close", () => res()));
    assert.equal(await a2.call("auth.terminate_session", mine.id), true);
    await closed; // process one closes its socket on its next sweep
    // Tokens minted by the terminated session die everywhere.
    const t2 = await two.client();
    assert.equal((await t2.call("auth.login_ex", { mechanism: "TOKEN_PLAIN", token })).response_type, "AUTH_ERR");
    a1 = await loginAs(one, admin);
  });

  it("a reconnect token from one logs in on the other", async () => {
    const c = await one.client();
    const r = await c.call("auth.login_ex", { mechanism: "PASSWORD_PLAIN", username: admin.username, password: PASSWORD, login_options: { reconnect_token: true } });
    await c.close();
    const d = await two.client();
    assert.equal((await d.call("auth.login_ex", { mechanism: "TOKEN_PLAIN", token: r.reconnect_token })).response_type, "SUCCESS");
  });

  it("an API key made on one works on the other", async () => {
    const key = await a1.call("api_key.create", { name: randomName(), username: admin.username });
    const c = await two.client();
    assert.equal((await c.loginApiKey(key.key)).response_type, "SUCCESS");
    await a2.call("api_key.delete", key.id);
    assert.equal((await (await one.client()).loginApiKey(key.key)).response_type, "AUTH_ERR");
  });

  it("a lock-out counted on one holds on the other", async () => {
    // The limiter itself is under test: no test-only loopback exemption.
    for (const ts of [one, two]) ts.app.rateLimitLoopbackExempt = false;
    try {
      await lockOutAcrossProcesses();
    } finally {
      for (const ts of [one, two]) ts.app.rateLimitLoopbackExempt = true;
    }
  });

  async function lockOutAcrossProcesses(): Promise<void> {
    await a1.call("core.set_options", { legacy_jobs: false });
    await a1.call("system.security.update", { lockout_threshold: 3, lockout_duration: 300 });
    const u = await makeUser(one, { roles: ["READONLY_ADMIN"] });
    const c1 = await one.client();
    const c2 = await two.client();
    assert.equal((await c1.login(u.username, "bad")).response_type, "AUTH_ERR");
    assert.equal((await c2.login(u.username, "bad")).response_type, "AUTH_ERR");
    assert.equal((await c1.login(u.username, "bad")).response_type, "AUTH_ERR");
    assert.equal((await c2.login(u.username, PASSWORD)).response_type, "DENIED");
    assert.equal((await c1.login(u.username, PASSWORD)).response_type, "DENIED");
    await a1.call("system.security.update", { lockout_threshold: 0, lockout_duration: 0 });
  }

  it("one-time passwords and TOTP codes are single-use across processes", async () => {
    const u = await makeUser(one, { roles: ["READONLY_ADMIN"] });
    const otpw = await a1.call<string>("auth.generate_onetime_password", { username: u.username });
    assert.equal((await (await two.client()).login(u.username, otpw)).response_type, "SUCCESS");
    assert.equal((await (await one.client()).login(u.username, otpw)).response_type, "AUTH_ERR");

    await a1.call("auth.twofactor.update", { enabled: true, window: 0 });
    const { twofactor_config } = await a1.call("user.renew_2fa_secret", u.username);
    const code = totpFromUri(twofactor_config.provisioning_uri);
    const c1 = await one.client();
    assert.equal((await c1.login(u.username, PASSWORD)).response_type, "OTP_REQUIRED");
    const c2 = await two.client();
    assert.equal((await c2.login(u.username, PASSWORD)).response_type, "OTP_REQUIRED");
    const [r1, r2] = await Promise.all([c1.call("auth.login_ex", { mechanism: "OTP_TOKEN", otp_token: code }), c2.call("auth.login_ex", { mechanism: "OTP_TOKEN", otp_token: code })]);
    assert.deepEqual([r1.response_type, r2.response_type].sort(), ["AUTH_ERR", "SUCCESS"]);
    await a1.call("auth.twofactor.update", { enabled: false });
  });
});
