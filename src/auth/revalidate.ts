// What a live session is checked against when its account may have changed: its own row (ended
// elsewhere?), the account (deleted, locked, password changed or disabled), the API key it came
// from (deleted, revoked, expired), and what the account may now do (privileges, groups, the key's
// roles, STIG). One statement reads all of it; `judgeSession` decides whether the session ends
// (and why) or which rights it has from now on. Used on every call after the change feed moved
// (./service.ts) and by token logins, so no path that changes an account is missed.

import { sql } from "kysely";
import type { RightsContext, StoreContext } from "./context.js";
import type { Session } from "./session.js";
import { accessFor, type Access } from "../access/authorize.js";
import { grantOfLocalGroups, hasFleetAccess, type Grant } from "../access/privileges.js";
import { grantAggregates, isPostgres, param, prepare } from "./prepared.js";
import { SECURITY_KEY, securityFromStored } from "./policy.js";
import { sha256 } from "./secrets.js";
import type { ChangeEvent } from "../store/change-event.js";

/** Why sessions end when their account changes (told to the connection, written to the audit log). */
export const END_REASONS = {
  terminated: "Session terminated.",
  expired: "Session expired.",
  deleted: "The account was deleted.",
  locked: "The account was locked.",
  password: "The account's password was changed or disabled.",
  noAccess: "The account no longer has any access.",
  keyDeleted: "The API key this session signed in with was deleted.",
  keyRevoked: "The API key this session signed in with was revoked.",
  keyExpired: "The API key this session signed in with expired.",
  levelRaised: "GPOS STIG mode was turned on: sign in again with a password and a second factor.",
} as const;

/**
 * A short fingerprint of an account's password state: changes whenever the password is changed
 * (any path: API, CLI, import) or disabled. Sessions and tokens remember the one they began with.
 */
export function credentialStamp(unixhash: string | null | undefined, passwordDisabled: unknown): string {
  const text = `${Number(passwordDisabled) ? 1 : 0}:${unixhash ?? ""}`;
  // The last one computed is kept: directory accounts (and repeated logins of one account) give the
  // same text each time, and a hash is a visible part of a login's CPU on a busy machine.
  if (text !== lastStamp.text) lastStamp = { text, stamp: sha256(text).slice(0, 24) };
  return lastStamp.stamp;
}
let lastStamp = { text: "", stamp: "" };

export interface SessionCheckRow {
  security: string | null;
  /** Session row (null: there is none — removed, or an ephemeral / not yet stored session). */
  s_id: string | null;
  s_terminated: number | null;
  s_expires_at: number | null;
  /** Account (null: deleted). */
  u_id: number | null;
  u_locked: number | null;
  u_password_disabled: number | null;
  u_unixhash: string | null;
  gid: number | null;
  aux_gids: string | null;
  /** The account's group ids (primary; auxiliary, comma-separated): what change events name. */
  u_group_id: number | null;
  aux_group_ids: string | null;
  privileges: string | null;
  /** API key (null: none asked for, or deleted). */
  k_id: number | null;
  k_revoked: number | null;
  k_expires_at: number | null;
  k_roles: string | null;
}

const sessionCheck = prepare<[string, string, number, number]>()(4, (db) => {
  const pgsql = isPostgres(db);
  const { auxGids, privileges } = grantAggregates(pgsql);
  const auxGroupIds = pgsql ? sql`string_agg(cast("m"."group_id" as text), ',')` : sql`group_concat("m"."group_id")`;
  return sql<SessionCheckRow>`select
      (select "value" from "settings" where "key" = ${param(0)}) as "security",
      "s"."id" as "s_id", "s"."terminated" as "s_terminated", "s"."expires_at" as "s_expires_at",
      "u"."id" as "u_id", "u"."locked" as "u_locked", "u"."password_disabled" as "u_password_disabled",
      "u"."unixhash" as "u_unixhash", "g"."gid" as "gid",
      (select ${auxGids} from "memberships" as "m" inner join "groups" as "mg" on "mg"."id" = "m"."group_id"
        where "m"."user_id" = "u"."id") as "aux_gids",
      "u"."group_id" as "u_group_id",
      (select ${auxGroupIds} from "memberships" as "m" where "m"."user_id" = "u"."id") as "aux_group_ids",
      (select ${privileges} from "privileges" as "p") as "privileges",
      "k"."id" as "k_id", "k"."revoked" as "k_revoked", "k"."expires_at" as "k_expires_at", "k"."roles" as "k_roles"
    from (select 1 as "one") as "base"
    left join "sessions" as "s" on "s"."id" = ${param(1)}
    left join "users" as "u" on "u"."id" = ${param(2)}
    left join "groups" as "g" on "g"."id" = "u"."group_id"
    left join "api_keys" as "k" on "k"."id" = ${param(3)}`.compile(db);
});

