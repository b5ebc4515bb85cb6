// Account enumeration while the directory is down (issue 12): an unknown name's password login
// asks the directory, which cannot be reached, and answers `ldap.unavailable`; a local account's
// wrong password must answer the same — same error code, same message, an audit entry, about the
// same time — or an attacker learns which local names exist by signing in during an outage. A local
// account with its right password still signs in; its wrong passwords still count towards its
// lock-out (an outage must not open a window for guessing local passwords).

import { after, before, it } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { forEachStore, type TestServer } from "../harness.js";
import { lastAudit, makeUser, startAsAdmin, type TestUser } from "../auth-helpers.js";
import { freePort } from "../slapd-harness.js";
import type { RpcClient } from "../../src/cli/client.js";

type Answer = { kind: "response"; type: string } | { kind: "error"; code: string; message: string };

forEachStore("ldap outage enumeration", (store) => {
  let ts: TestServer;
  let a: RpcClient;
  let local: TestUser;
  before(async () => {
    ({ ts, a } = await startAsAdmin(store));
    local = await makeUser(ts, { roles: ["READONLY_ADMIN"] });
  });
  after(() => ts.stop());

  async function attempt(username: string, password: string): Promise<{ answer: Answer; ms: number }> {
    const c = await ts.client();
    const t0 = process.hrtime.bigint();
    try {
      const r = await c.login(username, password);
      return { answer: { kind: "response", type: r.response_type }, ms: Number(process.hrtime.bigint() - t0) / 1e6 };
    } catch (err) {
      const e = err as { codes?: string[]; data?: { code?: string }; message: string };
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      return { answer: { kind: "error", code: e.codes?.[0] ?? e.data?.code ?? "", message: e.message }, ms };
    } finally {
      await c.close();
    }
  }
  const failures = async (name: string) => Number((await ts.app.store.db.selectFrom("counters").select("count").where("key", "=", `acct:${name}`).executeTakeFirst())?.count ?? 0);
  const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;

  async function configureServers(list: Record<string, unknown>[]): Promise<void> {
    for (const s of await a.call<any[]>("ldap.server.query")) await a.call("ldap.server.delete", s.id);
    for (const s of list) await a.call("ldap.server.create", s);
  }

  for (const mode of ["indirect", "direct"] as const) {
    it(`${mode} bind, directory refusing connections: a local name's wrong password answers exactly like an unknown name`, async () => {
      const port = await freePort();
      const hostname = `127.0.0.1:${port}`;
      const base = { hostname, domain: "ou=people,dc=example,dc=test", group_domain: "ou=groups,dc=example,dc=test", connect_timeout: 1, timeout: 2 };
      await configureServers([mode === "indirect" ? { ...base, bind_dn: "cn=reader,dc=example,dc=test", bind_password: "reader-pw" } : base]);
      try {
        const unknownTimes: number[] = [];
        const localTimes: number[] = [];
        for (let i = 0; i < 5; i++) {
          const unknown = await attempt(`nobody-${mode}-${i}`, "some-Password-1");
          const known = await attempt(local.username, "not-the-Password-1");
          assert.equal(unknown.answer.kind, "error", JSON.stringify(unknown.answer));
          assert.deepEqual(known.answer, unknown.answer, "same code and message for a local and an unknown name");
          assert.equal((known.answer as { code: string }).code, "ldap.unavailable");
          assert.ok((known.answer as { message: string }).message.includes(hostname));
          unknownTimes.push(unknown.ms);
          localTimes.push(known.ms);
        }
        // The same work on both sides (a password hash check, the directory's connection attempts):
        // the medians stay within what scheduling noise on a loaded machine makes of them.
        const gap = Math.abs(median(localTimes) - median(unknownTimes));
        assert.ok(gap < 150, `medians: local ${median(localTimes).toFixed(1)} ms, unknown ${median(unknownTimes).toFixed(1)} ms`);
        // Both are audited as failed logins naming the outage.
        for (const name of [local.username, `nobody-${mode}-4`]) {
          const entry = await lastAudit(ts, (e) => e.event === "AUTHENTICATION" && e.username === name);
          assert.ok(entry && !entry.success && /directory could not be reached/.test(entry.event_data.error), name);
        }
        // With the limiter on (tests exempt loopback callers): a local password guessed during the
        // outage still counts towards the account's lock-out; an unknown name (perhaps a directory
        // user's) is not counted, as documented (docs/departures.md says what this leaves).
        ts.app.rateLimitLoopbackExempt = false;
        try {
          const localBefore = await failures(local.username);
          assert.equal((await attempt(local.username, "not-the-Password-1")).answer.kind, "error");
          assert.equal((await attempt(`nobody-${mode}-counted`, "some-Password-1")).answer.kind, "error");
          assert.equal(await failures(local.username), localBefore + 1);
          assert.equal(await failures(`nobody-${mode}-counted`), 0);
        } finally {
          ts.app.rateLimitLoopbackExempt = true;
          await ts.app.store.db.deleteFrom("counters").execute();
        }
        // The local account's right password still signs in while the directory is down.
        assert.deepEqual((await attempt(local.username, local.password)).answer, { kind: "response", type: "SUCCESS" });
      } finally {
        await configureServers([]);
      }
    });
  }

  it("a directory that answers no LDAP (a server that closes every connection): the same answer for both", async () => {
    const trap = net.createServer((s) => s.destroy());
    await new Promise<void>((r) => trap.listen(0, "127.0.0.1", r));
    try {
      const hostname = `127.0.0.1:${(trap.address() as net.AddressInfo).port}`;
      await configureServers([{ hostname, domain: "ou=people,dc=example,dc=test", bind_dn: "cn=reader,dc=example,dc=test", bind_password: "reader-pw", connect_timeout: 1, timeout: 2 }]);
      const unknown = await attempt("nobody-trap", "some-Password-1");
      const known = await attempt(local.username, "not-the-Password-1");
      assert.equal(unknown.answer.kind, "error");
      assert.deepEqual(known.answer, unknown.answer);
    } finally {
      await configureServers([]);
      await new Promise<void>((r) => trap.close(() => r()));
    }
  });

  it("without a directory a local name's wrong password answers AUTH_ERR, as an unknown name does", async () => {
    assert.deepEqual((await attempt(local.username, "not-the-Password-1")).answer, { kind: "response", type: "AUTH_ERR" });
    assert.deepEqual((await attempt("nobody-at-all", "not-the-Password-1")).answer, { kind: "response", type: "AUTH_ERR" });
  });
});
