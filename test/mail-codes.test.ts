// E-mail verification and the e-mailed second factor (issue 12 point 6), against a real SMTP
// server on loopback; every code is read from the message it arrived in.

import { after, before, it } from "node:test";
import assert from "node:assert/strict";
import { forEachStore, rpcError, type TestServer } from "./harness.js";
import { PASSWORD, loginAs, makeUser, start, totpFromUri, type TestUser } from "./auth-helpers.js";
import { addressFor, codeIn, verifyAddress, type TestSmtp } from "./mail-helpers.js";
import { startWithMail, type MailSuite } from "./mail-suite.js";
import type { RpcClient } from "../src/cli/client.js";
import { SECURITY_KEY } from "../src/auth/policy.js";
import { setTwofactorMethod } from "../src/auth/email-verification.js";

forEachStore("e-mail verification and e-mailed codes", (store) => {
  let ts: TestServer;
  let admin: RpcClient;
  let smtp: TestSmtp;
  const mailTo = (to: string, subject: RegExp, after = 0) => smtp.waitFor((m) => smtp.received.indexOf(m) >= after && m.to.includes(to) && subject.test(m.subject));

  let suite: MailSuite;
  before(async () => {
    suite = await startWithMail(() => start(store));
    ({ ts, admin, smtp } = suite);
    ts.app.mail.retry = { baseMs: 100, maxMs: 500 };
  });
  after(() => suite.stop());

  const entry = async (id: number) => admin.call<any>("user.get_instance", id);

  it("setting an address mails a code; the user (or ACCOUNT_WRITE) verifies it; codes are single use and bound to the address", async () => {
    const u = await makeUser(ts, { roles: ["READONLY_ADMIN"] });
    const email = addressFor(u.username);
    const n = smtp.received.length;
    await admin.call("user.update", u.id, { email });
    const mail = await mailTo(email, /Verify your e-mail/, n);
    assert.match(mail.subject, /Gatehouse/);
    assert.match(mail.text, new RegExp(u.username));
    const code = codeIn(mail);
    assert.match(code, /^\d{6}$/);
    assert.equal((await entry(u.id)).email_verified, false);
    // The code is in no audit row, no queue row and not in the store in clear.
    const queue = await admin.call<any[]>("mail.queue");
    assert.ok(queue.some((q) => q.user_id === u.id && q.kind === "VERIFY_EMAIL" && q.state === "SENT"));
    assert.ok(!JSON.stringify(queue).includes(code));
    const rows = await ts.app.store.db.selectFrom("onetime_codes").selectAll().where("user_id", "=", u.id).execute();
    assert.ok(!JSON.stringify(rows).includes(code));

    const c = await loginAs(ts, u);
    const wrong = await rpcError(c.call("user.verify_email", u.id, { code: code === "000000" ? "111111" : "000000" }));
    assert.equal(wrong.errorCode, "email_code.invalid");
    assert.equal(wrong.extra[0][0], "user_verify_email.code");
    assert.deepEqual(await c.call("user.verify_email", u.id, { code }), { id: u.id, email, email_verified: true });
    assert.equal((await entry(u.id)).email_verified, true);
    assert.equal((await rpcError(c.call("user.verify_email", u.id, { code }))).errorCode, "email_code.invalid", "single use");
    const audits = await ts.app.store.db.selectFrom("audit").select("event_data").execute();
    assert.ok(
      audits.every((a) => !a.event_data.includes(code)),
      "no audit row holds the code",
    );

    // A new address is unverified again; the old address's code does not verify it.
    const n2 = smtp.received.length;
    await admin.call("user.update", u.id, { email: `x${email}` });
    assert.equal((await entry(u.id)).email_verified, false);
    const second = await mailTo(`x${email}`, /Verify/, n2);
    // An administrator pastes the code (seed 002).
    await admin.call("user.verify_email", u.id, { code: codeIn(second) });
    assert.equal((await entry(u.id)).email_verified, true);
  });

  it("only the account itself or ACCOUNT_WRITE holding its roles may verify; a read-only admin may not", async () => {
    const target = await makeUser(ts, { roles: ["READONLY_ADMIN"] });
    const { client: ro } = { client: await loginAs(ts, await makeUser(ts, { roles: ["READONLY_ADMIN"] })) };
    assert.equal((await rpcError(ro.call("user.verify_email", target.id, { code: "123456" }))).errname, "EACCES");
    const writer = await loginAs(ts, await makeUser(ts, { roles: ["ACCOUNT_WRITE"] }));
    const admin2 = await makeUser(ts, { roles: ["FULL_ADMIN"] });
    const e = await rpcError(writer.call("user.verify_email", admin2.id, { code: "123456" }));
    assert.equal(e.errname, "EPERM", "a lesser role cannot act on a greater account");
  });

  it("a code dies after 5 wrong tries, and when it expires", async () => {
    const u = await makeUser(ts);
    const email = addressFor(u.username);
    const n = smtp.received.length;
    await admin.call("user.update", u.id, { email });
    const code = codeIn(await mailTo(email, /Verify/, n));
    const wrong = code === "000000" ? "111111" : "000000";
    for (let i = 0; i < 5; i++) assert.equal((await rpcError(admin.call("user.verify_email", u.id, { code: wrong }))).errorCode, "email_code.invalid");
    assert.equal((await rpcError(admin.call("user.verify_email", u.id, { code }))).errorCode, "email_code.too_many_tries");
    // Parallel guesses compare at most 5 times in all.
    const n2 = smtp.received.length;
    await admin.call("user.update", u.id, { email });
    const code2 = codeIn(await mailTo(email, /Verify/, n2));
    const results = await Promise.all(Array.from({ length: 20 }, () => rpcError(admin.call("user.verify_email", u.id, { code: code2 === "000000" ? "111111" : "000000" }))));
    assert.equal(results.filter((r) => r.errorCode === "email_code.invalid").length, 5);
    assert.equal((await rpcError(admin.call("user.verify_email", u.id, { code: code2 }))).errorCode, "email_code.too_many_tries");
    // Expired.
    const n3 = smtp.received.length;
    await admin.call("user.update", u.id, { email });
    const code3 = codeIn(await mailTo(email, /Verify/, n3));
    await ts.app.store.db
      .updateTable("onetime_codes")
      .set({ expires_at: Date.now() - 1 })
      .where("user_id", "=", u.id)
      .where("kind", "=", "EMAIL_VERIFY")
      .execute();
    assert.equal((await rpcError(admin.call("user.verify_email", u.id, { code: code3 }))).errorCode, "email_code.expired");
    assert.equal((await entry(u.id)).email_verified, false);
  });

  async function emailUser(roles = ["READONLY_ADMIN"]): Promise<TestUser & { email: string }> {
    const u = await makeUser(ts, { roles });
    const email = await verifyAddress(admin, smtp, u);
    assert.equal(await admin.call("user.set_twofactor_method", u.id, { method: "EMAIL" }), "EMAIL");
    return { ...u, email };
  }

  async function passwordStep(u: TestUser & { email: string }): Promise<{ c: RpcClient; code: string }> {
    const n = smtp.received.length;
    const c = await ts.client();
    const r = await c.login(u.username, u.password);
    assert.deepEqual(r, { response_type: "OTP_REQUIRED", username: u.username });
    const mail = await mailTo(u.email, /Sign-in code/, n);
    assert.match(mail.subject, /Gatehouse/);
    return { c, code: codeIn(mail) };
  }
  const otp = (c: RpcClient, otp_token: string) => c.call<any>("auth.login_ex", { mechanism: "OTP_TOKEN", otp_token });

  it("EMAIL users: OTP_REQUIRED at every password login (global TOTP off), the mailed code completes it once", async () => {
    assert.equal((await admin.call<any>("auth.twofactor.config")).enabled, false);
    const u = await emailUser();
    assert.equal((await entry(u.id)).twofactor_method, "EMAIL");
    const { c, code } = await passwordStep(u);
    const wrong = await otp(c, code === "000000" ? "111111" : "000000");
    assert.equal(wrong.response_type, "AUTH_ERR");
    const ok = await otp(c, code);
    assert.equal(ok.response_type, "SUCCESS");
    assert.equal((await c.call<any>("auth.me")).pw_name, u.username);
    // Reused: a new login's step refuses the old code.
    const second = await passwordStep(u);
    assert.equal((await otp(second.c, code)).response_type, "AUTH_ERR");
    assert.equal((await otp(second.c, second.code)).response_type, "SUCCESS");
  });

  it("EMAIL users: an expired code fails; the pending login allows a few tries only", async () => {
    const u = await emailUser();
    const { c, code } = await passwordStep(u);
    await ts.app.store.db
      .updateTable("onetime_codes")
      .set({ expires_at: Date.now() - 1 })
      .where("user_id", "=", u.id)
      .where("kind", "=", "EMAIL_2FA")
      .execute();
    assert.equal((await otp(c, code)).response_type, "AUTH_ERR");
    // Too many tries: the code dies after 5 wrong guesses, the right one is then refused.
    const p = await passwordStep(u);
    const wrong = p.code === "000000" ? "111111" : "000000";
    for (let i = 0; i < 4; i++) assert.equal((await otp(p.c, wrong)).response_type, "AUTH_ERR");
    // The pending login is over after its retries; the code's own count stops it as well.
    const e = await rpcError(otp(p.c, p.code));
    assert.equal(e.errorCode, "auth.otp_not_in_progress");
  });

  it("choosing EMAIL: needs a verified address; from TOTP only with a TOTP code; STIG refuses it; the address is kept while in use", async () => {
    const u = await makeUser(ts, { roles: ["READONLY_ADMIN"] });
    assert.equal((await rpcError(admin.call("user.set_twofactor_method", u.id, { method: "EMAIL" }))).errorCode, "user.email_not_verified");
    await verifyAddress(admin, smtp, u);
    const { twofactor_config } = await admin.call<any>("user.renew_2fa_secret", u.username, {});
    assert.equal((await entry(u.id)).twofactor_method, "TOTP");
    const e = await rpcError(admin.call("user.set_twofactor_method", u.id, { method: "EMAIL" }));
    assert.equal(e.errorCode, "user.twofactor_totp_code_required");
    assert.equal((await rpcError(admin.call("user.set_twofactor_method", u.id, { method: "EMAIL", otp_token: "000000" }))).errorCode, "user.twofactor_totp_code_required");
    assert.equal(await admin.call("user.set_twofactor_method", u.id, { method: "EMAIL", otp_token: totpFromUri(twofactor_config.provisioning_uri) }), "EMAIL");
    const row = await ts.app.store.db.selectFrom("users").select(["twofactor_secret", "twofactor_email"]).where("id", "=", u.id).executeTakeFirstOrThrow();
    assert.equal(row.twofactor_secret, null);
    assert.equal(row.twofactor_email, 1);
    // The address cannot change while it receives the second factor.
    assert.equal((await rpcError(admin.call("user.update", u.id, { email: "other@example.test" }))).errorCode, "user.email_twofactor_in_use");
    assert.equal(await admin.call("user.set_twofactor_method", u.id, { method: null }), null);
    assert.equal((await entry(u.id)).twofactor_method, null);
    // A self-service change by the user (no role) works on its own account only.
    const self = await loginAs(ts, { username: u.username, password: PASSWORD });
    assert.equal(await self.call("user.set_twofactor_method", u.id, { method: "EMAIL" }), "EMAIL");
    const other = await makeUser(ts);
    assert.equal((await rpcError(self.call("user.set_twofactor_method", other.id, { method: null }))).errname, "EACCES");
    await self.call("user.set_twofactor_method", u.id, { method: null });

    // GPOS STIG: e-mail is not a factor (the setting written directly: this suite's admin has no second factor).
    const db = ts.app.store.db;
    const prev = await db.selectFrom("settings").select("value").where("key", "=", SECURITY_KEY).executeTakeFirst();
    const sec = prev ? JSON.parse(prev.value) : {};
    await db
      .insertInto("settings")
      .values({ key: SECURITY_KEY, value: JSON.stringify({ ...sec, enable_gpos_stig: true }) })
      .onConflict((oc) => oc.column("key").doUpdateSet({ value: JSON.stringify({ ...sec, enable_gpos_stig: true }) }))
      .execute();
    try {
      // Turning STIG on ends the sessions that lack a second factor: checked on the domain function.
      await assert.rejects(setTwofactorMethod({ app: ts.app }, u.id, "EMAIL", null, "x"), (e: any) => e.code === "user.twofactor_email_stig");
    } finally {
      if (prev) await db.updateTable("settings").set({ value: prev.value }).where("key", "=", SECURITY_KEY).execute();
      else await db.deleteFrom("settings").where("key", "=", SECURITY_KEY).execute();
    }
  });
});
