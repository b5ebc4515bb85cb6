// Threat: finding out which accounts exist (or can reset, or have an address) through the
// forgot-password form — by its answer, its errors, its limits, or its time — and flooding a
// mailbox through it (OWASP Forgot Password; keycloak#26625 reset slower for real users,
// keycloak#24914 e-mail flooding). auth.password_reset.request answers `true` for every name and
// does nothing account-dependent before answering: the account is read and the mail queued after
// the answer, so its time cannot depend on the account (the bench measures it: npm run bench).

import { after, before, it } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server, type Socket } from "node:net";
import { forEachStore, type TestServer } from "../harness.js";
import { makeUser, start } from "../auth-helpers.js";
import { configureMail, verifyAddress, type TestSmtp } from "../mail-helpers.js";
import { startWithMail, type MailSuite } from "../mail-suite.js";
import type { RpcClient } from "../../src/cli/client.js";

forEachStore("password reset enumeration", (store) => {
  // The suite's server, an administrator's client and the SMTP server its mail goes to.
  let suite: MailSuite, ts: TestServer, admin: RpcClient, smtp: TestSmtp;
  before(async () => {
    suite = await startWithMail(() => start(store));
    ({ ts, admin, smtp } = suite);
  });
  after(() => suite.stop());

  it("every kind of name gets the same answer: verified, unverified, locked, password-disabled, directory, unknown", async () => {
    const verified = await makeUser(ts);
    await verifyAddress(admin, smtp, verified);
    const unverified = await makeUser(ts);
    await admin.call("user.update", unverified.id, { email: "unverified-enum@example.test" });
    const locked = await makeUser(ts);
    await verifyAddress(admin, smtp, locked);
    await admin.call("user.update", locked.id, { locked: true });
    const disabled = await makeUser(ts, { password: null });
    const directory = await makeUser(ts);
    await ts.app.store.db.updateTable("users").set({ source: "LDAP" }).where("id", "=", directory.id).execute();
    const c = await ts.client();
    const answers = [];
    for (const username of [verified.username, unverified.username, locked.username, disabled.username, directory.username, "no-such-user-x", "root"]) {
      answers.push(await c.call("auth.password_reset.request", { username }));
    }
    assert.deepEqual(
      answers,
      answers.map(() => true),
    );
    // The audit rows say the same for each (only the name differs).
    const rows = await ts.app.store.db.selectFrom("audit").select(["event_data", "success"]).where("event", "=", "METHOD_CALL").execute();
    const resets = rows.map((r) => JSON.parse(r.event_data)).filter((d) => d.method === "auth.password_reset.request");
    assert.ok(resets.length >= 7);
    assert.ok(resets.every((d) => /^Password reset request: /.test(d.description)));
  });

  it("the per-account limit answers the same for known and unknown names, and stops the mails", async () => {
    const u = await makeUser(ts);
    const email = await verifyAddress(admin, smtp, u);
    const c = await ts.client();
    const out: unknown[] = [];
    for (let i = 0; i < 8; i++) out.push(await c.call("auth.password_reset.request", { username: u.username }), await c.call("auth.password_reset.request", { username: "ghost-user-y" }));
    assert.deepEqual(
      out,
      out.map(() => true),
    );
    await ts.app.mail.drain();
    await new Promise((r) => setTimeout(r, 200));
    await ts.app.mail.drain();
    const mails = smtp.received.filter((m) => m.to.includes(email) && /Password Reset/.test(m.subject));
    assert.ok(mails.length >= 1 && mails.length <= 5, `at most 5 reset mails an hour (got ${mails.length})`);
  });

  it("the answer does not wait for the account or the mail: with a mail server that never answers, it comes at once", async () => {
    // A server that accepts and never says a word: a send would wait for nodemailer's greeting timeout.
    const sockets: Socket[] = [];
    const mute: Server = createServer((s) => sockets.push(s));
    await new Promise<void>((r) => mute.listen(0, "127.0.0.1", () => r()));
    const u = await makeUser(ts);
    await verifyAddress(admin, smtp, u);
    await configureMail(admin, (mute.address() as { port: number }).port);
    try {
      const c = await ts.client();
      assert.equal(await c.call("auth.password_reset.request", { username: u.username }), true);
      // Answered, and the mail is still pending (being sent to the mute server, or queued).
      let row: any;
      for (let i = 0; i < 50 && !row; i++) {
        row = (await admin.call<any[]>("mail.queue")).find((q) => q.user_id === u.id && q.kind === "PASSWORD_RESET");
        if (!row) await new Promise((r) => setTimeout(r, 20));
      }
      assert.ok(row, "queued after the answer");
      assert.equal(row.state, "PENDING");
      assert.equal(row.last_error, null);
    } finally {
      await configureMail(admin, smtp.port);
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => mute.close(() => r()));
    }
  });
});
