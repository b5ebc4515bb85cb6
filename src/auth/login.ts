// auth.login_ex mechanisms (reference §7.2–7.3): PASSWORD_PLAIN (also one-time passwords),
// API_KEY_PLAIN, TOKEN_PLAIN and the OTP_TOKEN second step. Each returns a response object;
// failures that reveal nothing (AUTH_ERR) look the same for an unknown user and a wrong password,
// and are delayed.

import type { Config } from "../config.js";
import type { Tx } from "../store/db.js";
import type { Grant } from "../access/privileges.js";
import type { LimiterContext, RightsContext } from "./context.js";
import type { Connection } from "../server/connection.js";
import { HEARTBEAT_STALE_MS, type CredentialType, type Session } from "./session.js";
import { hashPassword, randomPassword, verifyPassword } from "./password-hash.js";
import { hashRounds } from "../accounts/account-settings.js";
import { clearSourceFailures, loginRefused, recordFailure } from "./limiter.js";
import { credentialStamp, grantOfCheckRow, judgeSession, readSessionCheck } from "./revalidate.js";
import { writeAudit, type AuditInput } from "../audit/audit.js";
import { CallError } from "../server/errors.js";
import { assuranceLevel, LEVEL_LIMITS, lockoutSettings, passwordAging, SECURITY_KEY, securityFromStored, twoFactorConfig, type SecurityConfig, type TwoFactorConfig } from "./policy.js";
import { unchangedSince } from "./stamped.js";
import { consumeOnetimePassword, looksLikeOnetimePassword } from "./onetime.js";
import { verifyTotp } from "./totp.js";
import { checkLoginCode, usesEmailedCode, type MailQueue } from "./email-codes.js";
import { signInWithResetCode } from "./password-reset.js";
import { addMissingScramRecord, keyMatches, parseApiKey, revokeApiKey } from "./api-keys.js";
import { cachedApiKeyLogin, rememberApiKeyLogin } from "./api-key-login-cache.js";
import { abandonScram } from "./scram.js";
import { createToken, destroyToken, useToken } from "./tokens.js";
import { buildMe, PROFILE_COLUMNS, type MeProfile } from "./me.js";
import { grantAggregates, isPostgres, param, prepare } from "./prepared.js";
import { sql } from "kysely";

/**
 * A login's answer as the handlers build it (LoginResultSchema declares it on the wire). Not
 * z.infer of that schema: user_info is buildMe's value, whose role set is a WireSet here and an
 * array only once encoded (wireSet reads either). Tests check every answer against the schema.
 */
export type LoginResponse =
  | { response_type: "SUCCESS"; user_info: unknown; authenticator: "LEVEL_1" | "LEVEL_2"; reconnect_token: string | null }
  | { response_type: "OTP_REQUIRED"; username: string }
  | { response_type: "AUTH_ERR" | "EXPIRED" | "DENIED" };

export interface LoginOptions {
  user_info?: boolean;
  reconnect_token?: boolean;
  /** Internal: one-shot HTTP calls do not store their session. */
  ephemeral?: boolean;
}

export interface LoginRequest {
  mechanism: string;
  username?: string | null;
  password?: string;
  api_key?: string;
  token?: string;
  otp_token?: string;
  login_options?: LoginOptions;
}

export interface SessionUser {
  id: number;
  username: string;
  uid: number;
}

export interface SessionOptions {
  attributes?: string[];
  credentialsData?: Record<string, unknown>;
  apiKeyId?: number | null;
  /** Roles an API key is limited to (null: all of the owner's). */
  keyRoles?: readonly string[] | null;
  readonly?: boolean;
  tokenHash?: string | null;
  /** Grant override (directory users: from their directory groups; API keys: read with the key). */
  grant?: Grant;
  /** The grant cannot be recomputed from the store (directory groups): kept for the session's life. */
  grantFixed?: boolean;
  ephemeral?: boolean;
  /** The account's password-state fingerprint read at sign-in (./revalidate.ts credentialStamp). */
  credStamp?: string | null;
  /**
   * The store's change stamp taken before the login read everything its session is built from
   * (a one-statement login): the session counts as checked as of it, so its first call does not
   * read it all again. Absent: checked on its first call.
   */
  checkedStamp?: string | null;
}