/** Read everything a session's validity depends on (one statement). */
export async function readSessionCheck(app: StoreContext, s: Pick<Session, "id" | "userId" | "apiKeyId">): Promise<SessionCheckRow> {
  return (await sessionCheck.first(app.store.db, SECURITY_KEY, s.id, s.userId ?? 0, s.apiKeyId ?? 0))!;
}

/** The account's group ids (primary and auxiliary) from the check row. */
export function groupIdsOfCheckRow(row: Pick<SessionCheckRow, "u_group_id" | "aux_group_ids">): number[] {
  const ids = row.aux_group_ids ? row.aux_group_ids.split(",").map(Number) : [];
  if (row.u_group_id !== null && row.u_group_id !== undefined) ids.push(Number(row.u_group_id));
  return ids;
}

/**
 * Whether a commit of this process, described by `ev`, may concern the session checked with
 * `groupIds`: change its account, its groups, its key, any privilege, the security settings, fleet
 * access or directory settings. Errs towards yes (a yes only costs the usual read); a no lets the
 * session skip re-reading the store (./service.ts refreshSession). Group events also name every
 * member they touch (src/accounts/groups.ts); the group ids are checked as well all the same.
 */
export function changeConcernsSession(ev: ChangeEvent, s: Pick<Session, "userId" | "groupIds">): boolean {
  if (ev.all || ev.settings.length || ev.privileges.length || ev.apiKeys.length || ev.directory.length) return true;
  // Fleet access decides whether an account without privileges may stay signed in.
  if (ev.systems.length || ev.systemGroups.length || ev.teams.length) return true;
  if (s.userId === null) return false;
  if (ev.users.includes(s.userId)) return true;
  if (!ev.groups.length) return false;
  const mine = s.groupIds;
  return !mine || ev.groups.some((g) => mine.includes(g));
}

/** The grant from the check row: privileges naming the account's primary or auxiliary groups. */
export function grantOfCheckRow(row: { gid?: unknown; aux_gids: string | null; privileges: string | null }): Grant {
  const gids = new Set<number>();
  if (row.gid !== null && row.gid !== undefined) gids.add(Number(row.gid));
  if (row.aux_gids) for (const g of row.aux_gids.split(",")) gids.add(Number(g));
  const privileges = (row.privileges ? (JSON.parse(row.privileges) as [string, string, number][]) : []).map(([local_groups, roles, web_shell]) => ({
    local_groups,
    roles,
    web_shell: Number(web_shell),
  }));
  return grantOfLocalGroups(gids, privileges);
}

export interface Rights {
  rawRoles: readonly string[];
  access: Access;
  webShell: boolean;
}

/** What a session may do: the account's grant, narrowed by the key's roles and by read-only mode. */
export function rightsOf(app: RightsContext, grant: Grant, keyRoles: readonly string[] | null | undefined, readonly: boolean, stig: boolean): Rights {
  let raw: readonly string[] = grant.roles;
  if (keyRoles) {
    const owner = accessFor(app.registry, raw, stig);
    raw = keyRoles.filter((r) => owner.roles.has(r));
  }
  if (readonly) {
    const held = accessFor(app.registry, raw, stig);
    raw = held.roles.has("READONLY_ADMIN") ? ["READONLY_ADMIN"] : raw.filter((r) => r.endsWith("_READ"));
  }
  return { rawRoles: raw, access: accessFor(app.registry, raw, stig), webShell: grant.webShell && !stig && !readonly };
}

/** What a verdict depends on: a live session, or the snapshot a token carries of its session. */
export type SessionLike = Pick<Session, "userId" | "apiKeyId" | "keyRoles" | "readonly" | "grantFixed" | "credStamp"> & { attributes?: readonly string[] };

export type Verdict = { end: string } | { rights: Rights | null; keyRoles: readonly string[] | null };

/**
 * Does the session survive the account's current state? `stored`: the session has a row to check
 * (ephemeral and token-login candidates do not). `keepCredentials`: a password change by this very
 * session is under way (its own session survives it).
 */
export async function judgeSession(
  app: RightsContext,
  s: SessionLike,
  row: SessionCheckRow,
  opts: { stored: boolean; now?: number; credStamp?: string | null; keepCredentials?: boolean },
): Promise<Verdict> {
  const now = opts.now ?? Date.now();
  if (opts.stored && (row.s_id === null || Number(row.s_terminated))) return { end: END_REASONS.terminated };
  if (opts.stored && now > Number(row.s_expires_at)) return { end: END_REASONS.expired };
  if (s.userId === null) return { rights: null, keyRoles: s.keyRoles ?? null };
  const stig = securityFromStored(row.security).enable_gpos_stig;
  const ended = accountEndReason(s, row, { now, credStamp: opts.credStamp, keepCredentials: opts.keepCredentials, stig });
  if (ended) return { end: ended };
  let keyRoles = s.keyRoles ?? null;
  if (s.apiKeyId !== null && s.apiKeyId !== undefined) keyRoles = row.k_roles === null ? null : (JSON.parse(row.k_roles) as string[]);
  // Directory users' rights come from their directory groups, read at login: kept as they are.
  if (s.grantFixed) return { rights: null, keyRoles };
  const rights = rightsOf(app, grantOfCheckRow(row), keyRoles, !!s.readonly, stig);
  if (!(rights.rawRoles.length && rights.access.roles.size) && !(await hasFleetAccess(app.store.db, s.userId))) return { end: END_REASONS.noAccess };
  return { rights, keyRoles };
}

