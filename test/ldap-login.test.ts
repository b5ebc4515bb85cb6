// Directory logins against a real slapd with TLS (issue 12 acceptance): direct and indirect bind,
// wrong/empty password, unknown user, certificate verification with and without the CA
// registered, verify off with a self-signed server, several servers with the first down or
// hanging (no lock-out counted), user creation on and off, uidNumber 0 or colliding, group → team
// and privilege mapping including removal, the dry-run sync, ldap.server.test and test_login.

import { after, before, beforeEach, it } from "node:test";
import assert from "node:assert/strict";
import { Client } from "ldapts";
import { forEachStore, rpcError, type TestServer } from "./harness.js";
import { startAsAdmin } from "./auth-helpers.js";
import { BASE_DN, BIND_DN, BIND_PASSWORD, BULK_USERS, GROUP, GROUPS_DN, PEOPLE, PEOPLE_DN, freePort, hangingServer, selfSignedFront, startSlapd, userDn, type Slapd } from "./slapd-harness.js";
import type { RpcClient } from "../src/cli/client.js";

let slapd: Slapd;
before(async () => {
  slapd = await startSlapd();
});
after(async () => {
  await slapd?.stop();
});

/** Change a group's members as the rootdn (the directory changes between logins). */
async function setMembers(groupDn: string, members: string[]): Promise<void> {
  const c = new Client({ url: `ldaps://127.0.0.1:${slapd.ldapsPort}`, tlsOptions: { ca: [slapd.caPem] } });
  try {
    await c.bind(`cn=admin,${BASE_DN}`, "adminpw");
    const { Change, Attribute } = await import("ldapts");
    await c.modify(groupDn, new Change({ operation: "replace", modification: new Attribute({ type: "member", values: members }) }));
  } finally {
    await c.unbind();
  }
}

