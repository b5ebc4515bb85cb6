// Directory users (issue 12 point 5): what a successful directory login does locally. With user
// creation on, the first login makes a local record (source LDAP, no local password, `*` in
// shadow; uid from uidNumber only when ≥ 1000 and free; primary group from gidNumber when it maps
// to a local group; home from homeDirectory only inside a storage root) and joins it to the
// "join teams". At every login the team mappings are re-applied: memberships a mapping made
// (team_members.origin = 'LDAP') are added and removed; others are never touched. Rights come from
// the privileges naming the user's directory groups (ds_groups, full DNs or gidNumbers).

import { statSync } from "node:fs";
import type { AccountsApp } from "../accounts/context.js";
import { insideStorageRoot } from "../accounts/context.js";
import { changeOf, type ChangeEvent } from "../store/change-event.js";
import { recordChange } from "../store/changes.js";
import { createUser } from "../accounts/user-create.js";
import { MAX_LOCAL_ID, idStart } from "../accounts/account-settings.js";
import { NO_HOME } from "../accounts/home.js";
import { grantOfUser, grantOfUserNow, type Grant } from "../access/privileges.js";
import type { SecretBox } from "../store/secret-box.js";
import type { Db, Tx } from "../store/db.js";
import { CallError, ValidationErrors } from "../server/errors.js";
import type { DirectoryLocalRecord } from "../auth/login.js";
import { param, prepare } from "../auth/prepared.js";
import { normalizeDn } from "./ldap-escape.js";
import { ldapServers } from "./ldap-servers.js";
import { trustedCas } from "./certificate-authorities.js";
import { authenticate, probeDirectory, refusedInput, type DirectoryIdentity } from "./ldap-auth.js";
import { ldapConfig, ldapConfigNow, mappedTeams, type LdapConfig } from "./ldap-config.js";

/** What the directory area needs of the application (src/app.ts App satisfies it). */
export interface DirectoryApp extends AccountsApp {
  readonly secretBox: Pick<SecretBox, "seal" | "open">;
  /** Publish a committed change (src/app.ts App.changed). */
  changed(ev: ChangeEvent): void;
}

const privileges = prepare<[]>()(0, (db) => db.selectFrom("privileges").select(["ds_groups", "roles", "web_shell"]).compile());
const privilegeRows = (db: Tx) => privileges.rows(db);
type DirectoryPrivilege = Awaited<ReturnType<typeof privilegeRows>>[number];

/** The grant of the privileges naming any of the user's directory groups (by normalised DN or gidNumber). */
export async function directoryGrant(db: Tx, groups: readonly string[], gids: readonly number[]): Promise<Grant> {
  return grantOfDirectoryGroups(await privilegeRows(db), groups, gids);
}

function grantOfDirectoryGroups(privileges: readonly DirectoryPrivilege[], groups: readonly string[], gids: readonly number[]): Grant {
  const dns = new Set(groups.map(normalizeDn));
  const gidSet = new Set(gids);
  const roles = new Set<string>();
  let webShell = false;
  for (const p of privileges) {
    const names = JSON.parse(p.ds_groups) as (number | string)[];
    const hit = names.some((g) => (typeof g === "number" ? gidSet.has(g) : dns.has(normalizeDn(g))));
    if (!hit) continue;
    for (const r of JSON.parse(p.roles) as string[]) roles.add(r);
    webShell ||= !!p.web_shell;
  }
  return { roles: [...roles], webShell };
}

function unionGrant(a: Grant, b: Grant): Grant {
  return { roles: [...new Set([...a.roles, ...b.roles])], webShell: a.webShell || b.webShell };
}

/** The uid a created record gets from uidNumber: only ≥ the automatic range's start (≥ 1000) and free; else null (allocated). */
export async function uidFromDirectory(db: Tx, uidNumber: number | null): Promise<number | null> {
  if (uidNumber === null || uidNumber < Math.max(1000, await idStart(db)) || uidNumber > MAX_LOCAL_ID) return null;
  const taken = await db.selectFrom("users").select("id").where("uid", "=", uidNumber).executeTakeFirst();
  return taken ? null : uidNumber;
}

/** The home a created record gets: homeDirectory when it is an existing directory inside a storage root, else /var/empty. */
function homeFromDirectory(app: Pick<AccountsApp, "config">, home: string): string {
  if (!home.startsWith("/") || !insideStorageRoot(app, home)) return NO_HOME;
  try {
    return statSync(home).isDirectory() ? home : NO_HOME;
  } catch {
    return NO_HOME;
  }
}