/** What a login needs of the session service (./service.ts AuthService provides it). */
export interface LoginServices {
  security(): Promise<SecurityConfig>;
  /** The `auth.twofactor` settings. */
  twoFactor(): Promise<TwoFactorConfig>;
  /** The store's change stamp (./service.ts AuthService.authStamp). */
  authStamp(): string | null;
  sessionForUser(user: SessionUser, credentials: CredentialType, conn: Connection, opts: SessionOptions, sec: SecurityConfig): Promise<Session>;
  hasApiAccess(session: Session): Promise<boolean>;
  attach(conn: Connection, session: Session, alsoInTransaction?: (trx: Tx) => Promise<void>): Promise<void>;
  /** attach, with the login's AUTHENTICATION entry written in the same transaction. */
  attachWithEntry(conn: Connection, session: Session, entry: AuditInput): Promise<void>;
  readonly directoryLogin: DirectoryLoginHook | null;
  readonly directoryOutage: DirectoryOutageHook | null;
}

/**
 * The directory's password check (installed by src/directory/install.ts): the local user row id
 * to sign in, or null. `local`: the account of that name as the login read it (null: none;
 * absent: the hook reads it).
 */
export type DirectoryLoginHook = (username: string, password: string, local?: DirectoryLocalRecord | null) => Promise<{ userId: number; grant?: Grant } | null>;
/** The directory's outage reason for a local account's failed password (null: reachable or none). */
export type DirectoryOutageHook = (username: string, password: string) => Promise<string | null>;

/** What a directory login needs of the local account of the name given. */
export interface DirectoryLocalRecord {
  id: number;
  source: string;
  ldap_username: string | null;
}

/** What logging in needs of the application (src/app.ts App satisfies it). */
export interface LoginContext extends LimiterContext, RightsContext {
  readonly config: Pick<Config, "loginLimits" | "failDelay" | "hashRounds" | "scramIterations">;
  readonly auth: LoginServices;
  /** Mail for e-mailed sign-in codes (src/mail/service.ts). */
  readonly mail: MailQueue;
}

/** GPOS STIG: at most this many concurrent sessions per user (reference §7.8). */
export const STIG_MAX_SESSIONS = 10;

async function liveSessionsOf(app: LoginContext, userId: number): Promise<number> {
  const now = Date.now();
  const row = await app.store.db
    .selectFrom("sessions")
    .select((eb) => eb.fn.countAll<number>().as("n"))
    .where("user_id", "=", userId)
    .where("terminated", "=", 0)
    .where("expires_at", ">", now)
    .where("heartbeat", ">", now - HEARTBEAT_STALE_MS)
    .executeTakeFirst();
  return Number(row?.n ?? 0);
}

/** How long a pending second factor stays valid. */
const PENDING_2FA_MS = 5 * 60_000;
/**
 * Wrong codes after which a pending second factor still waits (a departure: the reference drops
 * it at the first): the password need not be typed again for a mistyped code. Each wrong code
 * still counts as a failed login (lockout, delay).
 */
export const OTP_RETRIES = 3;

/** The account as a login sees it: its credentials and state, and what auth.me shows of it. */
const USER_COLUMNS = [...PROFILE_COLUMNS, "users.unixhash", "users.locked", "users.ldap_username"] as const;

export type UserRow = MeProfile & { unixhash: string; locked: number; ldap_username: string | null };

const userById = prepare<[number]>()(1, (db) =>
  db
    .selectFrom("users")
    .leftJoin("groups", "groups.id", "users.group_id")
    .leftJoin("attributes", "attributes.user_id", "users.id")
    .select(USER_COLUMNS)
    .where("users.id", "=", param<number>(0))
    .compile(),
);
const userByName = prepare<[string]>()(1, (db) =>
  db
    .selectFrom("users")
    .leftJoin("groups", "groups.id", "users.group_id")
    .leftJoin("attributes", "attributes.user_id", "users.id")
    .select(USER_COLUMNS)
    .where("users.username", "=", param<string>(0))
    .compile(),
);
/** What an API-key login reads, in one row (owner columns null when there is no key or no owner). */
export type ApiKeyLoginRow = Partial<Record<keyof MeProfile, unknown>> & {
  /** The stored `system.security` JSON (null: defaults). */
  security: string | null;
  key_id: number | null;
  key_name: string;
  key_user_id: number | null;
  key_username: string | null;
  key_salt: string;
  key_keyhash: string;
  /** The key's SCRAM record (null: made before SCRAM, until its next PLAIN login). */
  key_iterations: number | null;
  key_scram_salt: string | null;
  key_stored_key: string | null;
  key_server_key: string | null;
  key_expires_at: number | null;
  key_revoked: number;
  key_roles: string | null;
  id: number | null;
  /** The owner's password hash (only its fingerprint is kept: ./revalidate.ts credentialStamp) and lock. */
  unixhash: string | null;
  locked: number | null;
  /** The owner's auxiliary GIDs, comma-separated (null: none). */
  aux_gids: string | null;
  /** Every privilege as JSON `[[local_groups, roles, web_shell], …]` (PostgreSQL: null when none). */
  privileges: string | null;
};