forEachStore("ldap logins", (store) => {
  let ts: TestServer;
  let a: RpcClient;
  before(async () => {
    ({ ts, a } = await startAsAdmin(store));
    // Every test user's primary gidNumber is 100: a harmless role lets them sign in (no role and no
    // fleet access answers DENIED); READONLY_ADMIN comes only through cn=admins (mapping test).
    await a.call("privilege.create", { name: "ldap-base", ds_groups: [100], roles: ["CERTIFICATE_READ"], web_shell: false });
  });
  after(() => ts.stop());

  const indirect = (over: Record<string, unknown> = {}) => ({
    hostname: `127.0.0.1:${slapd.ldapsPort}`,
    domain: BASE_DN,
    group_domain: GROUPS_DN,
    bind_dn: BIND_DN,
    bind_password: BIND_PASSWORD,
    connect_timeout: 1,
    timeout: 3,
    ...over,
  });
  const direct = (over: Record<string, unknown> = {}) => indirect({ domain: PEOPLE_DN, bind_dn: "", bind_password: "", ...over });

  async function servers(...list: Record<string, unknown>[]): Promise<any[]> {
    for (const s of await a.call<any[]>("ldap.server.query")) await a.call("ldap.server.delete", s.id);
    const out = [];
    for (const s of list) out.push(await a.call<any>("ldap.server.create", s));
    return out;
  }
  async function login(username: string, password: string): Promise<string> {
    const c = await ts.client();
    const r = await c.login(username, password);
    await c.close();
    return r.response_type;
  }
  const localUser = async (username: string) => (await a.call<any[]>("user.query", [["username", "=", username]]))[0];
  async function dropLocal(...names: string[]): Promise<void> {
    for (const n of names) {
      const u = await localUser(n);
      if (u) await a.call("user.delete", u.id, { delete_group: true });
    }
  }

  beforeEach(async () => {
    await a.call("ldap.update", { allow_user_creation: true, join_teams: [], team_mappings: [] });
    await dropLocal("alice", "bob", "carol", "zero", "collide", "jsmith");
  });

  it("direct bind over LDAPS: creates the record at first login; wrong, empty password and unknown user refused", async () => {
    await servers(direct());
    assert.equal(await login("alice", PEOPLE.alice.password), "SUCCESS");
    const u = await localUser("alice");
    assert.equal(u.source, "LDAP");
    assert.equal(u.local, false);
    assert.equal(u.uid, 5001);
    assert.equal(u.home, "/var/empty");
    assert.equal((await ts.app.store.db.selectFrom("users").select("unixhash").where("id", "=", u.id).executeTakeFirstOrThrow()).unixhash, "*");
    assert.equal(await login("alice", "wrong"), "AUTH_ERR");
    assert.equal(await login("alice", ""), "AUTH_ERR");
    assert.equal(await login("nobody-here", "x-pass"), "AUTH_ERR");
    assert.equal(await localUser("nobody-here"), undefined);
    // Directory users are queryable by source (the users page's Directory Services filter).
    assert.ok((await a.call<any[]>("user.query", [["source", "=", "LDAP"]])).some((x) => x.username === "alice"));
  });

  it("an empty password is refused before any connection to the directory", async () => {
    let connections = 0;
    const trap = (await import("node:net")).createServer((sock) => {
      connections++;
      sock.destroy();
    });
    await new Promise<void>((r) => trap.listen(0, "127.0.0.1", r));
    try {
      const port = (trap.address() as { port: number }).port;
      await servers(direct({ hostname: `127.0.0.1:${port}` }), indirect({ hostname: `127.0.0.1:${port}`, bind_password: "" }));
      assert.equal(await login("alice", ""), "AUTH_ERR");
      assert.equal(connections, 0, "no connection for an empty password");
      // A non-empty one does go to the directory (here: an outage, answered as such).
      const e = await rpcError(ts.client().then((c) => c.login("alice", "something")));
      assert.equal(e.codes?.[0] ?? e.data?.code, "ldap.unavailable");
      assert.ok(connections > 0);
    } finally {
      await new Promise<void>((r) => trap.close(() => r()));
    }
  });

  it("indirect bind over StartTLS (bind account, not the rootdn); a DN with a comma; anonymous search with an empty bind password", async () => {
    await servers(indirect({ hostname: `127.0.0.1:${slapd.ldapPort}`, security: "STARTTLS" }));
    assert.equal(await login("bob", PEOPLE.bob.password), "SUCCESS");
    assert.equal(await login("bob", "nope"), "AUTH_ERR");
    assert.equal(await login("jsmith", PEOPLE.jsmith.password), "SUCCESS");
    assert.equal(userDn("jsmith"), `cn=Smith\\, John,${PEOPLE_DN}`);
    // A bind DN with an empty password: an anonymous search, never an unauthenticated bind.
    await servers(indirect({ bind_password: "" }));
    assert.equal(await login("carol", PEOPLE.carol.password), "SUCCESS");
    assert.equal(await login("carol", ""), "AUTH_ERR");
  });

  it("creation off: refused without a local record; a pre-created directory user signs in", async () => {
    await servers(indirect());
    await a.call("ldap.update", { allow_user_creation: false });
    assert.equal(await login("carol", PEOPLE.carol.password), "AUTH_ERR");
    assert.equal(await localUser("carol"), undefined);
    const pre = await a.call<any>("user.create", { username: "carol", full_name: "Carol", source: "LDAP", group_create: true });
    assert.equal(pre.source, "LDAP");
    const pw = await rpcError(a.call("user.create", { username: "dave", full_name: "D", source: "LDAP", group_create: true, password: "Pass-word-123" }));
    assert.equal(pw.extra[0][0], "user_create.password");
    const upw = await rpcError(a.call("user.update", pre.id, { password: "Pass-word-123" }));
    assert.deepEqual([upw.extra[0][0], upw.codes[0]], ["user_update.password", "auth.directory_user_password"]);
    // Rights through fleet access or privileges: give it a directory-group privilege.
    await a.call("privilege.create", { name: "ldap-uniq", ds_groups: [GROUP.uniq], roles: ["READONLY_ADMIN"], web_shell: false });
    const c = await ts.client();
    assert.equal((await c.login("carol", PEOPLE.carol.password)).response_type, "SUCCESS");
    assert.ok(Array.isArray(await c.call("user.query", [], { limit: 1 })));
    await c.close();
  });

  it("groups through member, uniqueMember and memberUid; nested groups only when the server says so", async () => {
    const [s] = await servers(indirect({ group_domain: BASE_DN }));
    const groupsOf = async (name: string) => (await a.call<any>("ldap.server.test_login", name, PEOPLE[name as keyof typeof PEOPLE].password)).groups as string[];
    assert.deepEqual((await groupsOf("alice")).sort(), [GROUP.admins, GROUP.adOnly, GROUP.staff].sort());
    assert.deepEqual((await groupsOf("bob")).sort(), [GROUP.devs, GROUP.staff].sort());
    assert.deepEqual((await groupsOf("carol")).sort(), [GROUP.devs, GROUP.uniq, GROUP.otherStaff].sort());
    // dave is in cn=ad-only only through its memberOf attribute.
    assert.deepEqual(await groupsOf("dave"), [GROUP.adOnly]);
    await a.call("ldap.server.update", s.id, { nested_groups: true });
    assert.deepEqual((await groupsOf("alice")).sort(), [GROUP.admins, GROUP.adOnly, GROUP.staff, GROUP.parent].sort());
  });

  it("the optional LDAP username: a local name that differs from the directory's", async () => {
    await servers(indirect());
    const u = await a.call<any>("user.create", { username: "carol-here", full_name: "Carol", source: "LDAP", ldap_username: "carol", group_create: true });
    assert.equal(u.ldap_username, "carol");
    assert.equal(await login("carol-here", PEOPLE.carol.password), "SUCCESS");
    assert.equal(await login("carol-here", PEOPLE.bob.password), "AUTH_ERR");
    await a.call("user.update", u.id, { ldap_username: "bob" });
    assert.equal(await login("carol-here", PEOPLE.bob.password), "SUCCESS");
    await a.call("user.delete", u.id, { delete_group: true });
  });

  it("uidNumber 0 or colliding with a local uid is refused and a uid allocated instead", async () => {
    await servers(indirect());
    const local = await a.call<any>("user.create", { username: "uidholder", full_name: "U", uid: PEOPLE.collide.uidNumber, group_create: true, password: "Pass-word-123" });
    assert.equal(await login("zero", PEOPLE.zero.password), "SUCCESS");
    assert.equal(await login("collide", PEOPLE.collide.password), "SUCCESS");
    const zero = await localUser("zero");
    const collide = await localUser("collide");
    assert.ok(zero.uid >= 1000, `uid ${zero.uid}`);
    assert.notEqual(collide.uid, PEOPLE.collide.uidNumber);
    assert.ok(collide.uid >= 1000);
    await a.call("user.delete", local.id, { delete_group: true });
  });

  it("group → team and privilege mappings are applied at every login, removals included; local memberships kept", async () => {
    // Groups searched under the whole tree: cn=staff,ou=elsewhere is found too (and must not match cn=staff,ou=groups).
    await servers(indirect({ group_domain: BASE_DN }));
    const db = ts.app.store.db;
    const team = async (name: string) =>
      (
        await db
          .insertInto("teams")
          .values({ name: `${name}-${store}` })
          .returning("id")
          .executeTakeFirstOrThrow()
      ).id;
    const [tStaff, tAdmins, tJoin, tManual] = [await team("staff"), await team("admins"), await team("join"), await team("manual")];
    await a.call("ldap.update", {
      join_teams: [tJoin],
      team_mappings: [
        { group_dn: GROUP.staff, team_ids: [tStaff] },
        { group_dn: GROUP.admins.toUpperCase().replace("CN=", "cn = "), team_ids: [tAdmins] },
        { group_dn: GROUP.otherStaff, team_ids: [tManual] },
      ],
    });
    const priv = await a.call<any>("privilege.create", { name: `ldap-admins-${store}`, ds_groups: [GROUP.admins], roles: ["READONLY_ADMIN"], web_shell: false });
    const teamsOf = async (uid: number) =>
      (await db.selectFrom("team_members").select(["team_id", "origin"]).where("user_id", "=", uid).orderBy("team_id").execute()).map((r) => [r.team_id, r.origin]);

    const c = await ts.client();
    assert.equal((await c.login("alice", PEOPLE.alice.password)).response_type, "SUCCESS");
    assert.ok(Array.isArray(await c.call("user.query", [], { limit: 1 })), "READONLY_ADMIN through ds_groups (full DN)");
    await c.close();
    const alice = await localUser("alice");
    assert.deepEqual(await teamsOf(alice.id), [
      [tStaff, "LDAP"],
      [tAdmins, "LDAP"],
      [tJoin, "LOCAL"],
    ]);
    await db.insertInto("team_members").values({ team_id: tManual, user_id: alice.id, origin: "LOCAL" }).execute();

    // alice leaves admins in the directory: the LDAP-made membership and the privilege go.
    await setMembers(GROUP.admins, [userDn("bob")]);
    try {
      const c2 = await ts.client();
      assert.equal((await c2.login("alice", PEOPLE.alice.password)).response_type, "SUCCESS");
      assert.equal((await rpcError(c2.call("user.query", [], { limit: 1 }))).errname, "EACCES", "READONLY_ADMIN is gone");
      await c2.close();
      assert.deepEqual(await teamsOf(alice.id), [
        [tStaff, "LDAP"],
        [tJoin, "LOCAL"],
        [tManual, "LOCAL"],
      ]);
    } finally {
      await setMembers(GROUP.admins, [userDn("alice")]);
    }
    // carol is only in cn=staff,ou=elsewhere: the same first RDN never matches the staff mapping.
    assert.equal(await login("carol", PEOPLE.carol.password), "SUCCESS");
    assert.deepEqual(await teamsOf((await localUser("carol")).id), [
      [tJoin, "LOCAL"],
      [tManual, "LDAP"],
    ]);
    await a.call("privilege.delete", priv.id);
  });

  it("ldap.sync: the dry run previews, the real run applies; refused under direct bind", async () => {
    await servers(indirect());
    const db = ts.app.store.db;
    const t = (
      await db
        .insertInto("teams")
        .values({ name: `sync-${store}` })
        .returning("id")
        .executeTakeFirstOrThrow()
    ).id;
    assert.equal(await login("bob", PEOPLE.bob.password), "SUCCESS");
    const bob = await localUser("bob");
    await a.call("ldap.update", { team_mappings: [{ group_dn: GROUP.staff, team_ids: [t] }] });
    const preview = await a.callJob<any>("ldap.sync", true);
    assert.equal(preview.dry_run, true);
    assert.deepEqual(
      preview.changes.find((x: any) => x.username === "bob"),
      { username: "bob", add: [t], remove: [], error: null },
    );
    assert.equal((await db.selectFrom("team_members").selectAll().where("user_id", "=", bob.id).execute()).length, 0, "dry run changed nothing");
    const applied = await a.callJob<any>("ldap.sync", false);
    assert.deepEqual(applied.changes.find((x: any) => x.username === "bob")?.add, [t]);
    assert.equal((await db.selectFrom("team_members").selectAll().where("user_id", "=", bob.id).where("origin", "=", "LDAP").execute()).length, 1);
    await servers(direct());
    await assert.rejects(a.callJob("ldap.sync", true), /needs an LDAP server with a bind DN/);
  });

  it("verify SSL: fails with a certificate reason until the CA is registered; a self-signed server works only with verify off", async () => {
    await servers(indirect({ verify_ssl: true }));
    const e = await rpcError(ts.client().then((c) => c.login("alice", PEOPLE.alice.password)));
    assert.equal(e.data?.code ?? e.codes?.[0], "ldap.unavailable");
    const report = await a.call<any>("ldap.server.test", indirect({ verify_ssl: true }));
    assert.equal(report.ok, false);
    const tls = report.steps.find((s: any) => s.step === "TLS");
    assert.equal(tls.ok, false);
    assert.match(tls.message, /certificate/i);
    const ca = await a.call<any>("certificateauthority.import", { name: `ldap-ca-${store}`, certificate: slapd.caPem });
    try {
      await servers(indirect({ verify_ssl: true }));
      assert.equal(await login("alice", PEOPLE.alice.password), "SUCCESS");
      const front = await selfSignedFront(slapd.ldapPort);
      try {
        await servers(indirect({ hostname: `127.0.0.1:${front.port}`, verify_ssl: false }));
        assert.equal(await login("bob", PEOPLE.bob.password), "SUCCESS");
        const strict = await a.call<any>("ldap.server.test", indirect({ hostname: `127.0.0.1:${front.port}`, verify_ssl: true }));
        assert.match(strict.steps.find((s: any) => s.step === "TLS").message, /certificate/i);
      } finally {
        await front.close();
      }
    } finally {
      await a.call("certificateauthority.delete", ca.id);
    }
  });

  it("several servers: the first down or hanging — the login succeeds within the timeout and no failure is counted", async () => {
    const hang = await hangingServer();
    const db = ts.app.store.db;
    const failures = async (name: string) => (await db.selectFrom("counters").select("count").where("key", "=", `acct:${name}`).executeTakeFirst())?.count ?? 0;
    ts.app.rateLimitLoopbackExempt = false;
    try {
      const down = await freePort();
      await servers(indirect({ hostname: `127.0.0.1:${down}` }), indirect());
      assert.equal(await login("alice", PEOPLE.alice.password), "SUCCESS");
      await servers(indirect({ hostname: `127.0.0.1:${hang.port}`, connect_timeout: 1 }), indirect());
      // Bounded by the 1 s connect timeout, far below the 10 s operation timeout (a loaded machine
      // may add seconds, never ten).
      let t0 = Date.now();
      assert.equal(await login("bob", PEOPLE.bob.password), "SUCCESS");
      assert.ok(Date.now() - t0 < 6000, `took ${Date.now() - t0} ms`);
      // The hanging server is now skipped for a minute: the next login does not even connect to it.
      const seen = hang.connections();
      assert.equal(await login("bob", PEOPLE.bob.password), "SUCCESS");
      assert.equal(hang.connections(), seen, "the skipped server was not contacted");
      // StartTLS to a hanging server: the StartTLS exchange is bounded by the connect timeout too.
      await servers(indirect({ hostname: `127.0.0.1:${hang.port}`, security: "STARTTLS", connect_timeout: 1, timeout: 10 }), indirect());
      t0 = Date.now();
      assert.equal(await login("alice", PEOPLE.alice.password), "SUCCESS");
      assert.ok(Date.now() - t0 < 6000, `StartTLS: took ${Date.now() - t0} ms`);
      // Only the hanging server: an outage, answered as such and never counted as a wrong password.
      await servers(indirect({ hostname: `127.0.0.1:${hang.port}`, connect_timeout: 1 }));
      const before = await failures("bob");
      const e = await rpcError(ts.client().then((c) => c.login("bob", PEOPLE.bob.password)));
      assert.equal(e.codes?.[0] ?? e.data?.code, "ldap.unavailable");
      assert.equal(await failures("bob"), before);
      // A wrong password does count.
      await servers(indirect());
      assert.equal(await login("bob", "wrong-one"), "AUTH_ERR");
      assert.equal(Number(await failures("bob")), Number(before) + 1);
    } finally {
      ts.app.rateLimitLoopbackExempt = true;
      await hang.close();
    }
  });

  it("ldap.server.test reports each step (paged search past the 1,000 size limit); test_login shows the outcome and creates nothing", async () => {
    const [s] = await servers(indirect());
    assert.equal(s.bind_password_set, true);
    assert.equal("bind_password" in s, false);
    const r = await a.call<any>("ldap.server.test", { id: s.id });
    assert.equal(r.ok, true, JSON.stringify(r));
    assert.deepEqual(
      r.steps.map((x: any) => x.step),
      ["CONNECT", "TLS", "BIND", "SEARCH"],
    );
    const found = Number(/Found (\d+)/.exec(r.steps[3].message)?.[1]);
    assert.ok(found > 1000 && found >= BULK_USERS, r.steps[3].message);
    const badBind = await a.call<any>("ldap.server.test", { id: s.id, bind_password: "wrong" });
    assert.deepEqual(
      badBind.steps.map((x: any) => [x.step, x.ok]),
      [
        ["CONNECT", true],
        ["TLS", true],
        ["BIND", false],
      ],
    );
    const noPort = await a.call<any>("ldap.server.test", { hostname: `127.0.0.1:${await freePort()}`, domain: BASE_DN });
    assert.match(noPort.steps[0].message, /ECONNREFUSED/);

    const t = (
      await ts.app.store.db
        .insertInto("teams")
        .values({ name: `probe-${store}` })
        .returning("id")
        .executeTakeFirstOrThrow()
    ).id;
    await a.call("ldap.update", { team_mappings: [{ group_dn: GROUP.staff, team_ids: [t] }] });
    const probe = await a.call<any>("ldap.server.test_login", "alice", PEOPLE.alice.password);
    assert.equal(probe.ok, true);
    assert.equal(probe.dn, userDn("alice"));
    assert.ok(probe.groups.includes(GROUP.staff) && probe.groups.includes(GROUP.admins));
    assert.equal(probe.would_create, true);
    assert.deepEqual(
      probe.teams.map((x: any) => x.id),
      [t],
    );
    assert.equal(probe.uid, 5001);
    assert.equal(await localUser("alice"), undefined, "test_login created nothing");
    const wrong = await a.call<any>("ldap.server.test_login", "alice", "bad");
    assert.equal(wrong.ok, false);
    // The bind password is a secret argument: never in the audit trail.
    const audit = await ts.app.store.db.selectFrom("audit").select("event_data").where("event_data", "like", `%${BIND_PASSWORD}%`).execute();
    assert.equal(audit.length, 0);
  });
});
