// Threat: guessing an e-mailed code — the second factor of an EMAIL account (with its password
// known), a password-reset code, or an address-verification code — by trying many, in parallel,
// or by reusing one. Codes are 6 (sign-in, verification) or 8 (reset) digits from a CSPRNG, stored
// salted and hashed, single use, short-lived, and each dies after 5 wrong tries: a try is claimed
// before the comparison, so parallel guesses compare at most 5 times in all. Wrong codes are
// failed logins: the login limiter's lock-out stops the attacker (limiter on in this file).

import { after, before, it } from "node:test";
import assert from "node:assert/strict";
import { forEachStore, startServer, type TestServer } from "../harness.js";
import { makeUser, type TestUser } from "../auth-helpers.js";
import { codeIn, verifyAddress, type TestSmtp } from "../mail-helpers.js";
import { startWithMail, type MailSuite } from "../mail-suite.js";
import type { RpcClient } from "../../src/cli/client.js";
import { checkEmailCode, mintEmailCode } from "../../src/auth/email-codes.js";

const LIMITS = { windowMs: 60_000, accountFreeFailures: 100, accountDelayBaseMs: 1, accountDelayMaxMs: 2 };

forEachStore("e-mailed code guessing", (store) => {
  // The suite's server, an administrator's client and the SMTP server its mail goes to.
  let suite: MailSuite, ts: TestServer, admin: RpcClient, smtp: TestSmtp;
  before(async () => {
    suite = await startWithMail(async () => {
      const server = await startServer({ store, rateLimitLoopback: true, config: { loginLimits: LIMITS } });
      server.app.rateLimitLoopbackExempt = false;
      return server;
    });
    ({ ts, admin, smtp } = suite);
  });
  after(() => suite.stop());

  const mailTo = (to: string, subject: RegExp, from: number) => smtp.waitFor((m) => smtp.received.indexOf(m) >= from && m.to.includes(to) && subject.test(m.subject));
  const wrongFor = (code: string) => (code.replace(/\D/g, "") === "00000000".slice(0, code.replace(/\D/g, "").length) ? "11111111" : "00000000").slice(0, code.replace(/\D/g, "").length);

  async function emailUser(): Promise<TestUser & { email: string }> {
    const u = await makeUser(ts, { roles: ["READONLY_ADMIN"] });
    const email = await verifyAddress(admin, smtp, u);
    await admin.call("user.set_twofactor_method", u.id, { method: "EMAIL" });
    return { ...u, email };
  }

  it("second factor: wrong codes are failed logins; at the lock-out threshold even the right password and code are refused", async () => {
    const u = await emailUser();
    let lastCode = "";
    let refused = false;
    for (let round = 0; round < 3 && !refused; round++) {
      const n = smtp.received.length;
      const c = await ts.client();
      const r = await c.login(u.username, u.password);
      if (r.response_type !== "OTP_REQUIRED") {
        refused = r.response_type === "DENIED";
        break;
      }
      lastCode = codeIn(await mailTo(u.email, /Sign-in code/, n));
      for (let i = 0; i < 4; i++) {
        const a = await c.call<any>("auth.login_ex", { mechanism: "OTP_TOKEN", otp_token: wrongFor(lastCode) }).catch(() => ({ response_type: "ENDED" }));
        if (a.response_type === "DENIED") refused = true;
        if (a.response_type !== "AUTH_ERR") break;
      }
    }
    assert.ok(lastCode, "at least one code was mailed");
    // Locked out for this source (5 failures by default): the right password is refused now.
    assert.equal((await (await ts.client()).login(u.username, u.password)).response_type, "DENIED");
  });

  it("reset codes: 5 wrong tries kill the code, parallel guesses included; a used code never works again", async () => {
    ts.app.rateLimitLoopbackExempt = true; // the code's own limit, apart from the login limiter
    try {
      const u = await makeUser(ts, { roles: ["READONLY_ADMIN"] });
      const email = await verifyAddress(admin, smtp, u);
      const request = async () => {
        const n = smtp.received.length;
        await (await ts.client()).call("auth.password_reset.request", { username: u.username });
        return codeIn(await mailTo(email, /Password Reset/, n));
      };
      const code = await request();
      const guesses = await Promise.all(Array.from({ length: 25 }, async () => (await ts.client()).login(u.username, wrongFor(code))));
      assert.ok(guesses.every((g) => g.response_type === "AUTH_ERR"));
      assert.equal((await (await ts.client()).login(u.username, code)).response_type, "AUTH_ERR", "dead after 5 tries");
      const fresh = await request();
      assert.equal((await (await ts.client()).login(u.username, fresh)).response_type, "SUCCESS");
      assert.equal((await (await ts.client()).login(u.username, fresh)).response_type, "AUTH_ERR", "single use");
    } finally {
      ts.app.rateLimitLoopbackExempt = false;
    }
  });

  it("codes: digits from a CSPRNG of the stated length, stored salted and hashed, compared at most 5 times", async () => {
    const u = await makeUser(ts);
    const db = ts.app.store.db;
    const seen = new Set<string>();
    for (let i = 0; i < 30; i++) {
      const c6 = await mintEmailCode(db, u.id, "EMAIL_2FA");
      const c8 = await mintEmailCode(db, u.id, "PASSWORD_RESET");
      assert.match(c6, /^\d{6}$/);
      assert.match(c8, /^\d{8}$/);
      seen.add(c8);
      const rows = await db.selectFrom("onetime_codes").selectAll().where("user_id", "=", u.id).execute();
      assert.ok(!JSON.stringify(rows).includes(c6) && !JSON.stringify(rows).includes(c8), "never stored in clear");
    }
    assert.ok(seen.size >= 29, "codes do not repeat");
    const code = await mintEmailCode(db, u.id, "EMAIL_2FA");
    const wrong = wrongFor(code);
    const results = await Promise.all(Array.from({ length: 40 }, () => checkEmailCode(db, u.id, "EMAIL_2FA", wrong)));
    assert.equal(results.filter((r) => !r.ok && r.reason === "INVALID").length, 5);
    assert.equal(results.filter((r) => !r.ok && r.reason === "TOO_MANY").length, 35);
    assert.deepEqual(await checkEmailCode(db, u.id, "EMAIL_2FA", code), { ok: false, reason: "TOO_MANY" });
  });
});
