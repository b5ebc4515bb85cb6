// LDAP servers (ldap.server.*): the rows of seed 003's "Add LDAP Server" form plus Gatehouse's
// `security` (LDAPS or STARTTLS), nested groups and timeouts. The bind password is sealed with
// the store's secret box and never returned: entries say only whether one is set.

import { z } from "zod";
import type { Store, Tx } from "../store/db.js";
import type { EventBus } from "../server/events.js";
import type { SecretBox } from "../store/secret-box.js";
import { ValidationErrors, instanceNotFound } from "../server/errors.js";
import { ATTRIBUTE_NAME } from "./ldap-escape.js";
import { LdapSecurity } from "./schemas.js";
import { forgetServerState } from "./ldap-connection.js";
import type { LdapServer } from "./ldap-types.js";

export const BIND_PASSWORD_PURPOSE = "ldap.server.bind_password";

export interface DirectoryContext {
  readonly store: Pick<Store, "db" | "dialect">;
  readonly secretBox: Pick<SecretBox, "seal" | "open">;
  readonly events: Pick<EventBus, "publish">;
}

export type { LdapServer } from "./ldap-types.js";

export type LdapServerEntry = Omit<LdapServer, "bind_password"> & { bind_password_set: boolean };

const text = (max: number) =>
  z
    .string()
    .max(max)
    .refine((s) => !/[\u0000-\u001f\u007f]/.test(s), "Control characters are not allowed");

/** Fields of ldap.server.create (and, all optional, of update and test). */
export const LdapServerFields = {
  hostname: z.string().min(1).max(255),
  domain: text(1024).pipe(z.string().min(1)),
  group_domain: text(1024),
  verify_ssl: z.boolean(),
  user_id_field: z.string().regex(ATTRIBUTE_NAME, "Not an attribute name"),
  group_id_field: z.string().regex(ATTRIBUTE_NAME, "Not an attribute name"),
  bind_dn: text(1024),
  bind_password: z.string().max(1024),
  realm: text(255),
  kdc: text(255),
  security: LdapSecurity,
  nested_groups: z.boolean(),
  position: z.number().int().min(0).max(10_000),
  connect_timeout: z.number().int().min(1).max(60),
  timeout: z.number().int().min(1).max(300),
};

export const ldapServerCreateSchema = z.strictObject({
  hostname: LdapServerFields.hostname,
  domain: LdapServerFields.domain,
  group_domain: LdapServerFields.group_domain.default(""),
  // Seed 003: off by default (TLS itself is always required).
  verify_ssl: LdapServerFields.verify_ssl.default(false),
  user_id_field: LdapServerFields.user_id_field.default("uid"),
  group_id_field: LdapServerFields.group_id_field.default("cn"),
  bind_dn: LdapServerFields.bind_dn.default(""),
  bind_password: LdapServerFields.bind_password.default(""),
  realm: LdapServerFields.realm.default(""),
  kdc: LdapServerFields.kdc.default(""),
  security: LdapServerFields.security.default("LDAPS"),
  nested_groups: LdapServerFields.nested_groups.default(false),
  position: LdapServerFields.position.optional(),
  connect_timeout: LdapServerFields.connect_timeout.default(5),
  timeout: LdapServerFields.timeout.default(10),
});
export type LdapServerCreateInput = z.output<typeof ldapServerCreateSchema>;

export const ldapServerUpdateSchema = z.strictObject(
  Object.fromEntries(Object.entries(LdapServerFields).map(([k, s]) => [k, s.optional()])) as {
    [K in keyof typeof LdapServerFields]: z.ZodOptional<(typeof LdapServerFields)[K]>;
  },
);
export type LdapServerUpdateInput = z.output<typeof ldapServerUpdateSchema>;

/** host, host:port, [v6]:port → host and port (default by security). Null: not a host. */
export function parseHostname(hostname: string, security: "LDAPS" | "STARTTLS"): { host: string; port: number } | null {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9](?:[A-Za-z0-9.-]{0,252})))(?::(\d{1,5}))?$/.exec(hostname.trim());
  if (!m) return null;
  const port = m[3] ? Number(m[3]) : security === "LDAPS" ? 636 : 389;
  if (port < 1 || port > 65535) return null;
  return { host: m[1] ?? m[2], port };
}

function validate(v: ValidationErrors, schema: string, s: Pick<LdapServer, "hostname" | "security" | "domain">): void {
  if (!parseHostname(s.hostname, s.security)) {
    v.add(`${schema}.hostname`, "Expected a host name or IP address, optionally with :port (no ldap:// prefix)", "ldap.invalid_field");
  }
  if (!/^[A-Za-z][A-Za-z0-9-]*=/.test(s.domain.trim())) v.add(`${schema}.domain`, "Expected a base DN such as dc=example,dc=com", "ldap.invalid_field");
}