/**
 * Everything an API-key login reads, in one statement: the security settings, the key, its owner
 * (what auth.me shows; a key login needs no password hash) and what the owner's grant is made of
 * (their auxiliary GIDs and the privileges). The one-row base keeps the settings when there is no
 * such key.
 */
const apiKeyLogin = prepare<[string, number]>()(2, (db) => {
  const pgsql = isPostgres(db);
  const { auxGids, privileges } = grantAggregates(pgsql);
  return sql<ApiKeyLoginRow>`select
      (select "value" from "settings" where "key" = ${param(0)}) as "security",
      "k"."id" as "key_id", "k"."name" as "key_name", "k"."user_id" as "key_user_id", "k"."username" as "key_username",
      "k"."keyhash_salt" as "key_salt", "k"."keyhash" as "key_keyhash", "k"."expires_at" as "key_expires_at",
      "k"."iterations" as "key_iterations", "k"."salt" as "key_scram_salt", "k"."stored_key" as "key_stored_key", "k"."server_key" as "key_server_key",
      "k"."revoked" as "key_revoked", "k"."roles" as "key_roles",
      ${sql.join(PROFILE_COLUMNS.map((c) => sql.ref(c)))}, "users"."unixhash" as "unixhash", "users"."locked" as "locked",
      (select ${auxGids} from "memberships" as "m" inner join "groups" as "mg" on "mg"."id" = "m"."group_id"
        where "m"."user_id" = "users"."id") as "aux_gids",
      (select ${privileges} from "privileges" as "p") as "privileges"
    from (select 1 as "one") as "base"
    left join "api_keys" as "k" on "k"."id" = ${param(1)}
    left join "users" on "users"."id" = "k"."user_id"
    left join "groups" on "groups"."id" = "users"."group_id"
    left join "attributes" on "attributes"."user_id" = "users"."id"`.compile(db);
});

/**
 * A hash of a random password at the rounds new passwords get, checked instead of a real one
 * when there is none to check (unknown, password-disabled or directory account), so such a
 * login costs the same time as a known account's wrong password.
 */
const dummyHashes = new Map<number, Promise<string>>();
async function dummyHash(app: LoginContext): Promise<string> {
  const rounds = await hashRounds(app);
  let h = dummyHashes.get(rounds);
  if (!h) {
    h = hashPassword(randomPassword(24), rounds);
    dummyHashes.set(rounds, h);
  }
  return h;
}

/** Slow down failed logins by a random 1–2 s (configurable for tests) in every mode. */
export async function failDelay(app: LoginContext): Promise<void> {
  const [lo, hi] = app.config.failDelay;
  await new Promise((r) => setTimeout(r, lo + Math.random() * Math.max(0, hi - lo)));
}

async function findUser(app: LoginContext, where: { username: string } | { id: number }): Promise<UserRow | undefined> {
  const db = app.store.db;
  // SQLite: read at once when the connection is free (Prepared.rowsNow), else queued as usual.
  const now = "id" in where ? userById.rowsNow(db, where.id) : userByName.rowsNow(db, where.username);
  if (now) return now[0] as UserRow | undefined;
  const row = "id" in where ? await userById.first(db, where.id) : await userByName.first(db, where.username);
  return row as UserRow | undefined;
}

export async function auditAuth(app: LoginContext, conn: Connection, credentials: string, credentialsData: Record<string, unknown>, error: string): Promise<void> {
  await writeAudit(app, {
    event: "AUTHENTICATION",
    eventData: { credentials: { credentials, credentials_data: credentialsData }, error },
    success: false,
    conn,
    session: null,
    username: typeof credentialsData.username === "string" ? credentialsData.username : null,
  });
}

/** A refused login: audit, delay, answer. */
export async function refuse<T extends "AUTH_ERR" | "EXPIRED" | "DENIED">(
  app: LoginContext,
  conn: Connection,
  type: T,
  credentials: string,
  credentialsData: Record<string, unknown>,
  error: string,
): Promise<{ response_type: T }> {
  await auditAuth(app, conn, credentials, credentialsData, error);
  await failDelay(app);
  return { response_type: type };
}

