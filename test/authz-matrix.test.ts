// The authorization matrix: every registered method called as each kind of caller, checked
// against the roles the method declares (allowed / EACCES / ENOTAUTHENTICATED). Calls carry one
// argument too many, so an authorized call stops at validation and no handler runs. Then every
// read-style response to a non-FULL_ADMIN session is scanned for secret values. A second pass
// (below; table in authz-valid-args.ts) calls every method with valid arguments, so ownership and
// grant rules (issue 9 point 4) are checked where the handler would run.

import { mkdirSync } from "node:fs";
import { after, before, it } from "node:test";
import assert from "node:assert/strict";
import { forEachStore, type TestServer } from "./harness.js";
import { PASSWORD, loginAs, makeAdmin, makeUser, randomName, start, type TestUser } from "./auth-helpers.js";
import type { RpcClient } from "../src/cli/client.js";
import { expandRoles } from "../src/access/roles.js";
import type { MethodDef } from "../src/api/method.js";
import { VALID_ARGS, runValidArgsPass, type ValidCaller } from "./authz-valid-args.js";

type Outcome = "ALLOWED" | "EACCES" | "ENOTAUTHENTICATED" | "NO_METHOD";

interface Caller {
  name: string;
  client: RpcClient;
  /** Raw roles granted, or null when the caller is not authenticated. */
  raw: string[] | null;
}

function expected(def: MethodDef, caller: Caller): Outcome {
  if (def.removedIn && "v27.0.0" >= def.removedIn) return "NO_METHOD";
  if (!def.authenticationRequired) return "ALLOWED";
  if (caller.raw === null) return "ENOTAUTHENTICATED";
  const roles = expandRoles(caller.raw);
  if (roles.has("FULL_ADMIN")) return "ALLOWED";
  // A fleet user (no role, signed in on fleet access) reaches only the methods marked for it.
  if (roles.size === 0 && !def.fleetUser) return "EACCES";
  if (!def.authorizationRequired) return "ALLOWED";
  return def.roles.some((r) => roles.has(r as never)) ? "ALLOWED" : "EACCES";
}

/** READ on a new system: effective access to an existing system lets a user without privileges sign in. */
async function grantFleetAccess(ts: TestServer, userId: number): Promise<void> {
  const db = ts.app.store.db;
  const system = await db
    .insertInto("fleet_systems")
    .values({ name: randomName(), url: "ws://127.0.0.1:1/api/current", api_key: "x", verify_ssl: 1 } as never)
    .returning("id")
    .executeTakeFirstOrThrow();
  await db
    .insertInto("fleet_access")
    .values({ owner_kind: "USER", owner_id: userId, target_kind: "SYSTEM", target_id: Number(system.id), access: "READ" })
    .execute();
}

async function outcome(client: RpcClient, def: MethodDef): Promise<Outcome | string> {
  try {
    await client.call(def.name, ...Array(def.args.length + 1).fill(null));
    return "ALLOWED?? (handler ran)";
  } catch (err: any) {
    if (err.code === -32601) return "NO_METHOD";
    if (err.code === -32602 && err.data?.code === "core.too_many_arguments") return "ALLOWED";
    if (err.data?.errname === "ENOTAUTHENTICATED") return "ENOTAUTHENTICATED";
    if (err.data?.errname === "EACCES" && err.data?.code === "core.not_authorized") return "EACCES";
    return `unexpected: ${err.code} ${err.data?.reason ?? err.message}`;
  }
}