type Row = Awaited<ReturnType<typeof readRows>>[number];

async function readRows(db: Tx, id?: number) {
  let q = db.selectFrom("ldap_servers").selectAll().orderBy("position").orderBy("id");
  if (id !== undefined) q = q.where("id", "=", id);
  return q.execute();
}

/** Opened bind passwords by sealed text, per secret box (bounded: cleared when full). */
const openedPasswords = new WeakMap<object, Map<string, string>>();
const OPENED_MAX = 1000;

/**
 * A sealed bind password opened, remembered by its sealed text: opening it (AES-GCM) at every
 * login cost a fifth of a millisecond of a directory login's CPU. A changed password is a new
 * sealed text, so nothing goes stale; the plaintext is what the pooled search connection holds anyway.
 */
function openBindPassword(box: Pick<SecretBox, "open">, sealed: string): string {
  let cache = openedPasswords.get(box);
  if (!cache) openedPasswords.set(box, (cache = new Map()));
  let plain = cache.get(sealed);
  if (plain === undefined) {
    plain = box.open(BIND_PASSWORD_PURPOSE, sealed);
    if (cache.size >= OPENED_MAX) cache.clear();
    cache.set(sealed, plain);
  }
  return plain;
}

function serverOf(app: Pick<DirectoryContext, "secretBox">, r: Row): LdapServer {
  return {
    id: r.id,
    position: r.position,
    hostname: r.hostname,
    domain: r.domain,
    group_domain: r.group_domain || r.domain,
    verify_ssl: !!r.verify_ssl,
    user_id_field: r.user_id_field,
    group_id_field: r.group_id_field,
    bind_dn: r.bind_dn ?? "",
    bind_password: r.bind_password ? openBindPassword(app.secretBox, r.bind_password) : "",
    realm: r.realm ?? "",
    kdc: r.kdc ?? "",
    security: r.security === "STARTTLS" ? "STARTTLS" : "LDAPS",
    nested_groups: !!r.nested_groups,
    connect_timeout: Number(r.connect_timeout),
    timeout: Number(r.timeout),
  };
}

function entryOf(r: Row): LdapServerEntry {
  const { bind_password: _secret, ...rest } = serverOf({ secretBox: { open: () => "", seal: () => "" } }, { ...r, bind_password: null });
  return { ...rest, bind_password_set: !!r.bind_password };
}

/**
 * Writes of this process to ldap_servers, counted once each has run: the store's change stamp does
 * not watch the table, so servers kept for logins are kept only while this count stands too.
 */
let serverWrites = 0;

/** The servers a login read, per store, with the stamp and write count they were read at. */
const keptServers = new WeakMap<object, { stamp: string; writes: number; servers: readonly LdapServer[] }>();

/**
 * Every server, in the order logins try them (bind passwords opened: for the LDAP client only).
 * Every directory login asks for them before its first packet: on SQLite they are kept while the
 * change stamp stands (any other process's commit moves it: PRAGMA data_version) and this process
 * wrote no server row since (`serverWrites`); PostgreSQL reads them every time. Shared: never change them.
 */
export async function ldapServers(app: Pick<DirectoryContext, "secretBox"> & { readonly store: Pick<Store, "db" | "dialect"> & Partial<Pick<Store, "changes">> }): Promise<readonly LdapServer[]> {
  const store = app.store;
  const stamp = store.dialect === "sqlite" && store.changes ? store.changes.stamp() : null;
  const kept = stamp === null ? undefined : keptServers.get(store);
  if (kept && kept.stamp === stamp && kept.writes === serverWrites) return kept.servers;
  const writes = serverWrites;
  const servers = (await readRows(store.db)).map((r) => serverOf(app, r));
  if (stamp !== null && store.changes!.stamp() === stamp && serverWrites === writes) keptServers.set(store, { stamp, writes, servers });
  return servers;
}

export async function ldapServerEntries(db: Tx): Promise<LdapServerEntry[]> {
  return (await readRows(db)).map(entryOf);
}

export async function ldapServerById(db: Tx, id: number): Promise<LdapServerEntry> {
  const [row] = await readRows(db, id);
  if (!row) instanceNotFound("LdapServer", id, "ldap.server_not_found");
  return entryOf(row);
}

/**
 * A stored bind password is never sent where it was not going before: a change of the host, the
 * TLS mode or the bind DN, or turning certificate verification off, must give the password again
 * (else a caller who may edit servers but never read the password could point the server at a
 * host of theirs and receive it in the next bind).
 */
