// Checking a user's password against the directory (seed 003): direct bind (bind as
// `<user_id_field>=<username>,<domain>`) or indirect bind (search for the user as the bind DN —
// or anonymously when the bind password is empty —, then bind as the DN found); then the user's
// entry and groups are read. Several servers are tried in order; a server that cannot be reached
// is skipped for a minute; an outage is reported as such, never as a wrong password.

import type { Client, Entry } from "ldapts";
import { escapeDnValue, escapeFilterValue } from "./ldap-escape.js";
import { parseHostname, type LdapServer } from "./ldap-servers.js";
import { LdapUnavailableError, attr, attrs, connect, dropServiceClient, isDead, markAlive, markDead, search, serviceClient, tryBind } from "./ldap-connection.js";

/** The user attributes a login reads. */
const USER_ATTRIBUTES = ["uid", "cn", "uidNumber", "gidNumber", "homeDirectory", "memberOf", "displayName"];

export interface DirectoryIdentity {
  server: LdapServer;
  dn: string;
  /** The user's naming value (user_id_field) as the directory holds it. */
  name: string;
  fullName: string;
  uidNumber: number | null;
  gidNumber: number | null;
  homeDirectory: string;
  /** Full DNs of the user's groups (as the directory wrote them). */
  groups: string[];
  /** gidNumbers of the user's posix groups. */
  groupGids: number[];
}

export type ServerAnswer =
  | { kind: "ok"; identity: DirectoryIdentity }
  /** `found`: the user exists (indirect bind found the DN) and the password was wrong. */
  | { kind: "rejected"; reason: string; found: boolean };

export type DirectoryAnswer = ServerAnswer | { kind: "unavailable"; reason: string } | { kind: "no_servers" };

/** Input that can never authenticate: refused before any connection (empty password: RFC 4513 §5.1.2). */
export function refusedInput(username: string, password: string): string | null {
  if (!password) return "Empty password refused (it would be an unauthenticated bind)";
  if (!username || username.length > 256) return "Empty or over-long user name";
  if (/[\u0000-\u001f\u007f]/.test(username) || password.includes("\u0000")) return "Control characters in the user name or password";
  return null;
}

const num = (s: string): number | null => (/^\d{1,10}$/.test(s) ? Number(s) : null);

function identityOf(server: LdapServer, dn: string, entry: Entry | undefined, fallbackName: string, groups: { dns: string[]; gids: number[] }): DirectoryIdentity {
  return {
    server,
    dn,
    name: (entry && attr(entry, server.user_id_field)) || fallbackName,
    fullName: (entry && (attr(entry, "displayName") || attr(entry, "cn"))) || fallbackName,
    uidNumber: entry ? num(attr(entry, "uidNumber")) : null,
    gidNumber: entry ? num(attr(entry, "gidNumber")) : null,
    homeDirectory: entry ? attr(entry, "homeDirectory") : "",
    groups: groups.dns,
    // The primary group (gidNumber) is a membership too: privileges may name it by number.
    groupGids: [...new Set([...groups.gids, ...(entry && num(attr(entry, "gidNumber")) !== null ? [num(attr(entry, "gidNumber"))!] : [])])],
  };
}

/** Groups holding `dn` (member, uniqueMember), `memberUid=<name>`, plus the entry's memberOf; nested when the server says so. */
export async function readGroups(client: Client, server: LdapServer, dn: string, name: string, memberOf: string[]): Promise<{ dns: string[]; gids: number[] }> {
  const attributes = [server.group_id_field, "gidNumber"];
  const seen = new Map<string, number | null>();
  const add = (e: Entry) => {
    if (!seen.has(e.dn.toLowerCase())) seen.set(e.dn.toLowerCase(), num(attr(e, "gidNumber")));
    return e.dn;
  };
  const dnOf = new Map<string, string>();
  const first = await search(client, server.group_domain, {
    filter: `(|(member=${escapeFilterValue(dn)})(uniqueMember=${escapeFilterValue(dn)})(memberUid=${escapeFilterValue(name)}))`,
    attributes,
  });
  for (const e of first) dnOf.set(e.dn.toLowerCase(), add(e));
  for (const m of memberOf) if (!dnOf.has(m.toLowerCase())) dnOf.set(m.toLowerCase(), m);
  if (server.nested_groups) {
    let frontier = [...dnOf.values()];
    for (let depth = 0; depth < 10 && frontier.length; depth++) {
      const parts = frontier.slice(0, 200).flatMap((g) => [`(member=${escapeFilterValue(g)})`, `(uniqueMember=${escapeFilterValue(g)})`]);
      const found = await search(client, server.group_domain, { filter: `(|${parts.join("")})`, attributes });
      frontier = [];
      for (const e of found) {
        if (dnOf.has(e.dn.toLowerCase())) continue;
        dnOf.set(e.dn.toLowerCase(), add(e));
        frontier.push(e.dn);
      }
    }
  }
  const gids = [...seen.values()].filter((g): g is number => g !== null);
  return { dns: [...dnOf.values()], gids };
}

