// Mail settings and sending (issue 12 point 1) against a real SMTP server on loopback: PLAIN, SSL
// and STARTTLS, with and without SMTP authentication; the reasons given when the server cannot be
// reached, refuses the login, the recipient, or presents a certificate nobody vouches for; the
// SMTP password sealed at rest and never returned.

import { after, before, it } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:net";
import { clientWithRoles, forEachStore, rpcError, startServer, type TestServer } from "./harness.js";
import { configureMail, makeCerts, startSmtp, type TestCerts, type TestSmtp } from "./mail-helpers.js";
import type { RpcClient } from "../src/cli/client.js";

const MSG = { subject: "Test message", text: "Hello from the test.", to: ["alice@example.test"] };

forEachStore("mail settings and sending", (store) => {
  let ts: TestServer;
  let admin: RpcClient;
  let certs: TestCerts;
  const servers: TestSmtp[] = [];
  const smtp = async (o: Parameters<typeof startSmtp>[0] = {}) => {
    const s = await startSmtp(o);
    servers.push(s);
    return s;
  };

  before(async () => {
    certs = makeCerts();
    ts = await startServer({ store });
    admin = await ts.adminClient();
  });
  after(async () => {
    await Promise.all(servers.map((s) => s.close()));
    await ts.stop();
    certs.cleanup();
  });

  it("mail.config: defaults; mail.update stores, seals the password and never returns it", async () => {
    const c0 = await admin.call<any>("mail.config");
    assert.deepEqual(c0, { id: 1, fromemail: "", fromname: "", outgoingserver: "", port: 25, security: "PLAIN", smtp: false, user: null, pass_set: false });
    const secret = "Smtp-s3cret-value";
    const c1 = await admin.call<any>("mail.update", { outgoingserver: "mail.example.test", port: 587, security: "TLS", smtp: true, user: "gh", pass: secret, fromemail: "gh@example.test" });
    assert.equal(c1.pass_set, true);
    assert.equal(c1.security, "TLS");
    assert.ok(!JSON.stringify(c1).includes(secret));
    assert.ok(!JSON.stringify(await admin.call("mail.config")).includes(secret));
    const row = await ts.app.store.db.selectFrom("settings").select("value").where("key", "=", "mail").executeTakeFirstOrThrow();
    assert.ok(!row.value.includes(secret), "stored sealed");
    assert.match(row.value, /gh-sb1:/);
    const audits = await ts.app.store.db.selectFrom("audit").select("event_data").where("event", "=", "METHOD_CALL").execute();
    assert.ok(
      audits.every((a) => !a.event_data.includes(secret)),
      "no audit row holds the SMTP password",
    );
    // Leaving pass out keeps it; "" removes it.
    assert.equal((await admin.call<any>("mail.update", { port: 2525 })).pass_set, true);
    assert.equal((await admin.call<any>("mail.update", { pass: "", smtp: false })).pass_set, false);
  });

  it("mail.update refuses bad fields, naming them", async () => {
    const e1 = await rpcError(admin.call("mail.update", { security: "STARTTLS" }));
    assert.equal(e1.extra[0][0], "mail_update.security");
    const e2 = await rpcError(admin.call("mail.update", { smtp: true, user: null }));
    assert.deepEqual(e2.codes, ["mail.user_required"]);
    const e3 = await rpcError(admin.call("mail.update", { outgoingserver: "bad host\r\nRCPT TO:x" }));
    assert.equal(e3.extra[0][0], "mail_update.outgoingserver");
    const e4 = await rpcError(admin.call("mail.update", { port: 0 }));
    assert.equal(e4.extra[0][0], "mail_update.port");
  });

  it("PLAIN without and with SMTP auth; a wrong login is mail.auth_refused", async () => {
    const open = await smtp();
    await configureMail(admin, open.port);
    assert.equal(await admin.call("mail.send", MSG), true);
    const m = await open.waitFor((x) => x.subject === MSG.subject);
    assert.deepEqual(m.to, ["alice@example.test"]);
    assert.equal(m.from, "gatehouse@example.test");
    assert.match(m.raw, /^From: Gatehouse <gatehouse@example.test>/m);
    assert.equal(m.secure, false);

    const authed = await smtp({ auth: { user: "mailer", pass: "right-pass" } });
    await configureMail(admin, authed.port, { smtp: true, user: "mailer", pass: "right-pass" });
    await admin.call("mail.send", { ...MSG, subject: "authed" });
    assert.equal((await authed.waitFor((x) => x.subject === "authed")).user, "mailer");
    await admin.call("mail.update", { pass: "wrong-pass" });
    const e = await rpcError(admin.call("mail.send", MSG));
    assert.equal(e.errorCode, "mail.auth_refused");
    assert.match(e.message, /refused the login/);
    assert.ok(!e.message.includes("wrong-pass"));
  });

  it("SSL and STARTTLS verify the server against the registered CAs, with and without auth", async () => {
    const ssl = await smtp({ tls: "implicit", key: certs.key, cert: certs.cert });
    const starttls = await smtp({ tls: "starttls", key: certs.key, cert: certs.cert, auth: { user: "tlsuser", pass: "tls-pass" } });
    await configureMail(admin, ssl.port, { security: "SSL" });
    // No CA registered yet: the certificate is not trusted.
    assert.equal((await rpcError(admin.call("mail.send", MSG))).errorCode, "mail.tls_failed");
    const ca = await ts.app.store.db.insertInto("certificate_authorities").values({ name: "mail test CA", certificate: certs.caPem, created_at: Date.now() }).returning("id").executeTakeFirstOrThrow();
    try {
      await admin.call("mail.send", { ...MSG, subject: "over ssl" });
      assert.equal((await ssl.waitFor((x) => x.subject === "over ssl")).secure, true);
      await configureMail(admin, starttls.port, { security: "TLS", smtp: true, user: "tlsuser", pass: "tls-pass", outgoingserver: "localhost" });
      await admin.call("mail.send", { ...MSG, subject: "over starttls" });
      const m = await starttls.waitFor((x) => x.subject === "over starttls");
      assert.equal(m.secure, true);
      assert.equal(m.user, "tlsuser");
      // STARTTLS required: a server that does not offer it is refused, never used in plain text.
      const plainOnly = await smtp();
      await configureMail(admin, plainOnly.port, { security: "TLS" });
      assert.equal((await rpcError(admin.call("mail.send", MSG))).errorCode, "mail.tls_failed");
      assert.equal(plainOnly.received.length, 0);
      // A self-signed server no registered CA vouches for.
      const self = await smtp({ tls: "implicit", key: certs.selfKey, cert: certs.selfCert });
      await configureMail(admin, self.port, { security: "SSL" });
      assert.equal((await rpcError(admin.call("mail.send", MSG))).errorCode, "mail.tls_failed");
    } finally {
      await ts.app.store.db.deleteFrom("certificate_authorities").where("id", "=", ca.id).execute();
    }
  });

  it("clear reasons: unreachable server, refused recipient; a config override is tried without saving", async () => {
    // A port nothing listens on.
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, "127.0.0.1", () => r()));
    const dead = (probe.address() as { port: number }).port;
    await new Promise<void>((r) => probe.close(() => r()));
    await configureMail(admin, dead);
    const e = await rpcError(admin.call("mail.send", MSG));
    assert.equal(e.errorCode, "mail.unreachable");
    assert.match(e.message, /could not be reached/);

    const picky = await smtp({ refuse: /^nobody@/ });
    const r = await rpcError(admin.call("mail.send", { ...MSG, to: ["nobody@example.test"] }, { port: picky.port }));
    assert.equal(r.errorCode, "mail.recipient_refused");
    assert.equal((await admin.call<any>("mail.config")).port, dead, "the override was not saved");
    await admin.call("mail.send", { ...MSG, subject: "override" }, { port: picky.port });
    await picky.waitFor((x) => x.subject === "override");
    // No recipient and no address of one's own.
    assert.equal((await rpcError(admin.call("mail.send", { subject: "x", text: "y" }))).errorCode, "mail.no_recipient");
  });

  it("roles: READONLY_ADMIN reads the settings and the queue only; MAIL_WRITE may send", async () => {
    const { client: ro } = await clientWithRoles(ts, ["READONLY_ADMIN"]);
    assert.equal((await ro.call<any>("mail.config")).id, 1);
    assert.ok(Array.isArray(await ro.call("mail.queue")));
    assert.equal((await rpcError(ro.call("mail.update", { port: 25 }))).errname, "EACCES");
    assert.equal((await rpcError(ro.call("mail.send", MSG))).errname, "EACCES");
    const { client: mw } = await clientWithRoles(ts, ["MAIL_WRITE"]);
    const s = await smtp();
    await configureMail(mw, s.port);
    await mw.call("mail.send", { ...MSG, subject: "by mail writer" });
    await s.waitFor((x) => x.subject === "by mail writer");
  });
});
