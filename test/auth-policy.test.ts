// system.security (reference §7.8 + SPEC lock-out): password rules, aging, lock-out, rate limits,
// failed-login delay, and GPOS STIG mode with its preconditions (reference §5.5).

import { after, before, it } from "node:test";
import assert from "node:assert/strict";
import { forEachStore, rpcError, startServer, type TestServer } from "./harness.js";
import { PASSWORD, clientFor, loginAs, makeUser, randomName, startAsAdmin, totpFromUri, type TestUser, useSetupClient } from "./auth-helpers.js";
import type { RpcClient } from "../src/cli/client.js";
import { ALL_ROLE_NAMES, ROLES } from "../src/access/roles.js";
import { hashKey, newKeySalt, newKeySecret } from "../src/auth/api-keys.js";

const DAY = 86_400_000;

forEachStore("password policy and lock-out", (store) => {
  let ts: TestServer;
  let admin: TestUser;
  let a: RpcClient;
  before(async () => {
    ({ ts, admin, a } = await startAsAdmin(store));
    await a.call("core.set_options", { legacy_jobs: false });
  });
  after(() => ts.stop());

  it("system.security.config defaults; update is a job with validation", async () => {
    const cfg = await a.call("system.security.config");
    assert.deepEqual(cfg, {
      id: 1,
      enable_fips: false,
      enable_gpos_stig: false,
      min_password_age: null,
      max_password_age: null,
      password_complexity_ruleset: null,
      min_password_length: 8,
      password_history_length: null,
      lockout_threshold: 5,
      lockout_duration: 900,
    });
    const e1 = await rpcError(a.call("system.security.update", { min_password_length: 5 }));
    assert.equal(e1.extra[0][0], "system_security_update.min_password_length");
    const e2 = await rpcError(a.call("system.security.update", { min_password_age: 10, max_password_age: 10 }));
    assert.equal(e2.extra[0][0], "system_security_update.min_password_age");
    const e3 = await rpcError(a.call("system.security.update", { password_complexity_ruleset: ["UPPER", "EMOJI"] }));
    assert.equal(e3.extra[0][0], "system_security_update.password_complexity_ruleset.1");
    const e4 = await rpcError(a.call("system.security.update", { max_password_age: 400 }));
    assert.equal(e4.extra[0][0], "system_security_update.max_password_age");
    // Legacy jobs: the call answers with a job id.
    const legacy = await ts.client();
    await legacy.login(admin.username, PASSWORD);
    const jobId = await legacy.call("system.security.update", { min_password_length: 8 });
    assert.equal(typeof jobId, "number");
    const { client: ro } = await clientFor(ts, ["READONLY_ADMIN"]);
    assert.equal((await ro.call("system.security.config")).min_password_length !== undefined, true);
    assert.equal((await rpcError(ro.call("system.security.update", {}))).errname, "EACCES");
  });

  it("length, complexity and history apply to set_password", async () => {
    await a.call("system.security.update", { min_password_length: 10, password_complexity_ruleset: ["UPPER", "LOWER", "NUMBER", "SPECIAL"], password_history_length: 2 });
    const cfg = await a.call("system.security.config");
    assert.deepEqual([...cfg.password_complexity_ruleset].sort(), ["LOWER", "NUMBER", "SPECIAL", "UPPER"]);
    const u = await makeUser(ts, { roles: ["READONLY_ADMIN"] });
    const e1 = await rpcError(a.call("user.set_password", { username: u.username, new_password: "Ab1!" }));
    const msgs = e1.extra.map((x) => x[1]);
    assert.ok(msgs.includes("The specified password is too short. The minimum password length is 10 characters."));
    const e2 = await rpcError(a.call("user.set_password", { username: u.username, new_password: "abcdefghijkl" }));
    assert.equal(e2.codes[0], "password.too_simple");
    assert.match(e2.extra[0][1], /absent: UPPER, NUMBER, SPECIAL$/, "names the missing classes");
    // Unicode case counts (Cyrillic).
    await a.call("user.set_password", { username: u.username, new_password: "Пароль-пароль-1" });
    await a.call("user.set_password", { username: u.username, new_password: "Second-pass-2!" });
    const e3 = await rpcError(a.call("user.set_password", { username: u.username, new_password: "Пароль-пароль-1" }));
    assert.equal(e3.codes[0], "password.reused");
    await a.call("system.security.update", { min_password_length: null, password_complexity_ruleset: null, password_history_length: null });
  });

  it("minimum age blocks self-service changes; maximum age expires passwords", async () => {
    await a.call("system.security.update", { min_password_age: 2, max_password_age: 30 });
    const u = await makeUser(ts, { roles: ["READONLY_ADMIN"] });
    const c = await loginAs(ts, u);
    const e = await rpcError(c.call("user.set_password", { username: u.username, old_password: PASSWORD, new_password: "Fresh-pass-1" }));
    assert.equal(e.codes[0], "password.changed_too_recently");
    // Close to expiry: PASSWORD_CHANGE_REQUIRED.
    await ts.app.store.db
      .updateTable("users")
      .set({ last_password_change: Date.now() - 27 * DAY })
      .where("id", "=", u.id)
      .execute();
    const r = await (await ts.client()).login(u.username, PASSWORD);
    assert.equal(r.response_type, "SUCCESS");
    assert.ok(r.user_info.account_attributes.includes("PASSWORD_CHANGE_REQUIRED"));
    // Past the maximum: EXPIRED.
    await ts.app.store.db
      .updateTable("users")
      .set({ last_password_change: Date.now() - 31 * DAY })
      .where("id", "=", u.id)
      .execute();
    assert.deepEqual(await (await ts.client()).login(u.username, PASSWORD), { response_type: "EXPIRED" });
    await a.call("system.security.update", { min_password_age: null, max_password_age: null });
    assert.equal((await (await ts.client()).login(u.username, PASSWORD)).response_type, "SUCCESS");
  });

  it("lock-out after the threshold, even with the right password, for known and unknown names alike", async () => {
    await a.call("system.security.update", { lockout_threshold: 3, lockout_duration: 60 });
    const u = await makeUser(ts, { roles: ["READONLY_ADMIN"] });
    ts.app.rateLimitLoopbackExempt = false; // the limiter itself is under test
    try {
      const c = await ts.client();
      for (let i = 0; i < 3; i++) assert.equal((await c.login(u.username, "wrong")).response_type, "AUTH_ERR");
      assert.equal((await c.login(u.username, PASSWORD)).response_type, "DENIED");
      for (let i = 0; i < 3; i++) await c.login("nobody-here", "wrong");
      assert.equal((await c.login("nobody-here", "wrong")).response_type, "DENIED");
      // The lock expires.
      await ts.app.store.db
        .updateTable("counters")
        .set({ locked_until: Date.now() - 1 })
        .where("key", "like", `lock:%:${u.username}|%`)
        .execute();
      assert.equal((await c.login(u.username, PASSWORD)).response_type, "SUCCESS");
    } finally {
      ts.app.rateLimitLoopbackExempt = true;
    }
    await a.call("system.security.update", { lockout_threshold: 0, lockout_duration: 0 });
  });

  it("failed logins are delayed by app.config.failDelay", async () => {
    const slow = await startServer({ store, config: { failDelay: [300, 350] } });
    try {
      const c = await slow.client();
      const t0 = Date.now();
      assert.equal((await c.login("nobody", "x")).response_type, "AUTH_ERR");
      assert.ok(Date.now() - t0 >= 290);
    } finally {
      await slow.stop();
    }
  });

  it("unauthenticated calls are rate limited per method and address", async () => {
    ts.app.rateLimitLoopbackExempt = false;
    try {
      const c = await ts.client();
      for (let i = 0; i < 20; i++) await c.call("auth.mechanism_choices");
      const e = await rpcError(c.call("auth.mechanism_choices"));
      assert.equal(e.errname, "EBUSY");
      assert.equal(e.errorCode, "auth.rate_limited");
      // Authenticated connections are exempt.
      const logged = await loginAs(ts, admin).catch(() => null);
      if (logged) for (let i = 0; i < 25; i++) await logged.call("auth.mechanism_choices");
    } finally {
      ts.app.rateLimitLoopbackExempt = true;
    }
  });
});

