// The authorization matrix's valid-argument pass (issue 9 acceptance): every registered method is
// called with VALID arguments as each kind of caller, so the handler runs when authorization lets
// it — which exercises the dispatcher's ownership rule (`owner`, `targets`) and the domain grant
// checks, not just the role list. Methods that act on an account or grant something are called
// once per target kind:
//   "plain" — an account (or grant) with no role the caller could lack,
//   "self"  — the caller's own account (its key's owner for an API-key caller),
//   "admin" — a full administrator's account, or a grant of FULL_ADMIN / builtin_administrators.
// A registered method without an entry in VALID_ARGS fails the test, so new methods cannot be
// forgotten.

import { randomBytes } from "node:crypto";
import type { TestServer } from "./harness.js";
import { PASSWORD, loginAs, makeAdmin, makeUser, randomName, type TestUser } from "./auth-helpers.js";
import type { RpcClient } from "../src/cli/client.js";
import type { MethodDef } from "../src/api/method.js";
import { expandRoles } from "../src/access/roles.js";
import { makeCaPem } from "./test-certs.js";

export type Target = "plain" | "self" | "admin";
export type Outcome = "OK" | "DENIED" | "ENOTAUTHENTICATED" | "NO_METHOD" | `ERROR ${string}`;

export interface ValidCaller {
  name: string;
  /** Raw roles of the session (an API key's roles for a key caller); null: not authenticated. */
  raw: string[] | null;
  /** The caller's own account (the key's owner for a key caller); null for anonymous. */
  user: TestUser | null;
  /** Raw roles of that account. */
  ownRaw: string[];
  /** Session limited to an API key's roles (no "own account" exemption). */
  key: boolean;
  /** A newly connected, logged-in client of this caller (every call gets its own: some end or
   *  change their session). */
  fresh(): Promise<RpcClient>;
}

export interface Fixtures {
  ts: TestServer;
  /** FULL_ADMIN client for setting things up. */
  a: RpcClient;
  adminUser: TestUser;
  storageRoot: string;
}

interface CallSpec {
  args: unknown[];
  /** Raw roles of the account the call acts on, or that the call grants (default: none). */
  targetRoles?: string[];
}

interface Entry {
  /** Target kinds to call with (default: ["plain"], meaning no ownership or grant rule applies). */
  targets?: Target[];
  /** Errors that still show the call was authorized and reached its handler (state, not rights). */
  reached?: RegExp;
  /** Skip a (caller, target) pair the fixtures cannot express, with the reason. */
  skip?: (c: ValidCaller, t: Target) => string | null;
  /** Job-style ownership (core.job_*): "admin" is another session's job. */
  jobOwnership?: boolean;
  make(fx: Fixtures, c: ValidCaller, t: Target, client: RpcClient): Promise<CallSpec>;
}