async function directBind(server: LdapServer, endpoint: { host: string; port: number }, trusted: readonly string[], username: string, password: string): Promise<ServerAnswer> {
  const dn = `${server.user_id_field}=${escapeDnValue(username)},${server.domain}`;
  const client = await connect(server, endpoint, trusted);
  try {
    if (!(await tryBind(client, dn, password))) return { kind: "rejected", reason: "The directory refused the user name or password", found: false };
    // The entry and the groups in one round trip (the DN and the name are known): memberOf comes with the entry.
    const [[entry], groups] = await Promise.all([
      search(client, dn, { scope: "base", filter: "(objectClass=*)", attributes: USER_ATTRIBUTES, paged: false }),
      readGroups(client, server, dn, username, []),
    ]);
    const memberOf = entry ? attrs(entry, "memberOf").filter((g) => !groups.dns.some((d) => d.toLowerCase() === g.toLowerCase())) : [];
    return { kind: "ok", identity: identityOf(server, entry?.dn ?? dn, entry, username, { dns: [...groups.dns, ...memberOf], gids: groups.gids }) };
  } finally {
    closeBehind(client);
  }
}

/**
 * Close a user's connection behind the answer: the unbind (a TLS write and the socket's end, timed
 * at ~0.2 ms of a login on a loaded machine) runs a little later, once the login's reply has gone,
 * instead of in front of it. The connection is bound as that user and used by nothing else
 * meanwhile; errors are moot then.
 */
export const CLOSE_BEHIND_MS = 20;
function closeBehind(client: Client): void {
  setTimeout(() => void client.unbind().catch(() => {}), CLOSE_BEHIND_MS).unref();
}

/** Find the user's entry with the pooled search connection (retried once on a fresh one). */
async function findUser(server: LdapServer, endpoint: { host: string; port: number }, trusted: readonly string[], username: string): Promise<{ entries: Entry[]; svc: Client }> {
  for (let attempt = 0; ; attempt++) {
    const svc = await serviceClient(server, endpoint, trusted);
    try {
      const entries = await search(svc, server.domain, {
        filter: `(${server.user_id_field}=${escapeFilterValue(username)})`,
        attributes: USER_ATTRIBUTES,
        sizeLimit: 2,
        paged: false,
      }).catch((err) => {
        if ((err as { name?: string }).name === "SizeLimitExceededError") return [{ dn: "" }, { dn: "" }] as Entry[];
        throw err;
      });
      return { entries, svc };
    } catch (err) {
      dropServiceClient(server.id);
      if (attempt > 0 || !(err instanceof LdapUnavailableError) || err.step === "TLS") throw err;
    }
  }
}

async function indirectBind(server: LdapServer, endpoint: { host: string; port: number }, trusted: readonly string[], username: string, password: string): Promise<ServerAnswer> {
  const { entries, svc } = await findUser(server, endpoint, trusted, username);
  if (entries.length === 0) return { kind: "rejected", reason: "No such user in the directory", found: false };
  if (entries.length > 1) return { kind: "rejected", reason: "The user name matches more than one directory entry", found: false };
  const entry = entries[0];
  const name = attr(entry, server.user_id_field) || username;
  // The password check (a fresh TLS connection) and the group search (pooled) run side by side;
  // the groups are dropped unless the password is right.
  const bound = (async () => {
    const client = await connect(server, endpoint, trusted);
    try {
      return await tryBind(client, entry.dn, password);
    } finally {
      closeBehind(client);
    }
  })();
  const [ok, groups] = await Promise.allSettled([bound, readGroups(svc, server, entry.dn, name, attrs(entry, "memberOf"))]);
  if (ok.status === "rejected") throw ok.reason;
  if (!ok.value) return { kind: "rejected", reason: "The directory refused the password", found: true };
  if (groups.status === "rejected") throw groups.reason;
  return { kind: "ok", identity: identityOf(server, entry.dn, entry, username, groups.value) };
}