forEachStore("GPOS STIG", (store) => {
  let ts: TestServer;
  let admin: TestUser;
  let uri: string;
  let a: RpcClient;
  before(async () => {
    ({ ts, admin, a } = await startAsAdmin(store));
    await a.call("core.set_options", { legacy_jobs: false });
  });
  after(() => ts.stop());

  /** Time steps whose code was used: each step's code is accepted once (src/auth/totp.ts). */
  const usedSteps = new Set<number>();
  /**
   * A code of a step not used yet within the window of ±1 step (the present one first). Going back
   * one step from the last code is not enough: when the calls straddle a step boundary, "one step
   * back" is the step already used, and the login is refused as a replay.
   */
  function code(): string {
    const now = Math.floor(Date.now() / 30_000);
    const step = [now, now - 1, now + 1].find((s) => !usedSteps.has(s));
    if (step === undefined) throw new Error("every step within the window was used already");
    usedSteps.add(step);
    return totpFromUri(uri, step * 30_000 + 1_000);
  }

  it("enabling checks each precondition in order", async () => {
    const attempt = async () => (await rpcError(a.call("system.security.update", { enable_gpos_stig: true }))).extra[0];
    let e = await attempt();
    assert.deepEqual(e.slice(0, 2), ["system_security_update.enable_gpos_stig", "Two factor authentication must be globally enabled."]);
    await a.call("auth.twofactor.update", { enabled: true, window: 1 });
    e = await attempt();
    assert.equal(e[1], "Two factor authentication for SSH access must be enabled.");
    await a.call("auth.twofactor.update", { services: { ssh: true } });
    e = await attempt();
    assert.match(e[1], /must have two factor authentication configured/);
    uri = (await a.call("user.renew_2fa_secret", admin.username)).twofactor_config.provisioning_uri;
    e = await attempt();
    assert.equal(e[1], "Credential used to enable General Purpose OS STIG compatibility must have two factor authentication enabled.");
    a = await ts.client();
    assert.equal((await a.login(admin.username, PASSWORD)).response_type, "OTP_REQUIRED");
    assert.equal((await a.call("auth.login_ex", { mechanism: "OTP_TOKEN", otp_token: code() })).response_type, "SUCCESS");
    await a.call("core.set_options", { legacy_jobs: false });
    // Password-enabled immutable accounts (root, the local administrator `admin`) block it.
    e = await attempt();
    assert.match(e[1], /^PLEASE DISABLE PASSWORD AUTHENTICATION ON THE FOLLOWING ACCOUNTS: .*\badmin\b/);
    // Made first: disabling the harness administrator's password below ends its session; this
    // suite's 2FA administrator sets things up from then on.
    const smbUser = await makeUser(ts, { roles: ["READONLY_ADMIN"], smb: true });
    useSetupClient(ts, a);
    const immutable = await a.call<any[]>("user.query", [["uid", "in", [0, 950]]]);
    for (const u of immutable) {
      // Sudo that asks for a password makes no sense without one.
      await a.call("user.update", u.id, { password_disabled: true, sudo_commands: [], sudo_commands_nopasswd: [...u.sudo_commands, ...u.sudo_commands_nopasswd] });
    }
    // Sessions that began below STIG's level: one signed in with an API key, one with a password alone.
    const key = await a.call<any>("api_key.create", { name: randomName("prestig"), username: smbUser.username });
    const keyed = await ts.client();
    assert.equal((await keyed.loginApiKey(key.key)).response_type, "SUCCESS");
    const oneFactor = await ts.client();
    assert.equal((await oneFactor.login(smbUser.username, PASSWORD)).response_type, "SUCCESS");
    const cfg = await a.call("system.security.update", { enable_gpos_stig: true });
    assert.equal(cfg.enable_gpos_stig, true);
    // Turning STIG on ends them (on their next call, or the sweep); the two-factor session that did it stays.
    for (const c of [keyed, oneFactor])
      assert.notEqual(
        await c.call("auth.me").then(
          () => "alive",
          () => "ended",
        ),
        "alive",
      );
    assert.equal((await a.call<any>("auth.me")).pw_name, admin.username);
    assert.equal(cfg.min_password_length, 15);
    assert.equal(cfg.password_history_length, 5);
    assert.equal(cfg.max_password_age, 60);
    const row = await ts.app.store.db.selectFrom("users").select("smb").where("id", "=", smbUser.id).executeTakeFirstOrThrow();
    assert.equal(row.smb, 0);
  });

  it("LEVEL_2: password only, 2FA mandatory, API keys refused, STIG roles only, FULL_ADMIN no wildcard", async () => {
    const c = await ts.client();
    assert.deepEqual(await c.call("auth.mechanism_choices"), ["PASSWORD_PLAIN"]);
    const e = await rpcError(c.call("auth.login_ex", { mechanism: "API_KEY_PLAIN", username: "", api_key: "1-x" }));
    assert.equal(e.errname, "EOPNOTSUPP");
    assert.equal(e.errorCode, "auth.mechanism_not_supported");
    // A well-formed, valid key is refused the same way, before it is looked at.
    const secret = newKeySecret();
    const salt = newKeySalt();
    const stored = await ts.app.store.db
      .insertInto("api_keys")
      .values({
        name: randomName("stigkey"),
        user_id: admin.id,
        username: admin.username,
        keyhash_salt: salt,
        keyhash: hashKey(salt, secret),
        created_at: Date.now(),
        expires_at: null,
        revoked: 0,
        revoked_reason: null,
        roles: null,
      })
      .returning("id")
      .executeTakeFirstOrThrow();
    const k = await ts.client();
    const ek = await rpcError(k.call("auth.login_ex", { mechanism: "API_KEY_PLAIN", username: admin.username, api_key: `${stored.id}-${secret}` }));
    assert.equal(ek.errname, "EOPNOTSUPP", "a valid key is refused under STIG");
    assert.equal((await rpcError(k.call("auth.me"))).errname, "ENOTAUTHENTICATED", "and the connection has no session");
    const keyRow = await ts.app.store.db.selectFrom("api_keys").select("revoked").where("id", "=", stored.id).executeTakeFirstOrThrow();
    assert.equal(keyRow.revoked, 0, "the key is left as it was");
    // Without a TOTP secret a password alone is not enough.
    const plain = await makeUser(ts, { roles: ["READONLY_ADMIN"] });
    assert.equal((await c.login(plain.username, PASSWORD)).response_type, "AUTH_ERR");
    // With 2FA.
    const c2 = await ts.client();
    assert.equal((await c2.login(admin.username, PASSWORD)).response_type, "OTP_REQUIRED");
    const r = await c2.call("auth.login_ex", { mechanism: "OTP_TOKEN", otp_token: code() });
    assert.equal(r.response_type, "SUCCESS");
    assert.equal(r.authenticator, "LEVEL_2");
    const roles: string[] = r.user_info.privilege.roles;
    const stigRoles = ALL_ROLE_NAMES.filter((n) => (ROLES as any)[n].stig !== null);
    assert.deepEqual([...roles].sort(), [...stigRoles].sort());
    assert.equal(r.user_info.privilege.web_shell, false);
    assert.equal(r.user_info.privilege.webui_access, true);
    // Multi-use tokens are refused at LEVEL_2.
    assert.equal((await rpcError(c2.call("auth.generate_token"))).errname, "EOPNOTSUPP");
    // STIG-null write methods answer Not authorized, even for FULL_ADMIN.
    const ak = await rpcError(c2.call("api_key.create", { name: randomName(), username: admin.username }));
    assert.equal(ak.errname, "EACCES");
    // READONLY_ADMIN holders reach the handler, which refuses any change.
    const roUser = await makeUser(ts, { roles: ["READONLY_ADMIN"] });
    const { twofactor_config } = await c2.call("user.renew_2fa_secret", roUser.username);
    const ro = await ts.client();
    assert.equal((await ro.login(roUser.username, PASSWORD)).response_type, "OTP_REQUIRED");
    assert.equal((await ro.call("auth.login_ex", { mechanism: "OTP_TOKEN", otp_token: totpFromUri(twofactor_config.provisioning_uri) })).response_type, "SUCCESS");
    const refused = await rpcError(ro.call("api_key.create", { name: randomName(), username: roUser.username }));
    assert.equal(refused.errname, "EACCES");
    assert.equal(refused.errorCode, "api_key.stig_forbids");
    // 2FA cannot be switched off.
    const tf = await rpcError(c2.call("auth.twofactor.update", { enabled: false }));
    assert.equal(tf.extra[0][0], "auth_twofactor_update.enable");
    // Weaker policy values are refused while STIG is on.
    const weak = await rpcError(c2.call("core.set_options", { legacy_jobs: false }).then(() => c2.call("system.security.update", { min_password_length: 8 })));
    assert.equal(weak.extra[0][0], "system_security_update.min_password_length");
    // One-time passwords still sign in at LEVEL_2.
    const otpw = await c2.call<string>("auth.generate_onetime_password", { username: plain.username });
    const o = await ts.client();
    const or = await o.login(plain.username, otpw);
    assert.equal(or.response_type, "SUCCESS");
    assert.ok(or.user_info.account_attributes.includes("OTPW"));
    // Turn STIG off again.
    const off = await c2.call("system.security.update", { enable_gpos_stig: false });
    assert.equal(off.enable_gpos_stig, false);
    assert.deepEqual(await (await ts.client()).call("auth.mechanism_choices"), ["API_KEY_PLAIN", "TOKEN_PLAIN", "PASSWORD_PLAIN", "SCRAM"]);
  });
});