export async function loginEx(app: LoginContext, conn: Connection, req: LoginRequest): Promise<LoginResponse> {
  abandonScram(conn); // SCRAM itself goes to ./scram-login.ts
  if (req.mechanism !== "OTP_TOKEN" && conn.pendingTwoFactor) {
    const p = conn.pendingTwoFactor;
    conn.pendingTwoFactor = null;
    await auditAuth(app, conn, "LOGIN_TWOFACTOR", { username: p.username }, "Abandoning login attempt after being presented with requirement for second factor for authentication.");
  }
  // API keys read the security settings in the key's own statement.
  if (req.mechanism === "API_KEY_PLAIN") return loginApiKey(app, conn, req);
  // Taken before anything the login reads: a password login's session counts as checked as of it.
  const stamp = app.auth.authStamp();
  const sec = await app.auth.security();
  if (req.mechanism !== "OTP_TOKEN") checkMechanism(sec, req.mechanism);
  switch (req.mechanism) {
    case "PASSWORD_PLAIN":
      return loginPassword(app, conn, req, sec, stamp);
    case "TOKEN_PLAIN":
      return loginToken(app, conn, req, sec);
    case "OTP_TOKEN":
      return loginOtp(app, conn, req, sec);
    default:
      throw new CallError(`${req.mechanism}: mechanism is not supported at current authenticator level.`, "auth.mechanism_not_supported");
  }
}

/** Is the mechanism allowed at the current authenticator assurance level (LEVEL_2 under STIG: passwords only)? */
export function checkMechanism(sec: SecurityConfig, mechanism: string): void {
  if (!LEVEL_LIMITS[assuranceLevel(sec)].mechanisms.includes(mechanism)) {
    throw new CallError(`${mechanism}: mechanism is not supported at current authenticator level.`, "auth.mechanism_not_supported");
  }
}

/** Build, check and attach the session; answer SUCCESS (or DENIED without any privilege). */
export async function finishLogin(
  app: LoginContext,
  conn: Connection,
  sec: SecurityConfig,
  user: SessionUser & Partial<MeProfile>,
  credentials: CredentialType,
  options: LoginOptions | undefined,
  opts: SessionOptions,
): Promise<LoginResponse> {
  // The password state the session begins with: a later change or disabling of it ends the session.
  const held = user as { unixhash?: string | null; password_disabled?: unknown };
  const credStamp = opts.credStamp !== undefined ? opts.credStamp : "unixhash" in held ? credentialStamp(held.unixhash, held.password_disabled) : null;
  const session = await app.auth.sessionForUser(user, credentials, conn, { ...opts, credStamp, ephemeral: !!options?.ephemeral }, sec);
  if (!(await app.auth.hasApiAccess(session))) {
    return refuse(app, conn, "DENIED", credentials, { username: user.username }, "User lacks API access.");
  }
  if (session.level === "LEVEL_2" && !session.ephemeral && (await liveSessionsOf(app, user.id)) >= STIG_MAX_SESSIONS) {
    return refuse(app, conn, "DENIED", credentials, { username: user.username }, `Maximum number of concurrent sessions (${STIG_MAX_SESSIONS}) reached.`);
  }
  await app.auth.attachWithEntry(conn, session, {
    event: "AUTHENTICATION",
    eventData: { credentials: { credentials: session.credentials, credentials_data: session.credentialsData }, error: null },
    success: true,
    conn,
    session,
  });
  let reconnect: string | null = null;
  if (options?.reconnect_token && !session.attributes.includes("OTPW") && !session.ephemeral) {
    reconnect = await createToken(app.store.db, session, conn.remoteAddress, {
      ttl: await reconnectTtl(app, session),
      attrs: {},
      matchOrigin: true,
      singleUse: true,
      reconnect: true,
    });
  }
  return {
    response_type: "SUCCESS",
    user_info: options?.user_info === false ? null : await buildMe(app, session, { sec, profile: isProfile(user) ? user : undefined }),
    authenticator: session.level ?? "LEVEL_1",
    reconnect_token: reconnect,
  };
}

function isProfile(user: SessionUser & Partial<MeProfile>): user is MeProfile {
  return user.full_name !== undefined && user.gid !== undefined && user.attributes !== undefined;
}

