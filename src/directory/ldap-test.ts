// ldap.server.test (each step — connect, TLS, bind, search — with its result and reason) and
// ldap.server.test_login (what a real login would do, creating and changing nothing).

import net from "node:net";
import type { Tx } from "../store/db.js";
import { expandRoles } from "../access/roles.js";
import { grantOfUser } from "../access/privileges.js";
import { trustedCas } from "./certificate-authorities.js";
import { parseHostname, ldapServers, ldapServerCreateSchema, serverWithChanges, type LdapServer, type DirectoryContext } from "./ldap-servers.js";
import { ValidationErrors } from "../server/errors.js";
import { LdapUnavailableError, connect, search, tryBind } from "./ldap-connection.js";
import { authenticate } from "./ldap-auth.js";
import { ldapConfig, mappedTeams } from "./ldap-config.js";
import { directoryGrant, teamChanges, uidFromDirectory } from "./directory-users.js";

type Step = { step: "CONNECT" | "TLS" | "BIND" | "SEARCH"; ok: boolean; message: string };

function tcpConnect(host: string, port: number, timeoutMs: number): Promise<string | null> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    const done = (reason: string | null) => {
      clearTimeout(timer);
      s.destroy();
      resolve(reason);
    };
    const timer = setTimeout(() => done(`ETIMEDOUT: no connection within ${timeoutMs / 1000} s`), timeoutMs);
    s.once("connect", () => done(null));
    s.once("error", (err: NodeJS.ErrnoException) => done(`${err.code ?? "ERROR"}: ${err.message}`));
  });
}

const reason = (err: unknown) => (err instanceof Error ? err.message : String(err));

/** Run the steps against `server` (not necessarily saved); stops at the first failing step. */
export async function testServer(db: Tx, server: LdapServer): Promise<{ ok: boolean; steps: Step[] }> {
  const steps: Step[] = [];
  const fail = (step: Step["step"], message: string) => {
    steps.push({ step, ok: false, message });
    return { ok: false, steps };
  };
  const endpoint = parseHostname(server.hostname, server.security);
  if (!endpoint) return fail("CONNECT", `Invalid hostname ${server.hostname}`);
  const tcp = await tcpConnect(endpoint.host, endpoint.port, server.connect_timeout * 1000);
  if (tcp) return fail("CONNECT", `${endpoint.host}:${endpoint.port}: ${tcp}`);
  steps.push({ step: "CONNECT", ok: true, message: `Connected to ${endpoint.host}:${endpoint.port}` });
  const trusted = await trustedCas(db);
  let client: Awaited<ReturnType<typeof connect>>;
  try {
    client = await connect(server, endpoint, trusted);
  } catch (err) {
    return fail("TLS", `${server.security}: ${reason(err)}`);
  }
  steps.push({
    step: "TLS",
    ok: true,
    message: `${server.security} established; certificate ${server.verify_ssl ? "verified against the system roots and registered CAs" : "NOT verified (verify SSL is off)"}`,
  });
  try {
    if (!server.bind_dn) {
      steps.push({ step: "BIND", ok: true, message: `Direct bind: users bind as ${server.user_id_field}=<username>,${server.domain}` });
    } else if (!server.bind_password) {
      steps.push({ step: "BIND", ok: true, message: "No bind password: users are searched anonymously (no bind is made with the bind DN)" });
    } else if (await tryBind(client, server.bind_dn, server.bind_password)) {
      steps.push({ step: "BIND", ok: true, message: `Bound as ${server.bind_dn}` });
    } else {
      return fail("BIND", `The server refused the bind DN ${server.bind_dn} and its password`);
    }
    const scope = server.bind_dn ? "sub" : "base";
    const entries = await search(client, server.domain, { scope, filter: scope === "sub" ? `(${server.user_id_field}=*)` : "(objectClass=*)", attributes: ["1.1"] });
    if (!entries.length) return fail("SEARCH", `Nothing found under ${server.domain} (wrong domain, or no read access)`);
    steps.push({ step: "SEARCH", ok: true, message: scope === "sub" ? `Found ${entries.length} users under ${server.domain} (paged)` : `${server.domain} exists` });
    return { ok: true, steps };
  } catch (err) {
    const e = err as Error;
    return fail(steps.some((s) => s.step === "BIND") ? "SEARCH" : "BIND", e instanceof LdapUnavailableError ? e.message : `${e.name}: ${e.message}`);
  } finally {
    await client.unbind().catch(() => {});
  }
}

