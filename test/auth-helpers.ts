// Helpers for the access-control suites: users, groups and privileges made through the account
// API, logins, and TOTP codes from an independent
// implementation (otpauth, parsed from the provisioning URI — never the server's code path).

import { randomBytes } from "node:crypto";
import { URI, TOTP } from "otpauth";
import { startServer, uniq, type StoreKind, type TestServer } from "./harness.js";
import type { RpcClient } from "../src/cli/client.js";

/** Long enough and complex enough for every policy the suites set (STIG: 15 characters, 4 classes). */
export const PASSWORD = "Test-pass-1234-long";

export async function start(store: StoreKind, opts: Parameters<typeof startServer>[0] = {}): Promise<TestServer> {
  const ts = await startServer({ store, ...opts });
  // Tests log in far more often than 20 times a minute from 127.0.0.1.
  ts.app.rateLimitLoopbackExempt = true;
  if (process.env.GATEHOUSE_TEST_DEBUG) {
    (ts.app.log as any).error = (o: any, m?: string) => console.error("server error:", m, o?.err?.stack ?? o);
  }
  return ts;
}

export interface TestUser {
  id: number;
  username: string;
  uid: number;
  gid: number;
  groupId: number;
  password: string;
}

/** A FULL_ADMIN client for setting things up (the harness's local administrator `admin`). */
async function setupClient(ts: TestServer): Promise<RpcClient> {
  const cached = setupClients.get(ts);
  // Suites terminate other sessions now and then: check the cached one still works.
  if (
    cached &&
    !cached.closeInfo &&
    (await cached.call("auth.me").then(
      () => true,
      () => false,
    ))
  )
    return cached;
  const c = await ts.adminClient();
  setupClients.set(ts, c);
  return c;
}
const setupClients = new WeakMap<TestServer, RpcClient>();

/** Set things up through `client` from now on (e.g. once `admin`'s password is disabled, which ends its sessions). */
export function useSetupClient(ts: TestServer, client: RpcClient): void {
  setupClients.set(ts, client);
}

async function groupIdOfGid(admin: RpcClient, gid: number): Promise<number> {
  const [g] = await admin.call<any[]>("group.query", [["gid", "=", gid]]);
  if (!g) throw new Error(`no group with gid ${gid}`);
  return g.id;
}

/**
 * A user created through the account API with its own group; with `roles`, a privilege on that
 * group grants them. `password: null` makes a password-disabled account.
 */
export async function makeUser(ts: TestServer, opts: { roles?: string[]; password?: string | null; auxGids?: number[]; username?: string; smb?: boolean } = {}): Promise<TestUser> {
  const admin = await setupClient(ts);
  const username = opts.username ?? uniq("t");
  const password = opts.password === undefined ? PASSWORD : opts.password;
  const groupId = await admin.call<number>("group.create", { name: `${username}_g`, smb: false });
  const group = await admin.call<any>("group.get_instance", groupId);
  if (opts.roles?.length) {
    await admin.call("privilege.create", { name: `${username}_priv`, local_groups: [group.gid], ds_groups: [], roles: opts.roles, web_shell: false });
  }
  const groups = [];
  for (const gid of opts.auxGids ?? []) groups.push(await groupIdOfGid(admin, gid));
  const user = await admin.call<any>("user.create", {
    username,
    full_name: username,
    group: groupId,
    groups,
    smb: !!opts.smb,
    ...(password === null ? { password_disabled: true } : { password }),
  });
  return { id: user.id, username, uid: user.uid, gid: group.gid, groupId, password: password ?? "" };
}

/** Another local administrator: member of builtin_administrators (FULL_ADMIN). */
export async function makeAdmin(ts: TestServer, opts: { password?: string } = {}): Promise<TestUser> {
  return makeUser(ts, { auxGids: [544], password: opts.password ?? PASSWORD });
}

export async function loginAs(ts: TestServer, user: { username: string; password: string }): Promise<RpcClient> {
  const c = await ts.client();
  const r = await c.login(user.username, user.password);
  if (r.response_type !== "SUCCESS") throw new Error(`login as ${user.username}: ${JSON.stringify(r)}`);
  return c;
}

/**
 * The usual suite setup: a server on `store`, a fresh local administrator and a client logged in
 * as them (`before(async () => ({ ts, admin, a } = await startAsAdmin(store)))`).
 */
export async function startAsAdmin(store: StoreKind): Promise<{ ts: TestServer; admin: TestUser; a: RpcClient }> {
  const ts = await start(store);
  const admin = await makeAdmin(ts);
  return { ts, admin, a: await loginAs(ts, admin) };
}

/** A logged-in client whose only privilege grants `roles`. */
export async function clientFor(ts: TestServer, roles: string[]): Promise<{ client: RpcClient; user: TestUser }> {
  const user = await makeUser(ts, { roles });
  return { client: await loginAs(ts, user), user };
}

/** TOTP code for a provisioning URI, computed by otpauth (independent of the server). */
export function totpFromUri(uri: string, timestamp = Date.now()): string {
  const otp = URI.parse(uri);
  if (!(otp instanceof TOTP)) throw new Error("not a TOTP URI");
  return otp.generate({ timestamp });
}

export function randomName(prefix = "k"): string {
  return `${prefix}${randomBytes(4).toString("hex")}`;
}

export async function lastAudit(ts: TestServer, pred: (e: any) => boolean): Promise<any | undefined> {
  const rows = await ts.app.store.db.selectFrom("audit").selectAll().orderBy("id", "desc").limit(200).execute();
  return rows.map((r) => ({ ...r, event_data: JSON.parse(r.event_data), service_data: JSON.parse(r.service_data), success: !!r.success })).find(pred);
}