/** UI preference `preferences.lifetime` (≥ 60 s) else 600 s, capped by the session's end. */
async function reconnectTtl(app: LoginContext, session: Session): Promise<number> {
  let ttl = 600;
  if (session.userId !== null) {
    const row = await app.store.db.selectFrom("attributes").select("attributes").where("user_id", "=", session.userId).executeTakeFirst();
    const lifetime = row ? Number(JSON.parse(row.attributes)?.preferences?.lifetime) : NaN;
    if (Number.isFinite(lifetime) && lifetime >= 60) ttl = Math.floor(lifetime);
  }
  return Math.max(1, Math.min(ttl, Math.floor((session.expiresAt - Date.now()) / 1000)));
}

// ---- PASSWORD_PLAIN ------------------------------------------------------------------------------

async function loginPassword(app: LoginContext, conn: Connection, req: LoginRequest, sec: SecurityConfig, stamp: string | null): Promise<LoginResponse> {
  const db = app.store.db;
  const username = req.username ?? "";
  const password = req.password ?? "";
  const data = { username };
  // No account name holds a NUL, and PostgreSQL text cannot store one (the limiter's keys, the
  // audit row): refused like an unknown user, named with the NUL written out.
  if (username.includes("\u0000")) return refuse(app, conn, "AUTH_ERR", "LOGIN_PASSWORD", { username: username.replaceAll("\u0000", "\\0") }, "user name contains NUL");
  // Locked out for this source (whatever the password); else wait the account's current delay.
  if (await loginRefused(app, conn, username)) {
    return refuse(app, conn, "DENIED", "LOGIN_PASSWORD", data, "Account is temporarily locked after too many failed login attempts.");
  }
  let user = await findUser(app, { username });
  let grant: SessionOptions["grant"];

  // Directory users authenticate against the directory. Asked for every name (it answers null at
  // once for a local account), so a known and an unknown name cost the same reads when no
  // directory is configured: no timing difference tells them apart.
  if (app.auth.directoryLogin) {
    const local = user ? { id: user.id, source: user.source, ldap_username: user.ldap_username } : null;
    const ds = await app.auth.directoryLogin(username, password, local).catch((err) => directoryDown(app, conn, username, password, err));
    if (ds) {
      // The row read above stands while nothing changed since (a record made or changed by this
      // login, or any other change, moves the stamp: then it is read again).
      if (user?.id !== ds.userId || !unchangedSince(app.store, stamp)) user = await findUser(app, { id: ds.userId });
      grant = ds.grant;
      if (user && !user.locked) {
        return afterFirstFactor(app, conn, req, sec, user, "LOGIN_PASSWORD", [], grant, stamp);
      }
    }
  }

  if (user && looksLikeOnetimePassword(password)) {
    const r = await consumeOnetimePassword(db, user.id, password);
    if (r.ok) {
      if (user.locked || user.password_disabled) {
        await recordFailure(app, conn, lockoutSettings(sec), username, "LOGIN_ONETIME_PASSWORD");
        return refuse(app, conn, "AUTH_ERR", "LOGIN_ONETIME_PASSWORD", data, "One-time password validation failed: account is locked or password disabled.");
      }
      await clearSourceFailures(app, conn, username);
      const attributes = ["OTPW", ...(r.passwordChangeRequired ? ["PASSWORD_CHANGE_REQUIRED"] : [])];
      return finishLogin(app, conn, sec, user, "LOGIN_ONETIME_PASSWORD", req.login_options, { attributes, credStamp: credentialStamp(user.unixhash, user.password_disabled) });
    }
    if (r.reason === "EXPIRED") {
      await recordFailure(app, conn, lockoutSettings(sec), username, "LOGIN_ONETIME_PASSWORD");
      return refuse(app, conn, "EXPIRED", "LOGIN_ONETIME_PASSWORD", data, "One-time password is expired.");
    }
  }

  // A password-reset code (./password-reset.ts) signs in like a one-time password; an EMAIL
  // account's mailed code stands for both factors, a TOTP account still gives its TOTP code.
  if (user && (await signInWithResetCode(db, user, password))) {
    const attributes = ["OTPW", "PASSWORD_CHANGE_REQUIRED"];
    if (usesEmailedCode(user, sec.enable_gpos_stig)) {
      await clearSourceFailures(app, conn, username);
      return finishLogin(app, conn, sec, user, "LOGIN_ONETIME_PASSWORD", req.login_options, { attributes });
    }
    return afterFirstFactor(app, conn, req, sec, user, "LOGIN_ONETIME_PASSWORD", attributes, undefined);
  }

  // Always one hash check: the account's own, or a dummy one (same cost) when it has none to check.
  const usable = !!user && user.source !== "LDAP" && !user.password_disabled && /^\$/.test(user.unixhash ?? "");
  const matches = await verifyPassword(password, usable ? user!.unixhash : await dummyHash(app));
  if (!user || !usable || !matches || user.locked) {
    await recordFailure(app, conn, lockoutSettings(sec), username, "LOGIN_PASSWORD");
    // While the directory is down an unknown name answers ldap.unavailable: a local one must too.
    if (user && user.source !== "LDAP") await localAsDirectoryOutage(app, conn, username, password);
    return refuse(app, conn, "AUTH_ERR", "LOGIN_PASSWORD", data, user ? "[PAM_AUTH_ERR]: pam_authenticate() failed" : `${username}: user does not exist`);
  }
  const aging = passwordAging(sec, user);
  if (aging.expired) return refuse(app, conn, "EXPIRED", "LOGIN_PASSWORD", data, "Password has expired.");
  return afterFirstFactor(app, conn, req, sec, user, "LOGIN_PASSWORD", aging.changeRequired ? ["PASSWORD_CHANGE_REQUIRED"] : [], grant, stamp);
}