function checkPasswordFollows(v: ValidationErrors, schema: string, base: LdapServer, changes: LdapServerUpdateInput): void {
  if (!base.bind_password || changes.bind_password !== undefined) return;
  const moved =
    (changes.hostname !== undefined && changes.hostname.trim().toLowerCase() !== base.hostname.trim().toLowerCase()) ||
    (changes.security !== undefined && changes.security !== base.security) ||
    (changes.bind_dn !== undefined && changes.bind_dn.trim() !== base.bind_dn) ||
    (changes.verify_ssl === false && base.verify_ssl);
  if (moved) {
    v.add(
      `${schema}.bind_password`,
      "Give the bind password again: a stored password is never sent to a changed host, TLS mode or bind DN, nor without the certificate check it had",
      "ldap.bind_password_required",
    );
  }
}

/** The stored server `id` with `changes` applied (bind password kept unless sent): for update and test. */
export async function serverWithChanges(app: Pick<DirectoryContext, "store" | "secretBox">, id: number, changes: LdapServerUpdateInput, schema = "ldap_server_update"): Promise<LdapServer> {
  const [row] = await readRows(app.store.db, id);
  if (!row) instanceNotFound("LdapServer", id, "ldap.server_not_found");
  const base = serverOf(app, row);
  const v = new ValidationErrors();
  checkPasswordFollows(v, schema, base, changes);
  v.check();
  const defined = Object.fromEntries(Object.entries(changes).filter(([, v]) => v !== undefined));
  const merged = { ...base, ...defined } as LdapServer;
  merged.group_domain = (changes.group_domain ?? row.group_domain) || merged.domain;
  return merged;
}

function rowValues(app: Pick<DirectoryContext, "secretBox">, s: Omit<LdapServer, "id">, groupDomainGiven: string) {
  return {
    position: s.position,
    hostname: s.hostname.trim(),
    domain: s.domain.trim(),
    group_domain: groupDomainGiven.trim() || null,
    verify_ssl: s.verify_ssl ? 1 : 0,
    user_id_field: s.user_id_field,
    group_id_field: s.group_id_field,
    bind_dn: s.bind_dn.trim() || null,
    bind_password: s.bind_password ? app.secretBox.seal(BIND_PASSWORD_PURPOSE, s.bind_password) : null,
    realm: s.realm || null,
    kdc: s.kdc || null,
    security: s.security,
    nested_groups: s.nested_groups ? 1 : 0,
    connect_timeout: s.connect_timeout,
    timeout: s.timeout,
  };
}

export async function createLdapServer(app: DirectoryContext, data: LdapServerCreateInput): Promise<LdapServerEntry> {
  const v = new ValidationErrors();
  validate(v, "ldap_server_create", data);
  v.check();
  const db = app.store.db;
  const last = await db
    .selectFrom("ldap_servers")
    .select((eb) => eb.fn.max("position").as("p"))
    .executeTakeFirst();
  const position = data.position ?? (last?.p === null || last?.p === undefined ? 0 : Number(last.p) + 1);
  const row = await db
    .insertInto("ldap_servers")
    .values(rowValues(app, { ...data, position, group_domain: data.group_domain || data.domain }, data.group_domain))
    .returning("id")
    .executeTakeFirstOrThrow()
    .finally(() => serverWrites++);
  const entry = await ldapServerById(db, row.id);
  app.events.publish("ldap.server.query", "added", entry.id, entry);
  return entry;
}

export async function updateLdapServer(app: DirectoryContext, id: number, changes: LdapServerUpdateInput): Promise<LdapServerEntry> {
  const [row] = await readRows(app.store.db, id);
  if (!row) instanceNotFound("LdapServer", id, "ldap.server_not_found");
  const merged = await serverWithChanges(app, id, changes);
  const v = new ValidationErrors();
  validate(v, "ldap_server_update", merged);
  v.check();
  const groupDomain = changes.group_domain ?? row.group_domain ?? "";
  await app.store.db
    .updateTable("ldap_servers")
    .set(rowValues(app, merged, groupDomain))
    .where("id", "=", id)
    .execute()
    .finally(() => serverWrites++);
  forgetServerState(id);
  const entry = await ldapServerById(app.store.db, id);
  app.events.publish("ldap.server.query", "changed", id, entry);
  return entry;
}

export async function deleteLdapServer(app: DirectoryContext, id: number): Promise<true> {
  await ldapServerById(app.store.db, id);
  await app.store.db
    .deleteFrom("ldap_servers")
    .where("id", "=", id)
    .execute()
    .finally(() => serverWrites++);
  forgetServerState(id);
  app.events.publish("ldap.server.query", "removed", id);
  return true;
}