/** The account and key columns an ending decision needs (null columns: no such row). */
export type AccountState = Pick<SessionCheckRow, "u_id" | "u_locked" | "u_password_disabled" | "u_unixhash" | "k_id" | "k_revoked" | "k_expires_at">;

/**
 * Why the session ends because of its account or key (deleted, locked, password changed or
 * disabled; key deleted, revoked or expired), or null. Shared by the per-call check, the sweep of
 * idle connections and token logins.
 */
export function accountEndReason(s: SessionLike, row: AccountState, opts: { now?: number; credStamp?: string | null; keepCredentials?: boolean; stig?: boolean } = {}): string | null {
  if (s.userId === null) return null;
  // Turning STIG on ends every session that began below its level (LEVEL_2: a password and a
  // second factor): API-key sessions and single-factor ones.
  if (opts.stig && (s.apiKeyId != null || !s.attributes?.includes("2FA"))) return END_REASONS.levelRaised;
  if (row.u_id === null) return END_REASONS.deleted;
  if (Number(row.u_locked)) return END_REASONS.locked;
  const stamp = opts.credStamp === undefined ? s.credStamp : opts.credStamp;
  if (stamp && stamp !== credentialStamp(row.u_unixhash, row.u_password_disabled) && !opts.keepCredentials) return END_REASONS.password;
  if (s.apiKeyId !== null && s.apiKeyId !== undefined) {
    if (row.k_id === null) return END_REASONS.keyDeleted;
    if (Number(row.k_revoked)) return END_REASONS.keyRevoked;
    if (row.k_expires_at !== null && Number(row.k_expires_at) <= (opts.now ?? Date.now())) return END_REASONS.keyExpired;
  }
  return null;
}

/**
 * The account state of many sessions in two statements (the sweep of a process's idle
 * connections after a change: bounded work whatever the number of sessions).
 */
export async function readAccountStates(app: StoreContext, sessions: readonly SessionLike[]): Promise<(s: SessionLike) => AccountState> {
  const db = app.store.db;
  const userIds = [...new Set(sessions.map((s) => s.userId).filter((id): id is number => id !== null))];
  const keyIds = [...new Set(sessions.map((s) => s.apiKeyId).filter((id): id is number => id !== null && id !== undefined))];
  const users = new Map<number, { locked: number; password_disabled: number; unixhash: string | null }>();
  const keys = new Map<number, { revoked: number; expires_at: number | null }>();
  for (let i = 0; i < userIds.length; i += 500) {
    const rows = await db
      .selectFrom("users")
      .select(["id", "locked", "password_disabled", "unixhash"])
      .where("id", "in", userIds.slice(i, i + 500))
      .execute();
    for (const r of rows) users.set(r.id, r);
  }
  for (let i = 0; i < keyIds.length; i += 500) {
    const rows = await db
      .selectFrom("api_keys")
      .select(["id", "revoked", "expires_at"])
      .where("id", "in", keyIds.slice(i, i + 500))
      .execute();
    for (const r of rows) keys.set(r.id, r);
  }
  return (s) => {
    const u = s.userId === null ? undefined : users.get(s.userId);
    const k = s.apiKeyId === null || s.apiKeyId === undefined ? undefined : keys.get(s.apiKeyId);
    return {
      u_id: u ? s.userId : null,
      u_locked: u?.locked ?? null,
      u_password_disabled: u?.password_disabled ?? null,
      u_unixhash: u?.unixhash ?? null,
      k_id: k ? s.apiKeyId! : null,
      k_revoked: k?.revoked ?? null,
      k_expires_at: k?.expires_at ?? null,
    };
  };
}

/** Give the session the rights it has now (in place: every holder of the session object sees them). */
export function applyRights(s: Session, rights: Rights, keyRoles: readonly string[] | null): void {
  s.rawRoles = rights.rawRoles;
  s.roles = rights.access.roles;
  s.fullAdmin = rights.access.fullAdmin;
  s.allowedMethods = rights.access.allowedMethods;
  s.webuiAccess = rights.access.webuiAccess;
  s.webShell = rights.webShell;
  s.keyRoles = keyRoles;
}