/**
 * The directory could not be asked about a name it was asked for (an unknown name, or a directory
 * user's): the password is still checked against a dummy hash, the attempt audited and delayed like
 * any failed login, then the outage is answered (ldap.unavailable; not counted towards lock-out).
 * A local account's failed password answers the same while the directory is down
 * (localAsDirectoryOutage), so the answer, its code and its time do not tell local names apart.
 */
async function directoryDown(app: LoginContext, conn: Connection, username: string, password: string, err: unknown): Promise<never> {
  if (err instanceof CallError && err.code === "ldap.unavailable") {
    await verifyPassword(password, await dummyHash(app));
    await refuse(app, conn, "AUTH_ERR", "LOGIN_PASSWORD", { username }, err.message);
  }
  throw err;
}

/**
 * A local account's password failed while directory servers are configured: if none of them can
 * be asked, answer as directoryDown does for an unknown name (after the failure was counted: a
 * local password guessed during an outage still counts towards the account's lock-out).
 */
async function localAsDirectoryOutage(app: LoginContext, conn: Connection, username: string, password: string): Promise<void> {
  if (!app.auth.directoryOutage) return;
  const outage = await app.auth.directoryOutage(username, password);
  if (outage === null) return;
  const err = new CallError(`The directory could not be reached: ${outage}`, "ldap.unavailable");
  await refuse(app, conn, "AUTH_ERR", "LOGIN_PASSWORD", { username }, err.message);
  throw err;
}

/** After a good password: demand the second factor when required, else finish. */
async function afterFirstFactor(
  app: LoginContext,
  conn: Connection,
  req: LoginRequest,
  sec: SecurityConfig,
  user: UserRow,
  credentials: CredentialType,
  attributes: string[],
  grant: SessionOptions["grant"],
  /** The stamp taken before the login read anything (a session finished here counts as checked as of it). */
  checkedStamp: string | null = null,
): Promise<LoginResponse> {
  const tf = await app.auth.twoFactor();
  const stig = sec.enable_gpos_stig;
  if (stig && !user.twofactor_secret) {
    return refuse(app, conn, "AUTH_ERR", credentials, { username: user.username }, "Two-factor authentication is required.");
  }
  // An EMAIL account gives a mailed code at every sign-in, whatever the global TOTP switch says.
  const emailed = usesEmailedCode(user, stig);
  if (((tf.enabled || stig) && user.twofactor_secret) || emailed) {
    if (emailed) await app.mail.enqueue(app.store.db, user.id, "LOGIN_CODE");
    conn.pendingTwoFactor = {
      userId: user.id,
      username: user.username,
      mechanism: req.mechanism,
      options: { login_options: req.login_options ?? {}, attributes, grant },
      at: Date.now(),
    };
    return { response_type: "OTP_REQUIRED", username: user.username };
  }
  // Failures are forgotten only when the whole login succeeds: a known password must not reset
  // the lock-out count of someone guessing the second factor.
  await clearSourceFailures(app, conn, req.username ?? user.username);
  // A grant given here came from the directory: kept as it is for the session's life.
  return finishLogin(app, conn, sec, user, credentials, req.login_options, { attributes, grant, grantFixed: grant !== undefined, checkedStamp });
}