forEachStore("authorization matrix", (store) => {
  let ts: TestServer;
  let admin: TestUser;
  const callers: Caller[] = [];
  const secrets: string[] = [];

  before(async () => {
    ts = await start(store);
    admin = await makeAdmin(ts);
    const adminClient = await loginAs(ts, admin);

    const anon = await ts.client();
    callers.push({ name: "anonymous", client: anon, raw: null });

    const nobody = await makeUser(ts);
    const nobodyClient = await ts.client();
    assert.equal((await nobodyClient.login(nobody.username, PASSWORD)).response_type, "DENIED");
    callers.push({ name: "no privilege (DENIED)", client: nobodyClient, raw: null });

    const fleetOnly = await makeUser(ts);
    await grantFleetAccess(ts, fleetOnly.id);
    callers.push({ name: "no privilege, fleet access", client: await loginAs(ts, fleetOnly), raw: [] });

    const ro = await makeUser(ts, { auxGids: [951] });
    callers.push({ name: "READONLY_ADMIN", client: await loginAs(ts, ro), raw: ["READONLY_ADMIN"] });
    const sharing = await makeUser(ts, { auxGids: [952] });
    callers.push({ name: "SHARING_ADMIN", client: await loginAs(ts, sharing), raw: ["SHARING_ADMIN"] });
    const repl = await makeUser(ts, { roles: ["REPLICATION_ADMIN"] });
    callers.push({ name: "REPLICATION_ADMIN", client: await loginAs(ts, repl), raw: ["REPLICATION_ADMIN"] });
    const custom = await makeUser(ts, { roles: ["ACCOUNT_READ", "PRIVILEGE_WRITE"] });
    callers.push({ name: "custom ACCOUNT_READ+PRIVILEGE_WRITE", client: await loginAs(ts, custom), raw: ["ACCOUNT_READ", "PRIVILEGE_WRITE"] });
    callers.push({ name: "FULL_ADMIN", client: adminClient, raw: ["FULL_ADMIN"] });

    const keyRoles = ["ACCOUNT_WRITE", "SYSTEM_AUDIT_READ"];
    const key = await adminClient.call("api_key.create", { name: randomName(), username: admin.username, roles: keyRoles });
    const keyClient = await ts.client();
    assert.equal((await keyClient.loginApiKey(key.key)).response_type, "SUCCESS");
    callers.push({ name: "API key ACCOUNT_WRITE+SYSTEM_AUDIT_READ", client: keyClient, raw: keyRoles });

    for (const c of callers) await c.client.call("core.set_options", { private_methods: true });

    // Secrets that no non-FULL_ADMIN response may contain.
    const other = await makeUser(ts, { roles: ["READONLY_ADMIN"], smb: true });
    await ts.app.store.db.updateTable("users").set({ smbhash: "0123456789ABCDEF0123456789ABCDEF" }).where("id", "=", other.id).execute();
    await adminClient.call("user.renew_2fa_secret", other.username);
    const secretKey = await adminClient.call("api_key.create", { name: randomName(), username: other.username });
    const rows = await ts.app.store.db.selectFrom("users").select(["unixhash", "smbhash", "twofactor_secret"]).where("id", "in", [other.id, admin.id]).execute();
    for (const r of rows) for (const v of [r.unixhash, r.smbhash, r.twofactor_secret]) if (v && v.length > 8) secrets.push(v);
    const keyRows = await ts.app.store.db.selectFrom("api_keys").select(["keyhash", "salt"]).execute();
    for (const k of keyRows) secrets.push(k.keyhash, ...(k.salt === null ? [] : [k.salt]));
    secrets.push(secretKey.key.split("-")[1]);
  });
  after(() => ts.stop());

  it("every method answers as its declared roles say, for every caller", async () => {
    const defs = ts.app.registry.all();
    assert.ok(defs.length > 40);
    const mismatches: string[] = [];
    for (const caller of callers) {
      for (const def of defs) {
        const want = expected(def, caller);
        const got = await outcome(caller.client, def);
        if (got !== want) mismatches.push(`${caller.name} ${def.name}: expected ${want}, got ${got}`);
      }
    }
    assert.deepEqual(mismatches, []);
  });

  it("core.get_methods lists exactly what the caller may call", async () => {
    for (const caller of callers.filter((c) => c.raw !== null)) {
      const listed = Object.keys(await caller.client.call("core.get_methods")).sort();
      const want = ts.app.registry
        .all()
        .filter((d) => expected(d, caller) === "ALLOWED")
        .map((d) => d.name)
        .sort();
      assert.deepEqual(listed, want, caller.name);
    }
  });

  it("subscriptions are checked too", async () => {
    const byName = new Map(callers.map((c) => [c.name, c]));
    const subscribe = async (who: string, event: string) => {
      try {
        await byName.get(who)!.client.call("core.subscribe", event);
        return "ok";
      } catch (err: any) {
        return err.data?.errname;
      }
    };
    for (const c of callers.filter((x) => x.raw !== null)) assert.equal(await subscribe(c.name, "core.get_jobs"), "ok", c.name);
    assert.equal(await subscribe("anonymous", "core.get_jobs"), "ENOTAUTHENTICATED");
    assert.equal(await subscribe("READONLY_ADMIN", "privilege.query"), "ok");
    assert.equal(await subscribe("REPLICATION_ADMIN", "privilege.query"), "EACCES");
    assert.equal(await subscribe("READONLY_ADMIN", "*"), "EACCES");
    assert.equal(await subscribe("FULL_ADMIN", "*"), "ok");
  });

  it("no response to a non-FULL_ADMIN session contains a secret", async () => {
    assert.ok(secrets.length >= 6);
    const readish = /(\.query|\.get_instance|\.config|\.my_keys|\.me|\.sessions|\.roles|\.get_jobs|\.get_user_obj|_choices)$/;
    const defs = ts.app.registry.all().filter((d) => readish.test(d.name));
    let scanned = 0;
    for (const caller of callers.filter((c) => c.raw !== null && !c.raw.includes("FULL_ADMIN"))) {
      for (const def of defs) {
        if (expected(def, caller) !== "ALLOWED") continue;
        // Holders of a method's secrets role (e.g. ACCOUNT_WRITE for user.query) see its secrets.
        if (def.secretsRole && expandRoles(caller.raw!).has(def.secretsRole as never)) continue;
        const attempts: unknown[][] = [[]];
        if (def.name.endsWith(".get_instance")) attempts.push(...[1, 2, 3, 4, 5].map((id) => [id]));
        if (def.name === "user.get_user_obj") attempts.push([{ username: admin.username }]);
        if (def.name === "audit.query") attempts.push([{ "query-options": { limit: 10000 } }]);
        for (const params of attempts) {
          let text: string;
          try {
            text = JSON.stringify(await caller.client.call(def.name, ...params));
          } catch (err: any) {
            text = JSON.stringify(err.data ?? err.message);
          }
          scanned++;
          for (const s of secrets) assert.ok(!text.includes(s), `${caller.name} ${def.name}(${JSON.stringify(params)}) leaked a secret`);
        }
      }
    }
    assert.ok(scanned > 20);
  });
});