/** Make the local record of a directory user at its first login; returns its id. */
async function createDirectoryUser(app: DirectoryApp, username: string, id: DirectoryIdentity, config: LdapConfig): Promise<number> {
  const db = app.store.db;
  const primary = id.gidNumber === null ? undefined : await db.selectFrom("groups").select("id").where("gid", "=", id.gidNumber).where("builtin", "=", 0).executeTakeFirst();
  const base = {
    username,
    full_name: id.fullName.slice(0, 256),
    source: "LDAP" as const,
    ldap_username: id.name !== username ? id.name : null,
    home: homeFromDirectory(app, id.homeDirectory),
    smb: false,
    ...(primary ? { group: primary.id } : { group_create: true }),
  };
  const ctx = { app, session: null };
  const uid = await uidFromDirectory(db, id.uidNumber);
  let entry: { id: number };
  try {
    entry = await createUser(ctx, { ...base, uid });
  } catch (err) {
    // The uid was taken meanwhile (or the home refused): allocate instead, at the default home.
    if (!(err instanceof ValidationErrors) || uid === null) throw err;
    entry = await createUser(ctx, { ...base, uid: null, home: NO_HOME });
  }
  if (config.join_teams.length) {
    const change = changeOf({ users: [entry.id], teams: config.join_teams });
    await db.transaction().execute(async (trx) => {
      await trx
        .insertInto("team_members")
        .values(config.join_teams.map((team_id) => ({ team_id, user_id: entry.id, origin: "LOCAL" })))
        .onConflict((oc) => oc.doNothing())
        .execute();
      await recordChange(trx, change);
    });
    app.changed(change);
  }
  return entry.id;
}

export interface TeamChange {
  add: number[];
  remove: number[];
}

const memberships = prepare<[userId: number]>()(1, (db) => db.selectFrom("team_members").select(["team_id", "origin"]).where("user_id", "=", param<number>(0)).compile());
const membershipRows = (db: Tx, userId: number) => memberships.rows(db, userId);
type Membership = Awaited<ReturnType<typeof membershipRows>>[number];

/** What re-applying the mappings changes for `userId`: add the mapped teams it lacks, remove LDAP-made memberships no longer mapped. */
export async function teamChanges(db: Tx, userId: number, desired: readonly number[]): Promise<TeamChange> {
  return teamChangesOf(await membershipRows(db, userId), desired);
}

function teamChangesOf(rows: readonly Membership[], desired: readonly number[]): TeamChange {
  const want = new Set(desired);
  const have = new Set(rows.map((r) => r.team_id));
  return {
    add: desired.filter((t) => !have.has(t)),
    remove: rows.filter((r) => r.origin === "LDAP" && !want.has(r.team_id)).map((r) => r.team_id),
  };
}

/** Apply a TeamChange (memberships made here are marked origin LDAP). */
export async function applyTeamChanges(app: Pick<DirectoryApp, "store" | "changed">, userId: number, change: TeamChange): Promise<void> {
  if (!change.add.length && !change.remove.length) return;
  const event: ChangeEvent = changeOf({ users: [userId], teams: [...change.add, ...change.remove] });
  await app.store.db.transaction().execute(async (trx) => {
    if (change.remove.length) {
      await trx.deleteFrom("team_members").where("user_id", "=", userId).where("origin", "=", "LDAP").where("team_id", "in", change.remove).execute();
    }
    if (change.add.length) {
      await trx
        .insertInto("team_members")
        .values(change.add.map((team_id) => ({ team_id, user_id: userId, origin: "LDAP" })))
        .onConflict((oc) => oc.doNothing())
        .execute();
    }
    await recordChange(trx, event);
  });
  app.changed(event);
}

/** The local record a directory login signs in (built once: this runs at every login). */
const localRecord = prepare<[username: string]>()(1, (db) => db.selectFrom("users").select(["id", "source", "ldap_username"]).where("username", "=", param<string>(0)).compile());

/** What a directory login reads from the store besides the directory's answer. */
interface LoginReads {
  config: LdapConfig;
  privileges: DirectoryPrivilege[];
  /** The local record's team memberships and local grant (null: no local record yet). */
  memberships: Membership[] | null;
  localGrant: Grant | null;
  /** The store's change stamp before the reads (null: changes cannot be tracked). */
  stamp: string | null;
}

async function loginReads(app: Pick<DirectoryApp, "store">, userId: number | undefined): Promise<LoginReads> {
  const db = app.store.db;
  const stamp = app.store.changes.stamp();
  const now = loginReadsNow(db, userId, stamp);
  if (now) return now;
  const [config, privileges, memberships, localGrant] = await Promise.all([
    ldapConfig(db),
    privilegeRows(db),
    userId === undefined ? null : membershipRows(db, userId),
    userId === undefined ? null : grantOfUser(db, userId),
  ]);
  return { config, privileges, memberships, localGrant, stamp };
}