/** PUT an empty accounts file to each user.import job waiting for one (for about 30 s). */
async function feedImportUploads(fx: Fixtures): Promise<void> {
  const done = new Set<number>();
  for (const end = Date.now() + 30_000; Date.now() < end; ) {
    const jobs = await fx.a
      .call<{ id: number; progress: { extra: { upload_url?: string } | null } }[]>("core.get_jobs", [
        ["method", "=", "user.import"],
        ["state", "=", "RUNNING"],
      ])
      .catch(() => []);
    for (const j of jobs) {
      const url = j.progress.extra?.upload_url;
      if (!url || done.has(j.id)) continue;
      done.add(j.id);
      await fetch(`${fx.ts.httpUrl}${url}`, { method: "PUT", body: '{"groups":[],"users":[]}' }).catch(() => undefined);
      return;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

const name = (p = "v") => `${p}${randomBytes(4).toString("hex")}`;

/** An account for target kind `t`: a plain user, the caller itself, or a fresh full administrator. */
async function account(fx: Fixtures, c: ValidCaller, t: Target, plainRoles: string[] = []): Promise<{ user: TestUser; roles: string[] }> {
  if (t === "self") return { user: c.user!, roles: c.ownRaw };
  if (t === "admin") return { user: await makeAdmin(fx.ts), roles: ["FULL_ADMIN"] };
  return { user: await makeUser(fx.ts, plainRoles.length ? { roles: plainRoles } : {}), roles: plainRoles };
}

async function groupOf(fx: Fixtures): Promise<{ id: number; gid: number }> {
  const id = await fx.a.call<number>("group.create", { name: name("g"), smb: false });
  return { id, gid: (await fx.a.call<any>("group.get_instance", id)).gid };
}

async function groupIdByName(fx: Fixtures, n: string): Promise<number> {
  return (await fx.a.call<any[]>("group.query", [["name", "=", n]]))[0].id;
}

/** A job owned by `client`'s session (core.bulk of one ping), by id. */
async function ownJob(client: RpcClient): Promise<number> {
  await client.call("core.bulk", "core.ping", [[]]);
  const [job] = await client.call<any[]>("core.get_jobs", [["method", "=", "core.bulk"]], { order_by: ["-id"], limit: 1 });
  return job.id;
}

/** An API key owned by the target account (plain: an ACCOUNT_READ user, so it may own one). */
async function keyOf(fx: Fixtures, c: ValidCaller, t: Target): Promise<{ id: number; roles: string[] }> {
  const { user, roles } = await account(fx, c, t, ["ACCOUNT_READ"]);
  const k = await fx.a.call<any>("api_key.create", { name: name("k"), username: user.username });
  return { id: k.id, roles };
}

const SSH_TARGETS: Target[] = ["plain", "self", "admin"];

/** An LDAP server nothing listens on (connection refused at once): the handlers run, nothing waits. */
const LDAP_SERVER = { hostname: "127.0.0.1:1", domain: "dc=example,dc=test", connect_timeout: 1, timeout: 1 };
async function ldapServerOf(fx: Fixtures): Promise<{ id: number }> {
  return fx.a.call<any>("ldap.server.create", LDAP_SERVER);
}

/** A fleet system nobody listens for (saved with `force`: no connection test). */
const deadSystemInput = () => ({ name: name("s"), url: "ws://127.0.0.1:9/api/current", api_key: "1-deadkey", force: true });
async function deadSystem(fx: Fixtures): Promise<number> {
  return (await fx.a.call<any>("fleet.system.create", deadSystemInput())).id;
}

export const VALID_ARGS: Record<string, Entry> = {
  // Fleet access (issue 11): system groups, teams, explain, matrix.
  "fleet.system_group.query": { make: async () => ({ args: [] }) },
  "fleet.system_group.get_instance": { make: async (fx) => ({ args: [(await fx.a.call<any>("fleet.system_group.create", { name: name("sg") })).id] }) },
  "fleet.system_group.create": { make: async () => ({ args: [{ name: name("sg") }] }) },
  "fleet.system_group.update": { make: async (fx) => ({ args: [(await fx.a.call<any>("fleet.system_group.create", { name: name("sg") })).id, { name: name("sg") }] }) },
  "fleet.system_group.delete": { make: async (fx) => ({ args: [(await fx.a.call<any>("fleet.system_group.create", { name: name("sg") })).id] }) },
  "team.query": { make: async () => ({ args: [] }) },
  "team.get_instance": { make: async (fx) => ({ args: [(await fx.a.call<any>("team.create", { name: name("tm") })).id] }) },
  "team.create": { make: async () => ({ args: [{ name: name("tm") }] }) },
  "team.update": { make: async (fx) => ({ args: [(await fx.a.call<any>("team.create", { name: name("tm") })).id, { name: name("tm") }] }) },
  "team.delete": { make: async (fx) => ({ args: [(await fx.a.call<any>("team.create", { name: name("tm") })).id] }) },
  // Any session may ask about itself; a system it may not see answers as missing (reached).
  "fleet.access.explain": {
    targets: ["self"],
    reached: /does not exist/,
    make: async (fx, c) => {
      const [sys] = await fx.ts.app.store.db.selectFrom("fleet_systems").select("id").orderBy("id").limit(1).execute();
      return { args: [c.user!.username, sys ? sys.id : 1] };
    },
  },
  "fleet.access.matrix": { make: async () => ({ args: [{ format: "CSV" }] }) },
  "core.ping": { make: async () => ({ args: [] }) },
  "core.get_methods": { make: async () => ({ args: [] }) },
  "core.subscribe": { make: async () => ({ args: ["core.get_jobs"] }) },
  "core.unsubscribe": {
    make: async (_fx, c, _t, client) => ({ args: [c.raw === null ? "0" : await client.call<string>("core.subscribe", "core.get_jobs")] }),
  },
  "core.set_options": { make: async () => ({ args: [{ legacy_jobs: false, private_methods: true }] }) },
  "core.get_jobs": { make: async () => ({ args: [] }) },
  "core.job_wait": {
    targets: ["self", "admin"],
    jobOwnership: true,
    make: async (fx, c, t, client) => ({ args: [t === "admin" || c.raw === null ? await ownJob(fx.a) : await ownJob(client)] }),
  },
  "core.job_abort": {
    targets: ["self", "admin"],
    jobOwnership: true,
    make: async (fx, c, t, client) => ({ args: [t === "admin" || c.raw === null ? await ownJob(fx.a) : await ownJob(client)] }),
  },
  "core.bulk": { make: async () => ({ args: ["core.ping", [[]]] }) },

  "user.query": { make: async () => ({ args: [] }) },
  "user.export": { make: async () => ({ args: [{ format: "CSV" }] }) },
  "user.import": {
    make: async (fx) => {
      void feedImportUploads(fx); // the job waits for its file: an empty accounts document is PUT
      return { args: [{ dry_run: true }] };
    },
  },
  "user.get_instance": { make: async (fx) => ({ args: [fx.adminUser.id] }) },
  "user.create": {
    targets: ["plain", "admin"],
    make: async (fx, _c, t) => ({
      args: [{ username: name("n"), full_name: "New", group_create: true, password: PASSWORD, smb: false, ...(t === "admin" ? { groups: [await groupIdByName(fx, "builtin_administrators")] } : {}) }],
      targetRoles: t === "admin" ? ["FULL_ADMIN"] : [],
    }),
  },
  "user.update": {
    targets: SSH_TARGETS,
    make: async (fx, c, t) => {
      const { user, roles } = await account(fx, c, t);
      return { args: [user.id, { full_name: `Renamed ${name()}` }], targetRoles: roles };
    },
  },
  "user.delete": {
    targets: ["plain", "admin"],
    make: async (fx, c, t) => {
      const { user, roles } = await account(fx, c, t);
      return { args: [user.id], targetRoles: roles };
    },
  },
  "user.get_next_uid": { make: async () => ({ args: [] }) },
  "user.shell_choices": { make: async () => ({ args: [] }) },
  "user.get_user_obj": { make: async () => ({ args: [{ username: "root" }] }) },
  "user.has_local_administrator_set_up": { make: async () => ({ args: [] }) },
  "user.setup_local_administrator": { reached: /already set up/, make: async () => ({ args: ["admin", PASSWORD] }) },
  "user.suggest_username": { make: async () => ({ args: ["John Smith"] }) },
  "user.set_password": {
    targets: SSH_TARGETS,
    make: async (fx, c, t) => {
      const { user, roles } = await account(fx, c, t);
      // Own password: old one given, new = same text (no policy forbids it by default).
      return { args: [{ username: user.username, old_password: user.password, new_password: user.password }], targetRoles: roles };
    },
  },
  "user.renew_2fa_secret": {
    targets: SSH_TARGETS,
    make: async (fx, c, t) => {
      const { user, roles } = await account(fx, c, t);
      return { args: [user.username], targetRoles: roles };
    },
  },
  "user.unset_2fa_secret": {
    targets: SSH_TARGETS,
    make: async (fx, c, t) => {
      const { user, roles } = await account(fx, c, t);
      return { args: [user.username], targetRoles: roles };
    },
  },
  "auth.password_policy": { make: async () => ({ args: [] }) },
  // Mail (issue 12): nothing configured in the matrix, so a send reaches the handler and fails there.
  "mail.config": { make: async () => ({ args: [] }) },
  "mail.update": { make: async () => ({ args: [{ fromname: "Matrix" }] }) },
  "mail.send": { reached: /No outgoing mail server|could not be reached/, make: async () => ({ args: [{ subject: "matrix", text: "x", to: ["matrix@example.test"] }] }) },
  "mail.queue": { make: async () => ({ args: [] }) },
  "auth.password_reset.request": { make: async () => ({ args: [{ username: "nobody-here" }] }) },
  // The accounts have no address: reaching the handler answers "no e-mail address to verify".
  "user.verify_email": {
    targets: SSH_TARGETS,
    reached: /no e-mail address/,
    make: async (fx, c, t) => {
      const { user, roles } = await account(fx, c, t);
      return { args: [user.id, { code: "123456" }], targetRoles: roles };
    },
  },
  "user.set_twofactor_method": {
    targets: SSH_TARGETS,
    make: async (fx, c, t) => {
      const { user, roles } = await account(fx, c, t);
      return { args: [user.id, { method: null }], targetRoles: roles };
    },
  },
  "user.stage_2fa_secret": {
    targets: SSH_TARGETS,
    make: async (fx, c, t) => {
      const { user, roles } = await account(fx, c, t);
      return { args: [user.username], targetRoles: roles };
    },
  },
  // Reaching the handler answers "no setup in progress", or (after the stage_2fa_secret row ran
  // for the same account) "the code does not match": the code is never a real one.
  "user.confirm_2fa_secret": {
    targets: SSH_TARGETS,
    reached: /No two-factor setup is in progress|The code does not match/,
    make: async (fx, c, t) => {
      const { user, roles } = await account(fx, c, t);
      return { args: [user.username, "000000"], targetRoles: roles };
    },
  },

  "group.query": { make: async () => ({ args: [] }) },
  "group.get_instance": { make: async () => ({ args: [1] }) },
  "group.create": {
    targets: ["plain", "admin"],
    make: async (_fx, _c, t) => ({ args: [{ name: name("g"), smb: false, ...(t === "admin" ? { sudo_commands_nopasswd: ["ALL"] } : {}) }], targetRoles: t === "admin" ? ["FULL_ADMIN"] : [] }),
  },
  "group.update": {
    targets: ["plain", "admin"],
    make: async (fx, _c, t) => {
      const member = await makeUser(fx.ts);
      if (t === "plain") return { args: [(await groupOf(fx)).id, { users: [member.id] }] };
      const admins = await groupIdByName(fx, "builtin_administrators");
      const g = await fx.a.call<any>("group.get_instance", admins);
      return { args: [admins, { users: [...g.users, member.id] }], targetRoles: ["FULL_ADMIN"] };
    },
  },
  "group.delete": {
    targets: ["plain", "admin"],
    make: async (fx, c, t) => {
      if (t === "plain") return { args: [(await groupOf(fx)).id] };
      const { user } = await account(fx, c, "admin");
      return { args: [user.groupId, { delete_users: true }], targetRoles: ["FULL_ADMIN"] };
    },
  },
  "group.get_next_gid": { make: async () => ({ args: [] }) },
  "group.get_group_obj": { make: async () => ({ args: [{ groupname: "root" }] }) },
  "group.has_password_enabled_user": { make: async () => ({ args: [[544]] }) },

  "auth.login_ex": { make: async (fx) => ({ args: [{ mechanism: "PASSWORD_PLAIN", username: fx.adminUser.username, password: PASSWORD }] }) },
  "auth.login_ex_continue": { reached: /no authentication in progress/, make: async () => ({ args: [{ mechanism: "OTP_TOKEN", otp_token: "123456" }] }) },
  "auth.mechanism_choices": { make: async () => ({ args: [] }) },
  "auth.login": { make: async (fx) => ({ args: [fx.adminUser.username, PASSWORD] }) },
  "auth.login_with_api_key": { make: async () => ({ args: ["1-nope"] }) },
  "auth.login_with_token": { make: async () => ({ args: ["not-a-token"] }) },
  "auth.generate_token": { make: async () => ({ args: [60] }) },
  "auth.me": { make: async () => ({ args: [] }) },
  "auth.set_attribute": { make: async () => ({ args: ["matrix", 1] }) },
  "auth.logout": { make: async () => ({ args: [] }) },
  "auth.sessions": { make: async () => ({ args: [] }) },
  "auth.terminate_session": {
    make: async (fx) => {
      const u = await makeUser(fx.ts, { roles: ["ACCOUNT_READ"] });
      await loginAs(fx.ts, u);
      const [s] = await fx.a.call<any[]>("auth.sessions", [["credentials_data.username", "=", u.username]]);
      return { args: [s.id] };
    },
  },
  "auth.terminate_other_sessions": { make: async () => ({ args: [] }) },
  "auth.generate_onetime_password": {
    targets: SSH_TARGETS,
    make: async (fx, c, t) => {
      const { user, roles } = await account(fx, c, t);
      return { args: [{ username: user.username }], targetRoles: roles };
    },
  },
  "auth.twofactor.config": { make: async () => ({ args: [] }) },
  "auth.twofactor.update": { make: async () => ({ args: [{}] }) },

  "privilege.query": { make: async () => ({ args: [] }) },
  "privilege.get_instance": { make: async () => ({ args: [1] }) },
  "privilege.create": {
    targets: ["plain", "admin"],
    make: async (fx, _c, t) => {
      const g = await groupOf(fx);
      const roles = t === "admin" ? ["FULL_ADMIN"] : [];
      return { args: [{ name: name("p"), local_groups: [g.gid], roles, web_shell: false }], targetRoles: roles };
    },
  },
  "privilege.update": {
    targets: ["plain", "admin"],
    make: async (fx, _c, t) => {
      const g = await groupOf(fx);
      const p = await fx.a.call<any>("privilege.create", { name: name("p"), local_groups: [g.gid], roles: [], web_shell: false });
      return { args: [p.id, t === "admin" ? { roles: ["FULL_ADMIN"] } : { name: name("p") }], targetRoles: t === "admin" ? ["FULL_ADMIN"] : [] };
    },
  },
  "privilege.delete": {
    targets: ["plain", "admin"],
    make: async (fx, _c, t) => {
      const g = await groupOf(fx);
      const roles = t === "admin" ? ["FULL_ADMIN"] : [];
      const p = await fx.a.call<any>("privilege.create", { name: name("p"), local_groups: [g.gid], roles, web_shell: false });
      return { args: [p.id], targetRoles: roles };
    },
  },
  "privilege.roles": { make: async () => ({ args: [] }) },
  "privilege.become_readonly": { make: async () => ({ args: [] }) },

  "api_key.query": { make: async () => ({ args: [] }) },
  "api_key.get_instance": { make: async (fx) => ({ args: [(await keyOf(fx, null as never, "admin")).id] }) },
  "api_key.create": {
    targets: SSH_TARGETS,
    make: async (fx, c, t) => {
      const { user, roles } = await account(fx, c, t, ["ACCOUNT_READ"]);
      return { args: [{ name: name("k"), username: user.username }], targetRoles: roles };
    },
  },
  "api_key.update": {
    targets: SSH_TARGETS,
    make: async (fx, c, t) => {
      const k = await keyOf(fx, c, t);
      return { args: [k.id, { name: name("k") }], targetRoles: k.roles };
    },
  },
  "api_key.delete": {
    targets: SSH_TARGETS,
    make: async (fx, c, t) => {
      const k = await keyOf(fx, c, t);
      return { args: [k.id], targetRoles: k.roles };
    },
  },
  "api_key.revoke": {
    targets: SSH_TARGETS,
    make: async (fx, c, t) => {
      const k = await keyOf(fx, c, t);
      return { args: [k.id], targetRoles: k.roles };
    },
  },
  "api_key.my_keys": { make: async () => ({ args: [] }) },

  "certificateauthority.query": { make: async () => ({ args: [] }) },
  "certificateauthority.import": { make: async () => ({ args: [{ name: name("ca"), certificate: makeCaPem() }] }) },
  "ldap.server.query": { make: async () => ({ args: [] }) },
  "ldap.server.get_instance": { make: async (fx) => ({ args: [(await ldapServerOf(fx)).id] }) },
  "ldap.server.create": { make: async () => ({ args: [LDAP_SERVER] }) },
  "ldap.server.update": { make: async (fx) => ({ args: [(await ldapServerOf(fx)).id, { timeout: 5 }] }) },
  "ldap.server.delete": { make: async (fx) => ({ args: [(await ldapServerOf(fx)).id] }) },
  "ldap.server.test": { make: async () => ({ args: [LDAP_SERVER] }) },
  "ldap.server.test_login": { make: async () => ({ args: ["nobody", "x-password"] }) },
  "ldap.config": { make: async () => ({ args: [] }) },
  "ldap.update": { make: async () => ({ args: [{ allow_user_creation: false }] }) },
  "ldap.sync": { reached: /bind DN/, make: async () => ({ args: [true] }) },
  "certificateauthority.delete": {
    make: async (fx) => ({ args: [(await fx.a.call<any>("certificateauthority.import", { name: name("ca"), certificate: makeCaPem() })).id] }),
  },

  "system.security.config": { make: async () => ({ args: [] }) },
  "system.security.update": { make: async () => ({ args: [{}] }) },
  "audit.query": { make: async () => ({ args: [{ "query-options": { limit: 1 } }] }) },
  "audit.export": { make: async () => ({ args: [{ "query-options": { limit: 1 } }] }) },
  "filesystem.storage_roots": { make: async () => ({ args: [] }) },
  "filesystem.listdir": { make: async (fx) => ({ args: [fx.storageRoot] }) },
  "filesystem.stat": { make: async (fx) => ({ args: [fx.storageRoot] }) },
  "filesystem.mkdir": { make: async (fx) => ({ args: [{ path: `${fx.storageRoot}/${name("d")}` }] }) },
  "system.version": { make: async () => ({ args: [] }) },
  "fleet.system.query": { make: async () => ({ args: [] }) },
  "fleet.system.get_instance": { reached: /does not exist/, make: async (fx) => ({ args: [await deadSystem(fx)] }) },
  "fleet.system.status": { reached: /does not exist/, make: async (fx) => ({ args: [await deadSystem(fx)] }) },
  "fleet.system.create": { make: async () => ({ args: [deadSystemInput()] }) },
  "fleet.system.update": { make: async (fx) => ({ args: [await deadSystem(fx), { name: name("s") }] }) },
  "fleet.system.delete": { make: async (fx) => ({ args: [await deadSystem(fx)] }) },
  "fleet.call": { reached: /does not exist|unreachable/, make: async (fx) => ({ args: [await deadSystem(fx), "core.ping", []] }) },
};

// ---- expectations -----------------------------------------------------------------------------

/** What the role list alone says (as the too-many-arguments pass). */
function byRoles(def: MethodDef, c: ValidCaller): Outcome {
  if (def.removedIn && "v27.0.0" >= def.removedIn) return "NO_METHOD";
  if (!def.authenticationRequired) return "OK";
  if (c.raw === null) return "ENOTAUTHENTICATED";
  const roles = expandRoles(c.raw);
  if (roles.has("FULL_ADMIN")) return "OK";
  // A fleet user (no role, signed in on fleet access) reaches only the methods marked for it.
  if (roles.size === 0 && !def.fleetUser) return "DENIED";
  if (!def.authorizationRequired) return "OK";
  return def.roles.some((r) => roles.has(r)) ? "OK" : "DENIED";
}

/** The rules of issue 9 point 4, stated independently of the server's code. */
export function expectedOutcome(def: MethodDef, entry: Entry, c: ValidCaller, t: Target, targetRoles: string[]): Outcome {
  const base = byRoles(def, c);
  if (base !== "OK" || c.raw === null) return base;
  const held = expandRoles(c.raw);
  const holds = (r: string) => held.has(r as never);
  if (entry.jobOwnership) return t === "self" || holds("FULL_ADMIN") ? "OK" : "DENIED";
  // Own rows (auth.sessions and api_key.my_keys list them, auth.terminate_session and
  // terminate_other_sessions end them): a user session without the roles reaches its own account's
  // rows; a session limited to a key's roles (the only key caller here) stays within them.
  if (def.owner === "own-rows-or-role") return c.key && !def.roles.some(holds) ? "DENIED" : "OK";
  const selfExempt = t === "self" && def.owner === "self-or-role" && !c.key;
  if (def.owner === "self-or-role" && !selfExempt && !(def.roles.length ? def.roles.some(holds) : holds("FULL_ADMIN"))) return "DENIED";
  if (!selfExempt && ![...expandRoles(targetRoles)].every(holds)) return "DENIED";
  return "OK";
}

export async function observe(client: RpcClient, method: string, args: unknown[], reached?: RegExp): Promise<Outcome> {
  try {
    await client.call(method, ...args);
    return "OK";
  } catch (err: any) {
    if (err.code === -32601) return "NO_METHOD";
    const errname = err.data?.errname;
    if (errname === "ENOTAUTHENTICATED") return "ENOTAUTHENTICATED";
    if (errname === "EACCES" || errname === "EPERM") return "DENIED";
    if (reached?.test(String(err.data?.reason ?? err.message))) return "OK";
    return `ERROR ${errname}: ${String(err.data?.reason ?? err.message).slice(0, 200)}`;
  }
}

/** Every (caller, method, target) call; returns the mismatches as readable lines. */
export async function runValidArgsPass(fx: Fixtures, defs: MethodDef[], callers: ValidCaller[]): Promise<{ mismatches: string[]; calls: number }> {
  const mismatches: string[] = [];
  let calls = 0;
  // Calls that end every other session go last.
  const order = [...defs].sort((x, y) => Number(x.name === "auth.terminate_other_sessions") - Number(y.name === "auth.terminate_other_sessions"));
  for (const def of order) {
    const entry = VALID_ARGS[def.name];
    if (!entry) {
      mismatches.push(`${def.name}: no entry in VALID_ARGS`);
      continue;
    }
    for (const c of callers) {
      for (const t of entry.targets ?? ["plain"]) {
        if (t === "self" && !c.user) continue;
        const why = entry.skip?.(c, t);
        if (why) continue;
        const client = await c.fresh();
        try {
          const spec = await entry.make(fx, c, t, client);
          const want = expectedOutcome(def, entry, c, t, spec.targetRoles ?? []);
          const got = await observe(client, def.name, spec.args, entry.reached);
          calls++;
          if (got !== want) mismatches.push(`${c.name} ${def.name} [${t}]: expected ${want}, got ${got}`);
        } finally {
          await client.close().catch(() => undefined);
        }
      }
    }
  }
  return { mismatches, calls };
}

export { randomName };
