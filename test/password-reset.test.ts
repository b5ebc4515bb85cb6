// Password reset (issue 12 point 7; OWASP Forgot Password) end to end through the API, against a
// real SMTP server on loopback: the code is read from the mail, signs in like a one-time password,
// the password is changed, the user's other sessions end and a notice is mailed. Also: a new
// request replaces the code, the per-account limit, TOTP still asked, an EMAIL account's code
// standing for both factors, directory accounts told to reset in their directory, and an SMTP
// outage during a reset followed by delivery once the server is back.

import { after, before, it } from "node:test";
import assert from "node:assert/strict";
import { forEachStore, rpcError, type TestServer } from "./harness.js";
import { loginAs, makeUser, start, totpFromUri, type TestUser } from "./auth-helpers.js";
import { codeIn, startSmtp, verifyAddress, type TestSmtp } from "./mail-helpers.js";
import { startWithMail } from "./mail-suite.js";
import type { RpcClient } from "../src/cli/client.js";

const NEW_PASSWORD = "Brand-new-pass-9876";

forEachStore("password reset", (store) => {
  let ts: TestServer;
  let admin: RpcClient;
  let smtp: TestSmtp;
  const mailTo = (to: string, subject: RegExp, from = 0, timeoutMs?: number) => smtp.waitFor((m) => smtp.received.indexOf(m) >= from && m.to.includes(to) && subject.test(m.subject), timeoutMs);

  before(async () => {
    ({ ts, admin, smtp } = await startWithMail(() => start(store)));
    ts.app.mail.retry = { baseMs: 200, maxMs: 1000 };
  });
  // The outage test replaces the SMTP server: the one to close is the current one.
  after(async () => {
    await ts.stop();
    await smtp.close();
  });

  async function resetUser(roles = ["READONLY_ADMIN"]): Promise<TestUser & { email: string }> {
    const u = await makeUser(ts, { roles });
    return { ...u, email: await verifyAddress(admin, smtp, u) };
  }
  async function requestCode(u: { username: string; email: string }): Promise<string> {
    const n = smtp.received.length;
    assert.equal(await (await ts.client()).call("auth.password_reset.request", { username: u.username }), true);
    const mail = await mailTo(u.email, /Password Reset/, n);
    assert.match(mail.subject, /^\[AUTH\] Gatehouse Password Reset$/);
    return codeIn(mail);
  }

  it("end to end: request, code from the mail, sign in, new password; other sessions end; a notice is mailed", async () => {
    const u = await resetUser();
    const other = await loginAs(ts, u); // a session from before the reset
    const code = await requestCode(u);
    assert.match(code, /^\d{4}-\d{4}$/);
    const c = await ts.client();
    const r = await c.login(u.username, code);
    assert.equal(r.response_type, "SUCCESS");
    const me = await c.call<any>("auth.me");
    assert.ok(me.account_attributes.includes("OTPW"));
    assert.ok(me.account_attributes.includes("PASSWORD_CHANGE_REQUIRED"));
    const n = smtp.received.length;
    await c.call("user.set_password", { username: u.username, new_password: NEW_PASSWORD });
    assert.match((await mailTo(u.email, /password was changed/, n)).text, new RegExp(u.username));
    // The session from before is over; the new password works; the code is spent.
    await assert.rejects(other.call("auth.me"));
    assert.equal((await (await ts.client()).login(u.username, NEW_PASSWORD)).response_type, "SUCCESS");
    assert.equal((await (await ts.client()).login(u.username, code)).response_type, "AUTH_ERR");
    assert.equal((await (await ts.client()).login(u.username, u.password)).response_type, "AUTH_ERR");
  });

  it("a new request replaces the code; an expired code fails; the code is in no audit row", async () => {
    const u = await resetUser();
    const first = await requestCode(u);
    const second = await requestCode(u);
    assert.equal((await (await ts.client()).login(u.username, first)).response_type, "AUTH_ERR");
    const third = await requestCode(u);
    await ts.app.store.db
      .updateTable("onetime_codes")
      .set({ expires_at: Date.now() - 1 })
      .where("user_id", "=", u.id)
      .where("kind", "=", "PASSWORD_RESET")
      .execute();
    assert.equal((await (await ts.client()).login(u.username, third)).response_type, "AUTH_ERR");
    const audits = await ts.app.store.db.selectFrom("audit").select("event_data").execute();
    for (const code of [first, second, third]) assert.ok(audits.every((a) => !a.event_data.includes(code)));
  });

  it("nothing is sent without a verified address, for unknown names, or past 5 requests an hour; the answer is always true", async () => {
    const c = await ts.client();
    const unverified = await makeUser(ts);
    await admin.call("user.update", unverified.id, { email: "unverified@example.test" });
    await smtp.waitFor((m) => m.to.includes("unverified@example.test"));
    const n = smtp.received.length;
    for (const username of [unverified.username, "no-such-user", "nobody"]) assert.equal(await c.call("auth.password_reset.request", { username }), true);
    const limited = await resetUser();
    for (let i = 0; i < 5; i++) await requestCode(limited);
    const n2 = smtp.received.length;
    assert.equal(await c.call("auth.password_reset.request", { username: limited.username }), true);
    await ts.app.mail.drain();
    await new Promise((r) => setTimeout(r, 300));
    await ts.app.mail.drain();
    assert.equal(smtp.received.length, n2, "the sixth request in the hour sends nothing");
    assert.ok(
      smtp.received.slice(n, n2).every((m) => m.to.includes(limited.email)),
      "only the verified account got mail",
    );
  });

  it("a TOTP account still gives its TOTP code; an EMAIL account's reset code stands for both", async () => {
    await admin.call("auth.twofactor.update", { enabled: true, window: 1 });
    try {
      const t = await resetUser();
      const { twofactor_config } = await admin.call<any>("user.renew_2fa_secret", t.username, {});
      const c = await ts.client();
      assert.deepEqual(await c.login(t.username, await requestCode(t)), { response_type: "OTP_REQUIRED", username: t.username });
      const done = await c.call<any>("auth.login_ex", { mechanism: "OTP_TOKEN", otp_token: totpFromUri(twofactor_config.provisioning_uri) });
      assert.equal(done.response_type, "SUCCESS");
      assert.ok((await c.call<any>("auth.me")).account_attributes.includes("PASSWORD_CHANGE_REQUIRED"));
    } finally {
      await admin.call("auth.twofactor.update", { enabled: false });
    }
    const e = await resetUser();
    await admin.call("user.set_twofactor_method", e.id, { method: "EMAIL" });
    const c2 = await ts.client();
    assert.equal((await c2.login(e.username, await requestCode(e))).response_type, "SUCCESS");
  });

  it("a directory (LDAP) account gets, by mail only, a note to reset in its directory", async () => {
    const u = await resetUser();
    await ts.app.store.db.updateTable("users").set({ source: "LDAP" }).where("id", "=", u.id).execute();
    const n = smtp.received.length;
    assert.equal(await (await ts.client()).call("auth.password_reset.request", { username: u.username }), true);
    const mail = await mailTo(u.email, /Password Reset/, n);
    assert.match(mail.text, /directory/);
    assert.doesNotMatch(mail.text, /code/i);
  });

  it("an SMTP outage during a reset loses nothing: the failure is audited and queued, and the mail goes once the server is back", async () => {
    const u = await resetUser();
    const port = smtp.port;
    await smtp.close();
    try {
      assert.equal(await (await ts.client()).call("auth.password_reset.request", { username: u.username }), true);
      // The first attempt fails: the queue shows why, the audit log has it.
      let row: any;
      for (let i = 0; i < 100 && !row; i++) {
        row = (await admin.call<any[]>("mail.queue", { state: "PENDING" })).find((q) => q.user_id === u.id && q.kind === "PASSWORD_RESET" && q.last_error_code !== null);
        if (!row) await new Promise((r) => setTimeout(r, 100));
      }
      assert.ok(row, "a pending reset mail with a failed attempt");
      assert.equal(row.last_error_code, "mail.unreachable");
      const audit = await ts.app.store.db.selectFrom("audit").select(["event_data", "success"]).where("event", "=", "MAIL").execute();
      assert.ok(audit.some((a) => JSON.parse(a.event_data).user_id === u.id && JSON.parse(a.event_data).code === "mail.unreachable" && !a.success));
    } finally {
      smtp = await startSmtp({ port });
    }
    const mail = await mailTo(u.email, /Password Reset/, 0, 20_000);
    assert.equal((await (await ts.client()).login(u.username, codeIn(mail))).response_type, "SUCCESS");
    const sent = (await admin.call<any[]>("mail.queue")).find((q) => q.user_id === u.id && q.kind === "PASSWORD_RESET");
    assert.equal(sent.state, "SENT");
    assert.ok(sent.attempts >= 2);
  });

  it("auth.password_reset.request needs no login and takes only a user name", async () => {
    const c = await ts.client();
    assert.equal((await rpcError(c.call("auth.password_reset.request", { username: "x", email: "y" }))).codes[0], "core.extra_field");
    assert.equal((await rpcError(c.call("auth.password_reset.request", { username: "" }))).extra[0][0], "data.username");
  });
});