/** loginReads at once, in one synchronous run, on SQLite when the store's connection is free (Prepared.rowsNow); null: await them. */
function loginReadsNow(db: Db, userId: number | undefined, stamp: string | null): LoginReads | null {
  const config = ldapConfigNow(db);
  const rows = config && privileges.rowsNow(db);
  if (!config || !rows) return null;
  if (userId === undefined) return { config, privileges: rows, memberships: null, localGrant: null, stamp };
  const held = memberships.rowsNow(db, userId);
  const localGrant = held && grantOfUserNow(db, userId);
  return localGrant ? { config, privileges: rows, memberships: held, localGrant, stamp } : null;
}

/**
 * The outage hook (AuthService.directoryOutage), asked after a local account's password failed:
 * the reason the directory cannot be reached, as an unknown name's login would report it, or null
 * (no directory, input refused before any connection as for an unknown name, or the servers
 * answer). Sends no password anywhere.
 */
export async function directoryOutage(app: DirectoryApp, username: string, password: string): Promise<string | null> {
  const servers = await ldapServers(app);
  if (!servers.length || refusedInput(username, password)) return null;
  const trusted = servers.some((s) => s.verify_ssl) ? await trustedCas(app.store.db) : [];
  return probeDirectory(servers, trusted, username);
}

/**
 * The login hook (AuthService.directoryLogin): the directory's answer for `username`. Returns the
 * local user id and the directory grant on success; null when the directory refused (a wrong
 * password — counted by the caller) or the user may not sign in here; throws `ldap.unavailable`
 * when no server could be asked (an outage — never counted as a wrong password).
 *
 * The store reads that do not depend on the directory's answer (options, privileges, the local
 * record's teams and grant) run while the directory works, so a login costs the directory's round
 * trips and little more; they are read again after the answer if the store changed meanwhile
 * (the change feed's stamp moved), so a privilege changed during a slow bind still counts.
 */
export async function directoryLogin(app: DirectoryApp, username: string, password: string, known?: DirectoryLocalRecord | null): Promise<{ userId: number; grant: Grant } | null> {
  const db = app.store.db;
  // The local record as the login read it a moment ago when it passes it (else read here, at the
  // same time as the servers): every step before the directory's first packet delays the login.
  const [servers, local] = await Promise.all([ldapServers(app), known !== undefined ? known : localRecord.first(db, username)]);
  if (!servers.length) return null;
  if (local && local.source !== "LDAP") return null;
  // The trust list (Node's roots + registered CAs) is read only when a server verifies certificates.
  const trusted = servers.some((s) => s.verify_ssl) ? await trustedCas(db) : [];
  // The directory first (its connection is opened in this call), then the store reads, which
  // run while the TLS handshake is under way: once this turn's queued work is done (setImmediate),
  // so an indirect bind's pooled search, sent a few promise steps from now, goes out before them.
  const asking = authenticate(servers, trusted, local?.ldap_username || username, password);
  const early = new Promise<LoginReads>((resolve, reject) => setImmediate(() => loginReads(app, local?.id).then(resolve, reject)));
  // Handled here too: a failed read must not be an unhandled rejection while the directory works.
  early.catch(() => {});
  const answer = await asking;
  if (answer.kind === "unavailable") throw new CallError(`The directory could not be reached: ${answer.reason}`, "ldap.unavailable");
  if (answer.kind !== "ok") return null;
  let reads = await early;
  if (reads.stamp === null || reads.stamp !== app.store.changes.stamp()) reads = await loginReads(app, local?.id);
  let userId = local?.id;
  if (userId === undefined) {
    if (!reads.config.allow_user_creation) return null;
    try {
      userId = await createDirectoryUser(app, username, answer.identity, reads.config);
    } catch (err) {
      // A name the directory allows but a local account cannot have, or a concurrent first login.
      const made = await db.selectFrom("users").select(["id", "source"]).where("username", "=", username).executeTakeFirst();
      if (made?.source !== "LDAP") {
        app.log.warn({ err, username }, "directory login: the local record could not be created");
        return null;
      }
      userId = made.id;
    }
  }
  const id = answer.identity;
  const memberships = reads.memberships ?? (await membershipRows(db, userId));
  const teams = teamChangesOf(memberships, mappedTeams(reads.config, id.groups));
  if (teams.add.length || teams.remove.length) await applyTeamChanges(app, userId, teams);
  const localGrant = reads.localGrant ?? (await grantOfUser(db, userId));
  const grant = unionGrant(localGrant, grantOfDirectoryGroups(reads.privileges, id.groups, id.groupGids));
  return { userId, grant };
}