// ---- OTP_TOKEN -----------------------------------------------------------------------------------

async function loginOtp(app: LoginContext, conn: Connection, req: LoginRequest, sec: SecurityConfig): Promise<LoginResponse> {
  const pending = conn.pendingTwoFactor;
  if (!pending || Date.now() - pending.at > PENDING_2FA_MS) {
    conn.pendingTwoFactor = null;
    throw new CallError("OTP_TOKEN: no authentication in progress", "auth.otp_not_in_progress");
  }
  conn.pendingTwoFactor = null;
  const db = app.store.db;
  const user = await findUser(app, { id: pending.userId });
  const tf = await twoFactorConfig(db);
  const data = { username: pending.username };
  if (await loginRefused(app, conn, pending.username)) {
    return refuse(app, conn, "DENIED", "LOGIN_TWOFACTOR", data, "Account is temporarily locked after too many failed login attempts.");
  }
  const token = String(req.otp_token ?? "");
  const secondOk = !!user && (usesEmailedCode(user, sec.enable_gpos_stig) ? await checkLoginCode(db, user.id, token) : await verifyTotp(db, user, token, tf.window));
  if (!user || user.locked || !secondOk) {
    await recordFailure(app, conn, lockoutSettings(sec), pending.username, "LOGIN_TWOFACTOR");
    const wrongCodes = (pending.wrongCodes ?? 0) + 1;
    if (user && !user.locked && wrongCodes <= OTP_RETRIES) conn.pendingTwoFactor = { ...pending, wrongCodes };
    return refuse(app, conn, "AUTH_ERR", "LOGIN_TWOFACTOR", data, "One-time token validation failed: [PAM_AUTH_ERR]: pam_authenticate() failed");
  }
  await clearSourceFailures(app, conn, pending.username);
  const saved = pending.options as { login_options: LoginOptions; attributes: string[]; grant: SessionOptions["grant"] };
  const options = { ...saved.login_options, ...(req.login_options ?? {}) };
  return finishLogin(app, conn, sec, user, "LOGIN_TWOFACTOR", options, { attributes: ["2FA", ...saved.attributes], grant: saved.grant, grantFixed: saved.grant !== undefined });
}

// ---- API_KEY_PLAIN -------------------------------------------------------------------------------

async function loginApiKey(app: LoginContext, conn: Connection, req: LoginRequest): Promise<LoginResponse> {
  const db = app.store.db;
  const raw = String(req.api_key ?? "");
  const username = req.username ?? "";
  const parsed = parseApiKey(raw);
  // Taken before the read: a change committed after it moves the stamp, and the session is checked again.
  const checkedStamp = app.auth.authStamp();
  // What an earlier successful login read of this key, while nothing changed since (SQLite only:
  // ./api-key-login-cache.ts); the key given is still hashed and compared below, as on a read.
  const cached = parsed ? cachedApiKeyLogin<ApiKeyLoginRow>(app.store, parsed.id, checkedStamp) : null;
  // A malformed key still reads the settings (no key has id 0).
  const row = cached ? cached.row : (await apiKeyLogin.first(db, SECURITY_KEY, parsed?.id ?? 0))!;
  const sec = cached ? cached.sec : securityFromStored(row.security);
  checkMechanism(sec, "API_KEY_PLAIN");
  // Failures count against the key's owner when the key exists (else the name given, or the key id).
  const account = row.key_username ?? (username || `api_key:${parsed?.id ?? "invalid"}`);
  if (await loginRefused(app, conn, account)) {
    return refuse(app, conn, "DENIED", "API_KEY", { username: account }, "Account is temporarily locked after too many failed login attempts.");
  }
  if (!parsed || row.key_id === null || !keyMatches(row.key_salt, parsed.secret, row.key_keyhash)) {
    await recordFailure(app, conn, lockoutSettings(sec), account, "API_KEY");
    return refuse(app, conn, "AUTH_ERR", "API_KEY", { username, api_key: row.key_id !== null ? { id: row.key_id, name: row.key_name } : "<INVALID>" }, "Invalid API key");
  }
  const key = { id: row.key_id, name: row.key_name };
  const data = { username: row.key_username ?? username, api_key: key };
  const owner = row.key_user_id === null || row.id === null ? undefined : (row as unknown as MeProfile & { unixhash: string | null });
  if (!owner || (username && username !== owner.username)) {
    await recordFailure(app, conn, lockoutSettings(sec), account, "API_KEY");
    return refuse(app, conn, "AUTH_ERR", "API_KEY", data, owner ? "API key does not belong to this user" : "User does not exist");
  }
  if (Number(row.locked)) return refuse(app, conn, "AUTH_ERR", "API_KEY", data, "Account is locked");
  if (row.key_revoked) return refuse(app, conn, "AUTH_ERR", "API_KEY", data, "Api key is revoked");
  if (row.key_expires_at !== null && Number(row.key_expires_at) <= Date.now()) return refuse(app, conn, "EXPIRED", "API_KEY", data, "Api key is expired");
  if (!conn.secure && !conn.loopback) {
    await revokeApiKey(db, key.id, "Attempt to use over an insecure transport");
    app.log.warn({ key: key.name }, `${key.name}: API key has been revoked and must either be renewed or deleted. Revoke reason: Attempt to use over an insecure transport`);
    return refuse(app, conn, "EXPIRED", "API_KEY", data, "Attempt to use over an insecure transport");
  }
  // A key made before SCRAM gets its record now: the one time the server sees its secret again.
  if (row.key_stored_key === null) await addMissingScramRecord(db, key.id, parsed.secret, app.config.scramIterations);
  const keyRoles = cached ? cached.keyRoles : row.key_roles === null ? null : (JSON.parse(row.key_roles) as string[]);
  // The owner's grant, from the same row (recomputed on later calls as the account changes).
  const grant = cached ? cached.grant : grantOfCheckRow(row);
  if (!cached && checkedStamp !== null) rememberApiKeyLogin(app.store, key.id, { stamp: checkedStamp, row, sec, grant, keyRoles });
  return finishLogin(app, conn, sec, owner, "API_KEY", req.login_options, {
    attributes: ["API_KEY"],
    credentialsData: { username: owner.username, api_key: { id: key.id, name: key.name } },
    apiKeyId: key.id,
    keyRoles,
    grant,
    checkedStamp,
  });
}