forEachStore("authorization matrix, valid arguments", (store) => {
  let ts: TestServer;
  const callers: ValidCaller[] = [];
  let fx: Parameters<typeof runValidArgsPass>[0];

  /** A fresh client with job results inline and private methods visible. */
  const connect = async (login: (c: RpcClient) => Promise<unknown>) => {
    const c = await ts.client();
    await c.call("core.set_options", { legacy_jobs: false, private_methods: true });
    await login(c);
    return c;
  };
  const userCaller = (name: string, user: TestUser, raw: string[]): ValidCaller => ({
    name,
    raw,
    user,
    ownRaw: raw,
    key: false,
    fresh: () => connect(async (c) => assert.equal((await c.login(user.username, user.password)).response_type, "SUCCESS", name)),
  });

  before(async () => {
    ts = await start(store);
    const adminUser = await makeAdmin(ts);
    const a = await loginAs(ts, adminUser);
    fx = { ts, a, adminUser, storageRoot: ts.config.storageRoots[0]! };
    mkdirSync(fx.storageRoot, { recursive: true }); // inside the test's data dir, removed with it

    callers.push({ name: "anonymous", raw: null, user: null, ownRaw: [], key: false, fresh: () => connect(async () => undefined) });
    const fleetOnly = await makeUser(ts);
    await grantFleetAccess(ts, fleetOnly.id);
    callers.push(userCaller("no privilege (fleet access)", fleetOnly, []));
    callers.push(userCaller("READONLY_ADMIN", await makeUser(ts, { auxGids: [951] }), ["READONLY_ADMIN"]));
    callers.push(userCaller("ACCOUNT_WRITE", await makeUser(ts, { roles: ["ACCOUNT_WRITE"] }), ["ACCOUNT_WRITE"]));
    callers.push(userCaller("PRIVILEGE_WRITE", await makeUser(ts, { roles: ["PRIVILEGE_WRITE"] }), ["PRIVILEGE_WRITE"]));
    const keyOwner = await makeAdmin(ts);
    const keyRoles = ["ACCOUNT_WRITE", "SYSTEM_AUDIT_READ"];
    const key = await a.call<any>("api_key.create", { name: randomName(), username: keyOwner.username, roles: keyRoles });
    callers.push({
      name: "API key ACCOUNT_WRITE+SYSTEM_AUDIT_READ of a full admin",
      raw: keyRoles,
      user: keyOwner,
      ownRaw: ["FULL_ADMIN"],
      key: true,
      fresh: () => connect(async (c) => assert.equal((await c.loginApiKey(key.key)).response_type, "SUCCESS", "key login")),
    });
    // Last: its auth.terminate_other_sessions ends every other session.
    callers.push(userCaller("FULL_ADMIN", await makeAdmin(ts), ["FULL_ADMIN"]));
  });
  after(() => ts.stop());

  it("every registered method has valid arguments in the table", () => {
    const missing = ts.app.registry
      .all()
      .map((d) => d.name)
      .filter((n) => !VALID_ARGS[n]);
    assert.deepEqual(missing, [], "add an entry to test/authz-valid-args.ts VALID_ARGS");
    const stale = Object.keys(VALID_ARGS).filter((n) => !ts.app.registry.get(n));
    assert.deepEqual(stale, [], "entries for methods that no longer exist");
  });

  it("every method, called with valid arguments, answers as its roles and ownership rules say, for every caller", async () => {
    const { mismatches, calls } = await runValidArgsPass(fx, ts.app.registry.all(), callers);
    assert.deepEqual(mismatches, []);
    assert.ok(calls > ts.app.registry.all().length * callers.length, `${calls} calls`);
  });
});
