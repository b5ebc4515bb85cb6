// Threat: escalating fleet access through the grant machinery (issue 11 point 1; docs/security/
// fleet-grant-escalation.md). Nobody grants what they do not hold:
// - a FLEET_WRITE caller who is not an administrator holds only the access it was granted, and may
//   pass on, change or take away only that — through a team's grants, its members, a system
//   group's systems, a user's own grants or teams, or a delete;
// - an ACCOUNT_WRITE caller without FLEET_WRITE may not set any fleet field of a user;
// - a fleet user (signed in on fleet access alone) reaches nothing but its own account and the
//   fleet methods marked for it: its own sessions and API keys are listed to it (also to a session
//   of its unlimited API key), and it ends its own sessions, nobody else's.

import { after, before, it } from "node:test";
import assert from "node:assert/strict";
import { forEachStore, rpcError, type TestServer } from "../harness.js";
import { PASSWORD, loginAs, makeAdmin, makeUser, randomName, start, type TestUser } from "../auth-helpers.js";
import type { RpcClient } from "../../src/cli/client.js";
import { addSystem } from "../fleet-access-helpers.js";

forEachStore("fleet grant escalation", (store) => {
  let ts: TestServer;
  let a: RpcClient;
  let fw: RpcClient; // FLEET_WRITE, not an administrator
  let fwUser: TestUser;
  let aw: RpcClient; // ACCOUNT_WRITE only
  let held: number; // fw holds READ_WRITE here
  let readOnly: number; // fw holds READ here
  let foreign: number; // fw holds nothing here
  let victim: TestUser;

  before(async () => {
    ts = await start(store);
    a = await loginAs(ts, await makeAdmin(ts));
    held = await addSystem(ts);
    readOnly = await addSystem(ts);
    foreign = await addSystem(ts);
    fwUser = await makeUser(ts, { roles: ["FLEET_WRITE", "ACCOUNT_READ"] });
    await a.call("user.update", fwUser.id, {
      systems: [
        { system: held, access: "READ_WRITE" },
        { system: readOnly, access: "READ" },
      ],
    });
    fw = await loginAs(ts, fwUser);
    aw = await loginAs(ts, await makeUser(ts, { roles: ["ACCOUNT_WRITE"] }));
    victim = await makeUser(ts);
  });
  after(() => ts.stop());

  const code = async (p: Promise<unknown>) => (await rpcError(p)).data?.code;

  it("a FLEET_WRITE caller grants what it holds, and nothing more", async () => {
    const ok = await fw.call<any>("team.create", {
      name: randomName("t"),
      members: [victim.id],
      systems: [
        { system: held, access: "READ_WRITE" },
        { system: readOnly, access: "READ" },
      ],
    });
    assert.deepEqual(ok.members, [victim.id]);
    assert.equal(await code(fw.call("team.create", { name: randomName("t"), members: [victim.id], systems: [{ system: foreign, access: "READ" }] })), "fleet.access_not_held");
    assert.equal(await code(fw.call("team.create", { name: randomName("t"), members: [victim.id], systems: [{ system: readOnly, access: "READ_WRITE" }] })), "fleet.access_not_held");
    // Raising an existing grant, or adding the victim to a team that holds more.
    assert.equal(await code(fw.call("team.update", ok.id, { systems: [{ system: readOnly, access: "READ_WRITE" }] })), "fleet.access_not_held");
    const richTeam = await a.call<any>("team.create", { name: randomName("t"), systems: [{ system: foreign, access: "READ_WRITE" }] });
    assert.equal(await code(fw.call("team.update", richTeam.id, { members: [victim.id] })), "fleet.access_not_held");
    assert.equal(await code(fw.call("user.update", victim.id, { teams: [richTeam.id] })), "fleet.access_not_held");
    // A team without members changes nobody's access: its grants may be edited, but not joined.
    assert.ok(await fw.call("team.update", richTeam.id, { name: randomName("t") }));
    // A user's own grants.
    assert.ok(await fw.call("user.update", victim.id, { systems: [{ system: held, access: "READ" }] }));
    assert.equal(await code(fw.call("user.update", victim.id, { systems: [{ system: foreign, access: "READ" }] })), "fleet.access_not_held");
    // Nothing was written by the refused calls.
    const v = await a.call<any>("user.get_instance", victim.id);
    assert.deepEqual(v.systems, [{ system: held, access: "READ" }]);
    assert.deepEqual(v.teams, [ok.id]);
  });

  it("a system group's members: adding a system extends every grant on the group", async () => {
    const g = await a.call<any>("fleet.system_group.create", { name: randomName("g"), systems: [held] });
    await a.call("team.create", { name: randomName("t"), members: [victim.id], system_groups: [{ system_group: g.id, access: "READ_WRITE" }] });
    assert.equal(await code(fw.call("fleet.system_group.update", g.id, { systems: [held, foreign] })), "fleet.access_not_held");
    assert.equal(await code(fw.call("fleet.system_group.update", g.id, { systems: [held, readOnly] })), "fleet.access_not_held");
    assert.deepEqual((await a.call<any>("fleet.system_group.get_instance", g.id)).systems, [held]);
    // Deleting a grant it does not hold is taking away what it does not hold.
    const g2 = await a.call<any>("fleet.system_group.create", { name: randomName("g"), systems: [foreign] });
    await a.call("user.update", victim.id, { system_groups: [{ system_group: g2.id, access: "READ" }] });
    assert.equal(await code(fw.call("fleet.system_group.delete", g2.id)), "fleet.access_not_held");
    const t = await a.call<any>("team.create", { name: randomName("t"), members: [victim.id], systems: [{ system: foreign, access: "READ" }] });
    assert.equal(await code(fw.call("team.delete", t.id)), "fleet.access_not_held");
  });

  it("ACCOUNT_WRITE without FLEET_WRITE may not set any fleet field", async () => {
    const team = await a.call<any>("team.create", { name: randomName("t"), systems: [{ system: foreign, access: "READ_WRITE" }] });
    for (const [field, value] of [
      ["systems", [{ system: foreign, access: "READ_WRITE" }]],
      ["system_groups", []],
      ["teams", [team.id]],
    ] as const) {
      assert.equal(await code(aw.call("user.update", victim.id, { [field]: value })), "access.field_role_required", field);
      const n = randomName("u");
      assert.equal(await code(aw.call("user.create", { username: n, full_name: n, password: PASSWORD, group_create: true, [field]: value })), "access.field_role_required", field);
      assert.equal((await a.call<any[]>("user.query", [["username", "=", n]])).length, 0);
    }
    // Its other fields stay its own; a FLEET_WRITE caller may not touch them.
    assert.ok(await aw.call("user.update", victim.id, { full_name: "Victim" }));
    assert.equal(await code(fw.call("user.update", victim.id, { full_name: "Mallory" })), "access.field_role_required");
    assert.equal((await a.call<any>("user.get_instance", victim.id)).teams.includes(team.id), false);
    // Nor may it lift a login lock-out: a fleet-only update leaves the account's failure counters.
    const { username: name, teams } = await a.call<any>("user.get_instance", victim.id);
    const db = ts.app.store.db;
    await db
      .insertInto("counters")
      .values({ key: `acct:${name}`, count: 9, window_start: Date.now(), locked_until: null })
      .execute();
    await fw.call("user.update", victim.id, { teams });
    assert.equal((await db.selectFrom("counters").select("count").where("key", "=", `acct:${name}`).executeTakeFirst())?.count, 9, "fleet-only update keeps the lock-out");
    await aw.call("user.update", victim.id, { full_name: "Victim again" });
    assert.equal(await db.selectFrom("counters").select("count").where("key", "=", `acct:${name}`).executeTakeFirst(), undefined, "an account update clears it");
  });

  it("a fleet user reaches nothing else", async () => {
    const u = await makeUser(ts);
    await a.call("user.update", u.id, { systems: [{ system: held, access: "READ_WRITE" }] });
    const c = await loginAs(ts, u);
    // What a fleet user may call at all: its own session, account, second factor and keys, and the
    // fleet methods that confine themselves to the systems it may see.
    const own =
      /^(core\.|auth\.|api_key\.(create|update|delete|revoke|my_keys)$|user\.(set_password|renew_2fa_secret|stage_2fa_secret|confirm_2fa_secret|verify_email|set_twofactor_method)$|fleet\.(system\.(query|get_instance|status)|call|access\.explain)$)/;
    const marked = ts.app.registry
      .all()
      .filter((d) => d.fleetUser && d.authenticationRequired)
      .map((d) => d.name);
    assert.deepEqual(
      marked.filter((n) => !own.test(n)),
      [],
      "methods marked for fleet users",
    );
    for (const def of ts.app.registry.all()) {
      if (def.fleetUser || !def.authenticationRequired) continue;
      const err = await rpcError(c.call(def.name, ...Array(def.args.length + 1).fill(null)));
      assert.equal(err.data?.code, "core.not_authorized", def.name);
    }
    // Its own account only, even through the methods it may call.
    assert.match((await rpcError(c.call("user.set_password", { username: victim.username, old_password: "x", new_password: PASSWORD }))).data?.errname ?? "", /^(EACCES|EPERM)$/);
    assert.match((await rpcError(c.call("api_key.create", { name: randomName("k"), username: victim.username }))).data?.errname ?? "", /^(EACCES|EPERM)$/);
    assert.equal((await rpcError(c.call("fleet.access.explain", victim.username, held))).data?.code, "access.target_not_authorized");
  });

  it("a fleet user lists only its own sessions and keys, and cannot reach another user's", async () => {
    const u = await makeUser(ts);
    const other = await makeUser(ts);
    for (const x of [u, other]) await a.call("user.update", x.id, { systems: [{ system: held, access: "READ" }] });
    const c1 = await loginAs(ts, u);
    const c2 = await loginAs(ts, u);
    const o = await loginAs(ts, other);

    // Sessions: its own two (this one marked current), never another account's, whatever the filter.
    const mine = await c1.call<any[]>("auth.sessions");
    assert.ok(mine.length >= 2, `${mine.length} sessions`);
    assert.deepEqual([...new Set(mine.map((s) => s.credentials_data.username))], [u.username]);
    assert.equal(mine.filter((s) => s.current).length, 1);
    assert.deepEqual(await c1.call("auth.sessions", [["credentials_data.username", "=", other.username]]), []);
    assert.equal(await c1.call("auth.sessions", [], { count: true }), mine.length);
    const otherSession = (await a.call<any[]>("auth.sessions", [["credentials_data.username", "=", other.username]]))[0];
    assert.ok(otherSession, "the administrator sees the other account's session");
    // Another account's session: false, as an unknown id, and it stays open.
    assert.equal(await c2.call("auth.terminate_session", otherSession.id), false);
    assert.equal(await c2.call("auth.terminate_session", "no-such-session"), false);
    assert.equal((await o.call<any>("auth.me")).pw_name, other.username);

    // Keys: it may own keys (to script its fleet calls), lists only its own, deletes only its own.
    const own = await c1.call<any>("api_key.create", { name: randomName("k"), username: u.username });
    const theirs = await o.call<any>("api_key.create", { name: randomName("k"), username: other.username });
    const listed = await c1.call<any[]>("api_key.my_keys");
    assert.deepEqual(
      listed.map((k) => k.id),
      [own.id],
    );
    assert.equal(listed[0].keyhash, "********", "key secrets stay redacted for their owner");
    assert.deepEqual(
      (await o.call<any[]>("api_key.my_keys")).map((k) => k.id),
      [theirs.id],
    );
    assert.match((await rpcError(c1.call("api_key.delete", theirs.id))).data?.errname ?? "", /^(EACCES|EPERM)$/);
    assert.match((await rpcError(c1.call("api_key.update", theirs.id, { name: randomName("k") }))).data?.errname ?? "", /^(EACCES|EPERM)$/);
    assert.match((await rpcError(c1.call("api_key.revoke", theirs.id))).data?.errname ?? "", /^(EACCES|EPERM)$/);
    assert.equal((await rpcError(c1.call("api_key.query"))).data?.code, "core.not_authorized");

    // The key signs in as the fleet user: fleet methods answer; listings need a session of its own.
    const byKey = await ts.client();
    assert.equal((await byKey.loginApiKey(own.key)).response_type, "SUCCESS");
    assert.deepEqual(
      (await byKey.call<any[]>("fleet.system.query")).map((s) => s.id),
      [held],
    );
    // A key not limited to roles acts as its owner: it lists its owner's own keys and sessions
    // (the reference's API-key sessions are user sessions), never another account's.
    assert.deepEqual(
      (await byKey.call<any[]>("api_key.my_keys")).map((k) => k.id),
      [own.id],
    );
    assert.deepEqual([...new Set((await byKey.call<any[]>("auth.sessions")).map((s) => s.credentials_data.username))], [u.username]);
    assert.deepEqual(await byKey.call("auth.sessions", [["credentials_data.username", "=", other.username]]), []);
    // ... but acting on them takes a session of its own (as managing keys does): no key session ends sessions.
    const [c1Session] = await c1.call<any[]>("auth.sessions", [["current", "=", true]]);
    assert.equal((await rpcError(byKey.call("auth.terminate_session", c1Session.id))).data?.code, "access.target_not_authorized");
    assert.equal((await rpcError(byKey.call("auth.terminate_other_sessions"))).data?.code, "access.target_not_authorized");
    // A key limited to roles (here: none) stays within them, own rows included.
    const limited = await c1.call<any>("api_key.create", { name: randomName("k"), username: u.username, roles: [] });
    const byLimited = await ts.client();
    assert.equal((await byLimited.loginApiKey(limited.key)).response_type, "SUCCESS");
    assert.equal((await rpcError(byLimited.call("api_key.my_keys"))).data?.code, "access.target_not_authorized");
    assert.equal((await rpcError(byLimited.call("auth.sessions"))).data?.code, "access.target_not_authorized");
    assert.equal(await c1.call("api_key.delete", limited.id), true);
    assert.equal(await c1.call("api_key.delete", own.id), true);
    assert.deepEqual(await c1.call("api_key.my_keys"), []);
  });

  it("a fleet user ends its own other sessions, never another account's", async () => {
    const u = await makeUser(ts);
    const other = await makeUser(ts);
    for (const x of [u, other]) await a.call("user.update", x.id, { systems: [{ system: held, access: "READ" }] });
    const c1 = await loginAs(ts, u);
    const c2 = await loginAs(ts, u);
    const c3 = await loginAs(ts, u);
    const o = await loginAs(ts, other);
    const [s2] = await c2.call<any[]>("auth.sessions", [["current", "=", true]]);

    // One of its own sessions, by id: that connection closes, the others stay.
    const c2Closed = new Promise<void>((res) => c2.ws.once("close", () => res()));
    assert.equal(await c1.call("auth.terminate_session", s2.id), true);
    await c2Closed;
    assert.ok(!(await c1.call<any[]>("auth.sessions")).some((s) => s.id === s2.id));
    assert.equal(await c1.call("auth.terminate_session", s2.id), false, "already ended");

    // Every other own session: c3 closes; the other account's session and the caller's stay open.
    const c3Closed = new Promise<void>((res) => c3.ws.once("close", () => res()));
    assert.equal(await c1.call("auth.terminate_other_sessions"), true);
    await c3Closed;
    const left = await c1.call<any[]>("auth.sessions");
    assert.deepEqual(
      left.map((s) => s.current),
      [true],
    );
    assert.equal((await o.call<any>("auth.me")).pw_name, other.username);
    assert.ok((await a.call<any[]>("auth.sessions", [["credentials_data.username", "=", other.username]])).length >= 1);
  });
});