/** ldap.server.test_login: the directory's answer and what a login would make of it (nothing written). */
export async function testLogin(app: Pick<DirectoryContext, "store" | "secretBox">, username: string, password: string) {
  const db = app.store.db;
  const empty = { server: null, dn: null, groups: [] as string[], local_user: null, would_create: false, roles: [] as string[], teams: [] as { id: number; name: string }[], uid: null };
  const servers = await ldapServers(app);
  if (!servers.length) return { ...empty, ok: false, reason: "No LDAP server is configured" };
  const local = await db.selectFrom("users").select(["id", "username", "source", "ldap_username"]).where("username", "=", username).executeTakeFirst();
  if (local && local.source !== "LDAP") return { ...empty, ok: false, reason: `${username} is a local account: its password is checked here, not in the directory`, local_user: local.username };
  const answer = await authenticate(servers, await trustedCas(db), local?.ldap_username || username, password);
  if (answer.kind !== "ok") return { ...empty, ok: false, reason: answer.kind === "no_servers" ? "No LDAP server is configured" : answer.reason, local_user: local?.username ?? null };
  const id = answer.identity;
  const config = await ldapConfig(db);
  const wouldCreate = !local && config.allow_user_creation;
  const mapped = mappedTeams(config, id.groups);
  let teamIds: number[];
  if (local) {
    const change = await teamChanges(db, local.id, mapped);
    const current = (await db.selectFrom("team_members").select("team_id").where("user_id", "=", local.id).execute()).map((r) => r.team_id);
    teamIds = [...new Set([...current.filter((t) => !change.remove.includes(t)), ...change.add])];
  } else {
    teamIds = wouldCreate ? [...new Set([...config.join_teams, ...mapped])] : [];
  }
  const grant = await directoryGrant(db, id.groups, id.groupGids);
  const localRoles = local ? (await grantOfUser(db, local.id)).roles : [];
  const teams = teamIds.length ? await db.selectFrom("teams").select(["id", "name"]).where("id", "in", teamIds).orderBy("id").execute() : [];
  return {
    ok: true,
    reason: local || wouldCreate ? null : "The directory accepted the credentials, but there is no local record and user creation is off: the login would be refused",
    server: id.server.hostname,
    dn: id.dn,
    groups: id.groups,
    local_user: local?.username ?? null,
    would_create: wouldCreate,
    roles: local || wouldCreate ? [...expandRoles([...new Set([...grant.roles, ...localRoles])])].sort() : [],
    teams,
    uid: wouldCreate ? await uidFromDirectory(db, id.uidNumber) : null,
  };
}

/** ldap.server.test input: a saved server's settings (`id`) with changes, or new settings. */
export async function testServerSettings(app: Pick<DirectoryContext, "store" | "secretBox">, data: import("./ldap-servers.js").LdapServerUpdateInput & { id?: number }) {
  const { id, ...changes } = data;
  let server: LdapServer;
  if (id !== undefined) {
    server = await serverWithChanges(app, id, changes, "ldap_server_test");
  } else {
    const v = new ValidationErrors();
    if (!changes.hostname) v.add("ldap_server_test.hostname", "Field required", "core.field_required");
    if (!changes.domain) v.add("ldap_server_test.domain", "Field required", "core.field_required");
    v.check();
    server = { ...ldapServerCreateSchema.parse({ hostname: changes.hostname, domain: changes.domain }), ...changes, id: 0, position: 0 } as LdapServer;
    server.group_domain ||= server.domain;
  }
  return testServer(app.store.db, server);
}