/** The security settings, an API key and its owner, in one statement (id 0: the settings only). */
export async function readApiKeyLogin(app: LoginContext, keyId: number): Promise<ApiKeyLoginRow> {
  return (await apiKeyLogin.first(app.store.db, SECURITY_KEY, keyId))!;
}

// ---- TOKEN_PLAIN ---------------------------------------------------------------------------------

async function loginToken(app: LoginContext, conn: Connection, req: LoginRequest, sec: SecurityConfig): Promise<LoginResponse> {
  const r = await useToken(app.store.db, String(req.token ?? ""), conn.remoteAddress);
  if (!r.ok) return refuse(app, conn, "AUTH_ERR", "TOKEN", {}, r.error);
  const p = r.parent;
  const user = p.userId === null ? undefined : await findUser(app, { id: p.userId });
  if (!user) return refuse(app, conn, "AUTH_ERR", "TOKEN", {}, "Invalid token");
  const data = { username: user.username };
  if (await loginRefused(app, conn, user.username)) {
    return refuse(app, conn, "DENIED", "TOKEN", data, "Account is temporarily locked after too many failed login attempts.");
  }
  // The token dies with what its session would have died of: a locked, deleted or re-passworded
  // account, a revoked or deleted key (tokens minted before a change cannot outlive it).
  const credStamp = p.credStamp ?? credentialStamp(user.unixhash, user.password_disabled);
  const check = await readSessionCheck(app, { id: p.sessionId, userId: user.id, apiKeyId: p.apiKeyId });
  const verdict = await judgeSession(app, { userId: user.id, apiKeyId: p.apiKeyId, keyRoles: p.keyRoles, readonly: p.readonly }, check, { stored: false, credStamp });
  if ("end" in verdict) {
    // Dead for good: gone from the store (single-use tokens already are).
    await destroyToken(app.store.db, r.tokenHash);
    return refuse(app, conn, "AUTH_ERR", "TOKEN", data, `Invalid token: ${verdict.end}`);
  }
  return finishLogin(app, conn, sec, user, "TOKEN", req.login_options, {
    attributes: p.attributes,
    credentialsData: {
      parent: { credentials: p.credentials, credentials_data: p.credentialsData },
      username: user.username,
    },
    apiKeyId: p.apiKeyId,
    keyRoles: verdict.keyRoles,
    readonly: p.readonly,
    tokenHash: r.singleUse ? null : r.tokenHash,
    credStamp,
  });
}