/** One server: its answer, or LdapUnavailableError. */
export async function authenticateOn(server: LdapServer, trusted: readonly string[], username: string, password: string): Promise<ServerAnswer> {
  const endpoint = parseHostname(server.hostname, server.security);
  if (!endpoint) throw new LdapUnavailableError(`Invalid hostname ${server.hostname}`, "CONNECT");
  const refused = refusedInput(username, password);
  if (refused) return { kind: "rejected", reason: refused, found: false };
  return server.bind_dn ? indirectBind(server, endpoint, trusted, username, password) : directBind(server, endpoint, trusted, username, password);
}

/**
 * Try the servers in order (servers that failed within the last minute last). The first that
 * accepts wins. A wrong password for a user a server found is a rejection; otherwise, if any server
 * could not be asked, the answer is `unavailable` (the user may live there): an outage never
 * counts as a wrong password.
 */
export async function authenticate(servers: readonly LdapServer[], trusted: readonly string[], username: string, password: string): Promise<DirectoryAnswer> {
  if (!servers.length) return { kind: "no_servers" };
  const refused = refusedInput(username, password);
  if (refused) return { kind: "rejected", reason: refused, found: false };
  const ordered = [...servers.filter((s) => !isDead(s.id)), ...servers.filter((s) => isDead(s.id))];
  const outages: string[] = [];
  let rejection: ServerAnswer | null = null;
  for (const server of ordered) {
    try {
      const answer = await authenticateOn(server, trusted, username, password);
      markAlive(server.id);
      if (answer.kind === "ok") return answer;
      if (answer.found) return answer;
      rejection ??= answer;
    } catch (err) {
      if (!(err instanceof LdapUnavailableError)) throw err;
      markDead(server.id);
      outages.push(`${server.hostname}: ${err.message}`);
    }
  }
  if (outages.length) return { kind: "unavailable", reason: outages.join("; ") };
  return rejection ?? { kind: "rejected", reason: "The directory refused the user name or password", found: false };
}

/**
 * Whether the directory could be asked about `username`, without sending any password: the same
 * servers in the same order, and the same connections an unknown name's login makes (the pooled
 * search for indirect bind, a TLS connection for direct bind), never a bind as the user. The
 * outage's reason, as authenticate() would give it for an unknown name, or null when the servers
 * answered (or the name was found: then authenticate() would have answered a rejection).
 * Used for a local account's failed password, so that while the directory is down a local name
 * answers like an unknown one (src/directory/directory-users.ts directoryOutage).
 */
export async function probeDirectory(servers: readonly LdapServer[], trusted: readonly string[], username: string): Promise<string | null> {
  const ordered = [...servers.filter((s) => !isDead(s.id)), ...servers.filter((s) => isDead(s.id))];
  const outages: string[] = [];
  for (const server of ordered) {
    try {
      const endpoint = parseHostname(server.hostname, server.security);
      if (!endpoint) throw new LdapUnavailableError(`Invalid hostname ${server.hostname}`, "CONNECT");
      if (server.bind_dn) {
        const { entries } = await findUser(server, endpoint, trusted, username);
        markAlive(server.id);
        if (entries.length === 1) return null;
      } else {
        const client = await connect(server, endpoint, trusted);
        void client.unbind().catch(() => {});
        markAlive(server.id);
      }
    } catch (err) {
      if (!(err instanceof LdapUnavailableError)) throw err;
      markDead(server.id);
      outages.push(`${server.hostname}: ${err.message}`);
    }
  }
  return outages.length ? outages.join("; ") : null;
}

/** Look a user up without their password (indirect-bind servers only: ldap.sync). Null: not there. */
export async function lookupUser(server: LdapServer, trusted: readonly string[], username: string): Promise<DirectoryIdentity | null> {
  const endpoint = parseHostname(server.hostname, server.security);
  if (!endpoint) throw new LdapUnavailableError(`Invalid hostname ${server.hostname}`, "CONNECT");
  if (refusedInput(username, "x")) return null;
  const { entries, svc } = await findUser(server, endpoint, trusted, username);
  if (entries.length !== 1) return null;
  const entry = entries[0];
  const name = attr(entry, server.user_id_field) || username;
  const groups = await readGroups(svc, server, entry.dn, name, attrs(entry, "memberOf"));
  return identityOf(server, entry.dn, entry, username, groups);
}
