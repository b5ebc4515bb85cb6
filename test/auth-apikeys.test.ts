// API keys (reference §6 as adapted by SPEC): format, storage, expiry, revocation, reset, the
// ownership rule, role limits, insecure transport, deleted owners.

import { after, before, it } from "node:test";
import assert from "node:assert/strict";
import { forEachStore, rpcError, type TestServer } from "./harness.js";
import { PASSWORD, clientFor, lastAudit, loginAs, makeUser, randomName, startAsAdmin, type TestUser } from "./auth-helpers.js";
import type { RpcClient } from "../src/cli/client.js";
import type { Connection } from "../src/server/connection.js";

forEachStore("api keys", (store) => {
  let ts: TestServer;
  let admin: TestUser;
  let a: RpcClient;
  before(async () => ({ ts, admin, a } = await startAsAdmin(store)));
  after(() => ts.stop());

  async function keyLogin(key: string, username = ""): Promise<{ client: RpcClient; r: any }> {
    const client = await ts.client();
    return { client, r: await client.loginApiKey(key, username) };
  }

  it("create shows the key once, stores only a salted hash, and logs in as API_KEY", async () => {
    const name = randomName();
    const created = await a.call("api_key.create", { name, username: admin.username });
    assert.match(created.key, new RegExp(`^${created.id}-[A-Za-z0-9]{64}$`));
    assert.equal(created.revoked, false);
    assert.equal(created.expires_at, null);
    assert.equal(created.local, true);
    assert.equal(created.username, admin.username);
    assert.equal(created.user_identifier, admin.id);
    assert.equal(created.roles, null);
    assert.ok(created.created_at instanceof Date);
    const row = await ts.app.store.db.selectFrom("api_keys").selectAll().where("id", "=", created.id).executeTakeFirstOrThrow();
    assert.ok(!JSON.stringify(row).includes(created.key.split("-")[1]));
    assert.match(row.keyhash, /^[0-9a-f]{64}$/);
    const listed = await a.call<any[]>("api_key.query", [["id", "=", created.id]]);
    assert.equal(listed[0].key, undefined);

    const { client, r } = await keyLogin(created.key, admin.username);
    assert.equal(r.response_type, "SUCCESS");
    assert.ok(r.user_info.account_attributes.includes("API_KEY"));
    const [s] = await client.call<any[]>("auth.sessions", [["current", "=", true]]);
    assert.equal(s.credentials, "API_KEY");
    assert.deepEqual(s.credentials_data.api_key, { id: created.id, name });
    // Username may be omitted; a wrong one fails; so does a wrong key.
    assert.equal((await keyLogin(created.key)).r.response_type, "SUCCESS");
    assert.equal((await keyLogin(created.key, "someone-else")).r.response_type, "AUTH_ERR");
    assert.equal((await keyLogin(`${created.id}-${"a".repeat(64)}`)).r.response_type, "AUTH_ERR");
    assert.equal((await keyLogin("garbage")).r.response_type, "AUTH_ERR");
    const bad = await lastAudit(ts, (e) => e.event === "AUTHENTICATION" && e.event_data.credentials.credentials_data.api_key === "<INVALID>");
    assert.ok(bad);
    // Deprecated login_with_api_key on an older endpoint.
    const { RpcClient } = await import("../src/cli/client.js");
    const old = await RpcClient.connect(ts.url.replace("/api/current", "/api/v25.10.0"));
    try {
      assert.equal(await old.call("auth.login_with_api_key", created.key), true);
    } finally {
      await old.close();
    }
    // Audit of create.
    const audit = await lastAudit(ts, (e) => e.event === "METHOD_CALL" && e.event_data.method === "api_key.create");
    assert.equal(audit.event_data.description, `Create API key ${name}`);
  });

  it("validation: name unique, user must exist and hold a role, expiry in the future", async () => {
    const name = randomName();
    await a.call("api_key.create", { name, username: admin.username });
    const e1 = await rpcError(a.call("api_key.create", { name, username: admin.username }));
    assert.deepEqual(e1.extra[0].slice(0, 2), ["api_key_create.name", "name must be unique"]);
    const e2 = await rpcError(a.call("api_key.create", { name: randomName(), username: "ghost" }));
    assert.deepEqual(e2.extra[0].slice(0, 2), ["api_key_create.username", "User does not exist."]);
    const plain = await makeUser(ts);
    const e3 = await rpcError(a.call("api_key.create", { name: randomName(), username: plain.username }));
    assert.deepEqual(e3.extra[0].slice(0, 2), ["api_key_create.username", "User lacks privilege role membership."]);
    const e4 = await rpcError(a.call("api_key.create", { name: randomName(), username: admin.username, expires_at: new Date(Date.now() - 1000) }));
    assert.deepEqual(e4.extra[0].slice(0, 2), ["api_key_create.expires_at", "Expiration date is in the past"]);
    const future = new Date(Date.now() + 86_400_000);
    const k = await a.call("api_key.create", { name: randomName(), username: admin.username, expires_at: future });
    assert.equal(k.expires_at.getTime(), future.getTime());
    const e5 = await rpcError(a.call("api_key.update", k.id, { expires_at: new Date(Date.now() - 1000) }));
    assert.equal(e5.extra[0][0], "api_key_update.expires_at");
    const e6 = await rpcError(a.call("api_key.get_instance", 999999));
    assert.equal(e6.code, -32602);
  });

  it("expired keys answer EXPIRED; revoked keys AUTH_ERR; reset issues a new key and lifts the revocation", async () => {
    const k = await a.call("api_key.create", { name: randomName(), username: admin.username, expires_at: new Date(Date.now() + 60_000) });
    await ts.app.store.db
      .updateTable("api_keys")
      .set({ expires_at: Date.now() - 1 })
      .where("id", "=", k.id)
      .execute();
    assert.equal((await keyLogin(k.key)).r.response_type, "EXPIRED");
    const expired = await lastAudit(ts, (e) => e.event === "AUTHENTICATION" && e.event_data.error === "Api key is expired");
    assert.ok(expired);
    await a.call("api_key.update", k.id, { expires_at: null });
    assert.equal((await keyLogin(k.key)).r.response_type, "SUCCESS");
    await ts.app.store.db.updateTable("api_keys").set({ revoked: 1, revoked_reason: "test" }).where("id", "=", k.id).execute();
    assert.equal((await keyLogin(k.key)).r.response_type, "AUTH_ERR");
    const reset = await a.call("api_key.update", k.id, { reset: true });
    assert.notEqual(reset.key, k.key);
    assert.equal(reset.revoked, false);
    assert.equal((await keyLogin(k.key)).r.response_type, "AUTH_ERR");
    assert.equal((await keyLogin(reset.key)).r.response_type, "SUCCESS");
    assert.equal(await a.call("api_key.delete", k.id), true);
    assert.equal((await keyLogin(reset.key)).r.response_type, "AUTH_ERR");
  });

  it("a key sent in clear over a non-loopback connection is revoked and answers EXPIRED", async () => {
    const k = await a.call("api_key.create", { name: randomName(), username: admin.username });
    const c = await ts.client();
    // Pretend the (not yet logged-in) connections came from another host over plain TCP.
    const conns = [...ts.app.auth.connections].filter((x: Connection) => !x.session);
    for (const x of conns) Object.defineProperty(x, "remoteAddress", { value: "10.9.8.7" });
    try {
      assert.equal((await c.loginApiKey(k.key)).response_type, "EXPIRED");
    } finally {
      for (const x of conns) Object.defineProperty(x, "remoteAddress", { value: "127.0.0.1" });
    }
    const entry = await a.call("api_key.get_instance", k.id);
    assert.equal(entry.revoked, true);
    assert.equal(entry.revoked_reason, "Attempt to use over an insecure transport");
    assert.equal((await keyLogin(k.key)).r.response_type, "AUTH_ERR");
  });

  it("api_key.revoke: the key stops at once with its reason; reset revives it; owners only", async () => {
    const k = await a.call("api_key.create", { name: randomName(), username: admin.username });
    assert.equal((await keyLogin(k.key)).r.response_type, "SUCCESS");
    const revoked = await a.call("api_key.revoke", k.id, "leaked in a log");
    assert.equal(revoked.revoked, true);
    assert.equal(revoked.revoked_reason, "leaked in a log");
    assert.equal((await keyLogin(k.key)).r.response_type, "AUTH_ERR");
    const byDefault = await a.call("api_key.create", { name: randomName(), username: admin.username });
    assert.equal((await a.call("api_key.revoke", byDefault.id)).revoked_reason, `Revoked by ${admin.username}`);
    const reset = await a.call("api_key.update", k.id, { reset: true });
    assert.equal(reset.revoked, false);
    assert.equal((await keyLogin(reset.key)).r.response_type, "SUCCESS");
    const { client } = await clientFor(ts, ["SHARING_ADMIN"]);
    assert.equal((await rpcError(client.call("api_key.revoke", k.id))).errname, "EACCES");
    const entry = await lastAudit(ts, (e) => e.event === "METHOD_CALL" && e.event_data.method === "api_key.revoke" && e.success);
    assert.equal(entry?.event_data.description, `Revoke API key ${byDefault.name}`);
  });

  it("ownership rule: limited users manage only their own keys", async () => {
    const { client, user } = await clientFor(ts, ["SHARING_ADMIN"]);
    const e = await rpcError(client.call("api_key.create", { name: randomName(), username: admin.username }));
    assert.equal(e.errname, "EACCES");
    assert.equal(e.errorCode, "access.target_not_authorized");
    const own = await client.call("api_key.create", { name: randomName(), username: user.username });
    assert.match(own.key, /^\d+-/);
    assert.equal(own.keyhash, "********");
    const renamed = await client.call("api_key.update", own.id, { name: randomName() });
    assert.equal(renamed.key, undefined);
    const reset = await client.call("api_key.update", own.id, { reset: true });
    assert.ok(reset.key);
    const mine = await client.call<any[]>("api_key.my_keys");
    assert.deepEqual(
      mine.map((k) => k.id),
      [own.id],
    );
    const adminKey = await a.call("api_key.create", { name: randomName(), username: admin.username });
    assert.equal((await rpcError(client.call("api_key.delete", adminKey.id))).errname, "EACCES");
    assert.equal((await rpcError(client.call("api_key.update", adminKey.id, { name: "x" }))).errname, "EACCES");
    // api_key.query needs API_KEY_READ (READONLY_ADMIN has it) and redacts hashes.
    const listed = await client.call<any[]>("api_key.query");
    assert.ok(listed.every((k) => k.keyhash === "********" && k.salt === "********"));
    assert.equal(await client.call("api_key.delete", own.id), true);
  });

  it("roles: a key may be limited to a subset; nobody can give a key roles they lack", async () => {
    const { client, user } = await clientFor(ts, ["READONLY_ADMIN"]);
    const e1 = await rpcError(client.call("api_key.create", { name: randomName(), username: user.username, roles: ["ACCOUNT_WRITE"] }));
    assert.equal(e1.extra[0][0], "api_key_create.roles.0");
    const e2 = await rpcError(client.call("api_key.create", { name: randomName(), username: user.username, roles: ["NOT_A_ROLE"] }));
    assert.deepEqual(e2.extra[0].slice(0, 2), ["api_key_create.roles.0", "Invalid role"]);
    const limited = await client.call("api_key.create", { name: randomName(), username: user.username, roles: ["ACCOUNT_READ"] });
    assert.deepEqual(limited.roles, ["ACCOUNT_READ"]);
    const { client: kc, r } = await keyLogin(limited.key);
    assert.equal(r.response_type, "SUCCESS");
    const roles: string[] = r.user_info.privilege.roles;
    assert.deepEqual(roles, ["ACCOUNT_READ"]);
    assert.equal((await rpcError(kc.call("privilege.query"))).errname, "EACCES");
    // A key session with a role subset cannot mint a broader key either.
    const e3 = await rpcError(kc.call("api_key.create", { name: randomName(), username: user.username }));
    assert.equal(e3.errname, "EACCES"); // api_key.create needs READONLY_ADMIN or API_KEY_WRITE
    // Admin: a role the owner lacks is refused.
    const e4 = await rpcError(a.call("api_key.create", { name: randomName(), username: user.username, roles: ["PRIVILEGE_WRITE"] }));
    assert.equal(e4.codes[0], "api_key.role_not_held_by_owner");
    // Admin: key for the admin limited to READONLY_ADMIN.
    const ro = await a.call("api_key.create", { name: randomName(), username: admin.username, roles: ["READONLY_ADMIN"] });
    const { client: rc } = await keyLogin(ro.key);
    assert.ok(Array.isArray(await rc.call("privilege.query")));
    assert.equal((await rpcError(rc.call("privilege.create", { name: randomName(), web_shell: false }))).errname, "EACCES");
  });

  it("keys die with their owner; losing privileges answers DENIED", async () => {
    const u = await makeUser(ts, { roles: ["READONLY_ADMIN"] });
    const k = await a.call("api_key.create", { name: randomName(), username: u.username });
    const [priv] = await a.call<any[]>("privilege.query", [["name", "=", `${u.username}_priv`]]);
    await a.call("privilege.delete", priv.id);
    assert.equal((await keyLogin(k.key)).r.response_type, "DENIED");
    await a.call("user.delete", u.id);
    const entry = await a.call("api_key.get_instance", k.id);
    assert.equal(entry.revoked, true);
    assert.equal(entry.revoked_reason, "User does not exist");
    assert.equal(entry.username, null);
    assert.equal((await keyLogin(k.key)).r.response_type, "AUTH_ERR");
  });

  it("a key login reads the owner's grant from primary and auxiliary groups, as a password login does, and sees changes at once", async () => {
    // READONLY_ADMIN through the primary group, SHARING_ADMIN through an auxiliary group.
    const sharing = await makeUser(ts, { roles: ["SHARING_ADMIN"] });
    const u = await makeUser(ts, { roles: ["READONLY_ADMIN"], auxGids: [sharing.gid] });
    const k = await a.call("api_key.create", { name: randomName(), username: u.username });
    const { client: kc, r } = await keyLogin(k.key, u.username);
    assert.equal(r.response_type, "SUCCESS", "key login");
    const pw = await (await ts.client()).login(u.username, PASSWORD);
    assert.equal(pw.response_type, "SUCCESS", "password login");
    assert.deepEqual(r.user_info.privilege, pw.user_info.privilege, "the same privilege object (roles, allowlist, web shell, web UI)");
    const { account_attributes: keyAttrs, ...keyInfo } = r.user_info;
    const { account_attributes: pwAttrs, ...pwInfo } = pw.user_info;
    assert.deepEqual(keyInfo, pwInfo, "the same user_info apart from the session's attributes");
    assert.deepEqual(
      keyAttrs.filter((x: string) => x !== "API_KEY"),
      pwAttrs,
      "API_KEY is the only extra attribute",
    );
    assert.ok(r.user_info.privilege.roles.includes("SHARING_ADMIN") && r.user_info.privilege.roles.includes("READONLY_ADMIN"), "both grants");
    assert.equal(r.user_info.pw_gid, u.gid, "primary GID");
    assert.ok(Array.isArray(await kc.call("privilege.query")), "READONLY_ADMIN works on the key session");

    // UI attributes and group changes show at the next key login.
    const uc = await loginAs(ts, u);
    await uc.call("auth.set_attribute", "preferences", { lifetime: 300 });
    await a.call("user.update", u.id, { groups: [] });
    const again = (await keyLogin(k.key)).r;
    assert.equal(again.response_type, "SUCCESS", "still a READONLY_ADMIN");
    assert.ok(!again.user_info.privilege.roles.includes("SHARING_ADMIN"), "the auxiliary grant is gone");
    assert.deepEqual(again.user_info.attributes, { preferences: { lifetime: 300 } }, "UI attributes as stored now");
    // Through the auxiliary group only (no privilege on the primary group).
    const v = await makeUser(ts, { auxGids: [sharing.gid] });
    const kv = await a.call("api_key.create", { name: randomName(), username: v.username });
    const rv = (await keyLogin(kv.key)).r;
    assert.equal(rv.response_type, "SUCCESS", "a grant through an auxiliary group alone");
    assert.ok(rv.user_info.privilege.roles.includes("SHARING_ADMIN"), "SHARING_ADMIN");
  });

  it("password changes do not affect keys", async () => {
    const u = await makeUser(ts, { roles: ["READONLY_ADMIN"] });
    const k = await a.call("api_key.create", { name: randomName(), username: u.username });
    await a.call("user.set_password", { username: u.username, new_password: `${PASSWORD}-2` });
    assert.equal((await keyLogin(k.key)).r.response_type, "SUCCESS");
  });
});
