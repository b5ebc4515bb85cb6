// Sessions: who is calling, with which roles. A session row lives in the store so any server
// process sharing the database lists, terminates and accepts it (through tokens); each connection
// holds the in-process view with the precomputed allow set.

import { randomUUID } from "node:crypto";
import type { Connection } from "../server/connection.js";
import { HEARTBEAT_STALE_MS, type Session, type CredentialType } from "./session.js";
import { grantOfUser, hasFleetAccess } from "../access/privileges.js";
import { assuranceLevel, LEVEL_LIMITS, securityConfig, twoFactorConfig, type SecurityConfig, type TwoFactorConfig } from "./policy.js";
import { StampedRead } from "./stamped.js";
import { loginEx, type DirectoryLoginHook, type DirectoryOutageHook, type LoginRequest, type LoginResponse, type SessionOptions, type SessionUser } from "./login.js";
import { destroyToken, destroyTokensOf, destroyTokensOfNow } from "./tokens.js";
import { loginScram, type ScramLoginContext, type ScramRequest, type ScramResponse } from "./scram-login.js";
import { freeSqliteHandle, type Tx } from "../store/db.js";
import { param, prepare } from "./prepared.js";
import { accountEndReason, applyRights, changeConcernsSession, credentialStamp, END_REASONS, groupIdsOfCheckRow, judgeSession, readAccountStates, readSessionCheck, rightsOf } from "./revalidate.js";
import { writeAudit, writeAuditNow, type AuditInput } from "../audit/audit.js";
import type { ChangeEvent } from "../store/change-event.js";
import { checkHttpAuthLimit, countHttpAuthFailure } from "./rate-limit.js";

/** A session row's values, in insertSession's order (./service.ts sessionRow). */
type SessionRow = [string, number | null, string, string, string, string, number, string, number, number | null, number, number, number];
const insertSession = prepare<SessionRow>()(13, (db) =>
  db
    .insertInto("sessions")
    .values({
      id: param(0),
      user_id: param(1),
      username: param(2),
      credentials: param(3),
      credentials_data: param(4),
      origin: param(5),
      secure_transport: param(6),
      attributes: param(7),
      readonly: param(8),
      api_key_id: param(9),
      created_at: param(10),
      last_seen: param(10),
      expires_at: param(11),
      terminated: 0,
      heartbeat: param(12),
    })
    .compile(),
);
/** insertSession's arguments for `session`. */
function sessionRow(session: Session): SessionRow {
  return [
    session.id,
    session.userId,
    session.username,
    session.credentials,
    JSON.stringify(session.credentialsData),
    session.origin,
    session.secureTransport ? 1 : 0,
    JSON.stringify(session.attributes),
    session.readonly ? 1 : 0,
    session.apiKeyId,
    session.createdAt,
    session.expiresAt,
    session.createdAt,
  ];
}
const deleteSession = prepare<[string]>()(1, (db) => db.deleteFrom("sessions").where("id", "=", param<string>(0)).compile());

export { rolesOfUser, gidsOfUser } from "../access/privileges.js";

export const LEVEL_1_MAX_SESSION_MS = LEVEL_LIMITS.LEVEL_1.maxSessionMs;
/** How often a connection records that it is still in use (the session row's last_seen). */
const REFRESH_MS = 1000;
/** WebSocket close code for a session the server ended (terminated, or its account changed); the reason says why. */
export const SESSION_ENDED_CLOSE_CODE = 4001;
export { HEARTBEAT_STALE_MS };
const HEARTBEAT_EVERY_MS = 20_000;
const SWEEP_EVERY_MS = 1000;
/** A change's sweep of idle connections waits this long for the rest of a burst of changes. */
const SWEEP_DEBOUNCE_MS = 10;

export type { SessionOptions, SessionUser };

/** What the session service needs of the application (src/app.ts App satisfies it). */
export interface AuthServiceContext extends ScramLoginContext {
  readonly events: { unsubscribe(id: string): boolean };
  onShutdown(hook: () => Promise<void>): void;
  onChange(listener: (ev: ChangeEvent) => void): void;
}

/** One login's writes: drop the previous session's rows, store the new one, and its audit entry. */
interface SessionSwap {
  previous: Session | null;
  session: Session;
  also?: (trx: Tx) => Promise<void>;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/** Upper bound of logins committed together (keeps one transaction short). */
const MAX_SWAPS_PER_TRANSACTION = 64;

export class AuthService {
  private readonly lastRefresh = new WeakMap<Connection, number>();
  /** Live connections of this process, so a terminated session's socket can be closed. */
  readonly connections = new Set<Connection>();
  private sweeper: NodeJS.Timeout | null = null;
  private lastHeartbeat = 0;
  /** Session clean-ups of closed connections still running (awaited at shutdown). */
  private readonly pending = new Set<Promise<void>>();
  private stopped = false;
  /** Directory (LDAP) password check, installed by the directory area: returns a local user row id or null. */
  directoryLogin: DirectoryLoginHook | null = null;
  /**
   * Directory outage check for a local account's failed password, installed by the directory area:
   * the reason no directory server can be asked (then the login answers as an unknown name does),
   * or null. Sends no password anywhere.
   */
  directoryOutage: DirectoryOutageHook | null = null;

  /** The security and two-factor settings every password login reads, kept while the store is unchanged (./stamped.ts). */
  private readonly securitySettings: StampedRead<SecurityConfig>;
  private readonly twoFactorSettings: StampedRead<TwoFactorConfig>;

  constructor(private readonly app: AuthServiceContext) {
    this.securitySettings = new StampedRead(app.store, securityConfig);
    this.twoFactorSettings = new StampedRead(app.store, twoFactorConfig);
    app.onShutdown(async () => {
      this.stopped = true;
      this.stopSweeper();
      if (this.sweepSoon) clearTimeout(this.sweepSoon);
      await Promise.allSettled([...this.pending, this.sweeping]);
    });
    // A change committed here or announced by another process: tell idle connections at once.
    app.store.changes.onRemoteChange(() => this.requestSweep());
    app.onChange(() => this.requestSweep());
  }

  /** auth.login_ex: dispatch on the mechanism. */
  login(conn: Connection, req: LoginRequest | ScramRequest): Promise<LoginResponse | ScramResponse> {
    if (req.mechanism === "SCRAM") return loginScram(this.app, conn, req as ScramRequest);
    return loginEx(this.app, conn, req as LoginRequest);
  }

  registerConnection(conn: Connection): void {
    this.connections.add(conn);
    this.startSweeper();
  }

  connectionsOfSession(sessionId: string): Connection[] {
    return [...this.connections].filter((c) => c.session?.id === sessionId);
  }

  /**
   * One-shot HTTP calls: `Authorization: Basic` (password) or `Bearer <api key>`.
   * Attaches an unstored session to `conn` and returns true on success. Failures count toward the
   * same limits as WebSocket logins (the per-source anonymous limit of auth.login_ex, and through
   * the login itself the per-account lock-out and delay); successes are never limited.
   */
  async httpAuthenticate(conn: Connection, header: string): Promise<boolean> {
    await checkHttpAuthLimit(this.app, conn);
    const ok = await this.httpLogin(conn, header);
    if (!ok) await countHttpAuthFailure(this.app, conn);
    return ok;
  }

  private async httpLogin(conn: Connection, header: string): Promise<boolean> {
    const [scheme, value] = header.split(/\s+/, 2);
    if (!value) return false;
    const login_options = { user_info: false, reconnect_token: false, ephemeral: true };
    if (/^basic$/i.test(scheme)) {
      const text = Buffer.from(value, "base64").toString("utf8");
      const i = text.indexOf(":");
      if (i < 0) return false;
      const r = await this.login(conn, { mechanism: "PASSWORD_PLAIN", username: text.slice(0, i), password: text.slice(i + 1), login_options });
      return r.response_type === "SUCCESS";
    }
    if (/^bearer$/i.test(scheme)) {
      const r = await this.login(conn, { mechanism: "API_KEY_PLAIN", username: "", api_key: value, login_options });
      return r.response_type === "SUCCESS";
    }
    return false;
  }

  /** The `system.security` settings (shared: never change the value). */
  security(): Promise<SecurityConfig> {
    return this.securitySettings.get();
  }

  /** The `auth.twofactor` settings (shared: never change the value). */
  twoFactor(): Promise<TwoFactorConfig> {
    return this.twoFactorSettings.get();
  }

  async stig(): Promise<boolean> {
    return (await this.security()).enable_gpos_stig;
  }

  /** Build the in-process session for a user from their current privileges (`sec`: as the login read it). */
  async sessionForUser(user: SessionUser, credentials: CredentialType, conn: Connection, opts: SessionOptions, sec: SecurityConfig): Promise<Session> {
    const stig = sec.enable_gpos_stig;
    const level = assuranceLevel(sec);
    const grant = opts.grant ?? (await grantOfUser(this.app.store.db, user.id));
    const rights = rightsOf(this.app, grant, opts.keyRoles, !!opts.readonly, stig);
    const raw = rights.rawRoles;
    const access = rights.access;
    const now = Date.now();
    const limits = LEVEL_LIMITS[level];
    return {
      id: randomUUID(),
      credentials,
      credentialsData: { username: user.username, login_id: randomUUID(), login_at: new Date(now), ...(opts.credentialsData ?? {}) },
      userId: user.id,
      username: user.username,
      uid: user.uid,
      rawRoles: raw,
      roles: access.roles,
      fullAdmin: access.fullAdmin,
      allowedMethods: access.allowedMethods,
      attributes: opts.attributes ?? [],
      webShell: rights.webShell,
      webuiAccess: access.webuiAccess,
      apiKeyId: opts.apiKeyId ?? null,
      keyRoles: opts.keyRoles ?? null,
      createdAt: now,
      expiresAt: now + limits.maxSessionMs,
      idleMs: limits.idleMs,
      lastSeen: now,
      level,
      readonly: !!opts.readonly,
      tokenHash: opts.tokenHash ?? null,
      ephemeral: !!opts.ephemeral,
      secureTransport: conn.secure || conn.loopback,
      origin: conn.origin,
      internal: false,
      credStamp: opts.credStamp ?? null,
      grantFixed: !!opts.grantFixed,
      // Checked against the store on its first call (what the login read may have changed since),
      // unless the login read it all in one statement at a known stamp.
      checkedStamp: opts.checkedStamp ?? null,
    };
  }

  /** May a user with this session sign in at all (a privilege, or fleet access per SPEC)? */
  async hasApiAccess(session: Session): Promise<boolean> {
    if (session.rawRoles.length && session.roles.size) return true;
    if (session.userId === null) return false;
    return hasFleetAccess(this.app.store.db, session.userId);
  }

  /** A full-power session for the server's own work and the on-host CLI. */
  internalSession(): Session {
    const now = Date.now();
    return {
      id: randomUUID(),
      credentials: "INTERNAL",
      credentialsData: {},
      userId: null,
      username: "root",
      uid: 0,
      rawRoles: ["FULL_ADMIN"],
      roles: new Set(["FULL_ADMIN"]),
      fullAdmin: true,
      allowedMethods: new Set(),
      attributes: [],
      webShell: false,
      webuiAccess: true,
      apiKeyId: null,
      createdAt: now,
      expiresAt: Number.MAX_SAFE_INTEGER,
      secureTransport: true,
      origin: "internal",
      internal: true,
      ephemeral: true,
    };
  }

  /**
   * Make `session` the connection's session. The previous session's rows go, the new row comes,
   * and `alsoInTransaction` (the login's audit entry) is written in the same transaction: never a
   * session without its AUTHENTICATION entry. Logins that arrive while another's swap is being
   * written share the next transaction (group commit: one commit for the lot instead of one each);
   * should that transaction fail, each of them is retried in a transaction of its own, so one
   * login's failure is never another's.
   */
  async attach(conn: Connection, session: Session, alsoInTransaction?: (trx: Tx) => Promise<void>): Promise<void> {
    // Several logins may run at once on one connection: each replaces the one attached before it,
    // whose swap may not have been written yet (its rows then go in the same or a later
    // transaction, after they were written), so no session is left behind without a connection.
    const previous = conn.session ?? this.attaching.get(conn) ?? null;
    this.attaching.set(conn, session);
    conn.session = null;
    await new Promise<void>((resolve, reject) => {
      this.swaps.push({ previous, session, also: alsoInTransaction, resolve, reject });
      if (!this.writingSwaps) {
        // Started after this turn's other work, so logins finishing in the same turn join it.
        this.writingSwaps = true;
        setImmediate(() => void this.writeSwaps());
      }
    });
    if (this.attaching.get(conn) === session) this.attaching.delete(conn);
    conn.session = session;
    this.lastRefresh.set(conn, Date.now());
  }

  /**
   * attach() for a login whose audit entry is known. On SQLite, when no other swap is queued or
   * being written and no transaction is open on the store's connection, the swap (the previous
   * session's rows out, the new row in, the entry) is written and committed right here in one
   * synchronous transaction: no wait for a later loop turn and no promise hops per statement
   * (the group-commit path cost ~0.5 ms of a directory login, after the directory's last answer).
   * The guarantee is the same: the session and its entry commit together before this returns.
   * Otherwise — or if that transaction fails: rolled back, nothing written — the usual way.
   */
  attachWithEntry(conn: Connection, session: Session, entry: AuditInput): Promise<void> {
    const previous = conn.session ?? this.attaching.get(conn) ?? null;
    if (this.swapNow(previous, session, entry)) {
      conn.session = session;
      this.lastRefresh.set(conn, Date.now());
      return Promise.resolve();
    }
    return this.attach(conn, session, (trx) => writeAudit(this.app, entry, trx));
  }

  /** attachWithEntry's synchronous swap; false when it did not (or could not) write. */
  private swapNow(previous: Session | null, session: Session, entry: AuditInput): boolean {
    const store = this.app.store;
    // A queued or running swap may hold this connection's previous session: order is kept by the queue.
    if (store.dialect !== "sqlite" || this.swaps.length || this.writingSwaps) return false;
    // A transaction open on the connection (Kysely's, between its statements) is someone else's.
    const raw = freeSqliteHandle(store.db);
    if (!raw) return false;
    try {
      let swap = this.swapTransactions.get(raw);
      if (!swap) {
        // Made once per connection: better-sqlite3 builds a transaction function's wrapper anew on each call.
        swap = raw.transaction((previous: Session | null, session: Session, entry: AuditInput) => {
          if (previous && !previous.internal && !previous.ephemeral) {
            deleteSession.runNow(store.db, previous.id);
            destroyTokensOfNow(store.db, previous.id, { keepReconnect: true });
          }
          if (!session.ephemeral) insertSession.runNow(store.db, ...sessionRow(session));
          writeAuditNow(this.app, entry);
        });
        this.swapTransactions.set(raw, swap);
      }
      swap(previous, session, entry);
      return true;
    } catch {
      return false;
    }
  }

  /** swapNow's transaction, by SQLite connection. */
  private readonly swapTransactions = new WeakMap<object, (previous: Session | null, session: Session, entry: AuditInput) => void>();

  /** The session each connection is being given by a login whose swap is not written yet. */
  private readonly attaching = new WeakMap<Connection, Session>();

  /** Session swaps waiting for the next transaction, and whether one is being written. */
  private readonly swaps: SessionSwap[] = [];
  private writingSwaps = false;

  private async writeSwaps(): Promise<void> {
    this.writingSwaps = true;
    const db = this.app.store.db;
    try {
      while (this.swaps.length) {
        let batch: SessionSwap[] = [];
        try {
          await db.transaction().execute(async (trx) => {
            // Taken once the transaction has the connection: logins whose reads were queued ahead
            // of it have reached this queue by now and share its commit.
            batch = this.swaps.splice(0, MAX_SWAPS_PER_TRANSACTION);
            for (const swap of batch) await this.writeSwap(trx, swap);
          });
          for (const swap of batch) swap.resolve();
        } catch (err) {
          // The transaction could not even begin: fail the oldest swap, so the queue moves on.
          if (!batch.length) batch = this.swaps.splice(0, 1);
          if (batch.length === 1) {
            batch[0]!.reject(err);
            continue;
          }
          for (const swap of batch) {
            try {
              await db.transaction().execute((trx) => this.writeSwap(trx, swap));
              swap.resolve();
            } catch (e) {
              swap.reject(e);
            }
          }
        }
      }
    } finally {
      this.writingSwaps = false;
    }
  }

  private async writeSwap(trx: Tx, { previous, session, also }: SessionSwap): Promise<void> {
    if (previous && !previous.internal) await this.dropSessionRows(previous, trx, false);
    if (!session.ephemeral) await insertSession.execute(trx, ...sessionRow(session));
    if (also) await also(trx);
  }

  /** Persist a change of the session's roles (privilege.become_readonly). */
  async markReadonly(session: Session): Promise<void> {
    if (!session.ephemeral) await this.app.store.db.updateTable("sessions").set({ readonly: 1 }).where("id", "=", session.id).execute();
  }

  /**
   * Where the store stands for session checks: the change feed's stamp, which moves on every
   * committed change to accounts, groups, privileges, keys, settings and fleet access, and on every
   * session terminated by another process (migration 007; this process ends its own sessions
   * directly). Null while the change feed cannot tell (PostgreSQL listener down): then every call
   * re-reads.
   */
  authStamp(): string | null {
    return this.app.store.changes.stamp();
  }

  /**
   * Before each call: end the connection's session if it expired, or if it was terminated or its
   * account changed (./revalidate.ts) since it was last checked, and recompute its rights after
   * any other change. The check reads the store only when the change feed moved (or cannot tell),
   * so the common call costs no await; a call that starts after a change's commit has returned
   * sees it once this process has the change's notification.
   */
  refreshSession(conn: Connection): Promise<void> | undefined {
    const s = conn.session;
    if (!s || s.internal) return undefined;
    const now = Date.now();
    if (now > s.expiresAt || (s.idleMs && s.lastSeen && now - s.lastSeen > s.idleMs)) return this.logout(conn);
    s.lastSeen = now;
    // One-shot HTTP sessions were authenticated against the store by this very request.
    if (s.ephemeral) return undefined;
    const stamp = this.authStamp();
    if (stamp !== null && (stamp === s.checkedStamp || this.onlyOwnChangesElsewhere(s, stamp))) {
      if (now - (this.lastRefresh.get(conn) ?? 0) < REFRESH_MS) return undefined;
      this.lastRefresh.set(conn, now);
      return this.touchSession(s, now);
    }
    return this.revalidate(conn, s, stamp);
  }

  /**
   * Whether everything committed since the session's last check was this process's own commits,
   * each described by its typed event and none concerning the session (./revalidate.ts
   * changeConcernsSession): then the session stays checked, as of `stamp`, without a read. Anything
   * else — another process's commit, an undescribed write, a commit too long ago — answers no.
   */
  private onlyOwnChangesElsewhere(s: Session, stamp: string): boolean {
    const seen = s.checkedView;
    if (!seen || seen.stamp === null || (s.ownPasswordChanges ?? 0) > 0) return false;
    const feed = this.app.store.changes;
    const view = feed.view();
    if (view.stamp !== seen.stamp) return false;
    const commits = feed.ownSince(seen.seq);
    if (commits === null) return false;
    for (const ev of commits) if (changeConcernsSession(ev, s)) return false;
    s.checkedView = view;
    s.checkedStamp = stamp;
    return true;
  }

  /** Record that the session is in use (shown by auth.sessions; stale rows are swept). */
  private async touchSession(s: Session, now: number): Promise<void> {
    await this.app.store.db.updateTable("sessions").set({ last_seen: now }).where("id", "=", s.id).execute();
  }

  /** Checks in flight, so concurrent calls of one connection share one read. */
  private readonly checking = new WeakMap<Session, { stamp: string | null; done: Promise<void> }>();

  /** Check the connection's session against the store as of `stamp` (taken before the read). */
  revalidate(conn: Connection, s: Session, stamp: string | null): Promise<void> {
    const running = this.checking.get(s);
    if (running && running.stamp === stamp && stamp !== null) return running.done;
    // Taken before the read too: commits after it are looked at again on the next call.
    const view = this.app.store.changes.view();
    const done = (async () => {
      const row = await readSessionCheck(this.app, s);
      const verdict = await judgeSession(this.app, s, row, { stored: true, keepCredentials: (s.ownPasswordChanges ?? 0) > 0 });
      if (conn.session !== s) return; // logged out or replaced meanwhile
      if ("end" in verdict) {
        await this.endSession(conn, s, verdict.end);
        return;
      }
      if (verdict.rights) applyRights(s, verdict.rights, verdict.keyRoles);
      s.groupIds = groupIdsOfCheckRow(row);
      // A password change of its own in progress: checked again once it is over.
      if (!(s.ownPasswordChanges ?? 0)) {
        s.checkedStamp = stamp;
        s.checkedView = view;
      }
    })();
    this.checking.set(s, { stamp, done });
    void done
      .finally(() => {
        if (this.checking.get(s)?.done === done) this.checking.delete(s);
      })
      .catch(() => undefined);
    return done;
  }

  /**
   * End a session because it was terminated or its account changed: its row, its tokens and
   * reconnect tokens go (every process then refuses them), the audit log says why, and the
   * connection is closed with the reason (SESSION_ENDED_CLOSE_CODE), which the UI shows.
   */
  async endSession(conn: Connection | null, s: Session, reason: string): Promise<void> {
    if (conn && conn.session === s) conn.session = null;
    if (!s.ephemeral && !s.internal) {
      await this.app.store.db.transaction().execute(async (trx) => {
        await deleteSession.execute(trx, s.id);
        await destroyTokensOf(trx, s.id);
        if (s.tokenHash) await destroyToken(trx, s.tokenHash);
        await writeAudit(
          this.app,
          {
            event: "LOGOUT",
            eventData: { credentials: { credentials: s.credentials, credentials_data: s.credentialsData }, ended_by: "SERVER", reason },
            success: true,
            conn,
            session: s,
          },
          trx,
        );
      });
    }
    this.app.log.info({ session: s.id, username: s.username, reason }, "session ended");
    if (conn) {
      for (const id of conn.subscriptions.keys()) this.app.events.unsubscribe(id);
      conn.subscriptions.clear();
      conn.close(SESSION_ENDED_CLOSE_CODE, reason);
    }
  }

  /**
   * Run a change of `userId`'s password made by `session` (user.set_password, user.update): when
   * it is the session's own account, the session survives the change (its others end) and its
   * tokens follow the new password state. Call with the whole change, commit included.
   */
  async ownPasswordChange<T>(session: Session | null, userId: number, change: () => Promise<T>): Promise<T> {
    if (!session || session.internal || session.userId !== userId) return change();
    session.ownPasswordChanges = (session.ownPasswordChanges ?? 0) + 1;
    try {
      return await change();
    } finally {
      await this.adoptCredentials(session).catch((err) => this.app.log.error({ err }, "session credential update failed"));
      session.ownPasswordChanges! -= 1;
    }
  }

  /** The session takes its account's current password state (and so do the tokens it minted). */
  private async adoptCredentials(s: Session): Promise<void> {
    const db = this.app.store.db;
    const u = await db.selectFrom("users").select(["unixhash", "password_disabled"]).where("id", "=", s.userId!).executeTakeFirst();
    if (!u) return;
    const stamp = credentialStamp(u.unixhash, u.password_disabled);
    if (stamp === s.credStamp) return;
    s.credStamp = stamp;
    s.checkedStamp = null;
    s.checkedView = null;
    if (s.ephemeral) return;
    const tokens = await db.selectFrom("tokens").select(["token_hash", "attrs"]).where("session_id", "=", s.id).execute();
    for (const t of tokens) {
      const attrs = JSON.parse(t.attrs) as { parent?: { credStamp?: string | null } };
      if (attrs.parent) attrs.parent.credStamp = stamp;
      await db
        .updateTable("tokens")
        .set({ attrs: JSON.stringify(attrs) })
        .where("token_hash", "=", t.token_hash)
        .execute();
    }
  }

  /** End the connection's session. `explicit` (auth.logout) also destroys its reconnect tokens. */
  async logout(conn: Connection, opts: { explicit?: boolean } = {}): Promise<void> {
    const s = conn.session;
    if (!s) return;
    conn.session = null;
    if (s.internal) return;
    await this.dropSessionRows(s, this.app.store.db, !!opts.explicit);
  }

  /** Remove a session's row and its tokens (an explicit logout also ends the token it used). */
  private async dropSessionRows(s: Session, db: Tx, explicit: boolean): Promise<void> {
    if (s.tokenHash && explicit) await destroyToken(db, s.tokenHash);
    if (s.ephemeral) return;
    await deleteSession.execute(db, s.id);
    await destroyTokensOf(db, s.id, { keepReconnect: !explicit });
  }

  /**
   * Terminate a session of any process: mark it, destroy its tokens and close its sockets here;
   * other processes close theirs on their next sweep. False if there is no such live session.
   */
  async terminateSession(id: string): Promise<boolean> {
    const db = this.app.store.db;
    const r = await db.updateTable("sessions").set({ terminated: 1 }).where("id", "=", id).where("terminated", "=", 0).executeTakeFirst();
    if (Number(r.numUpdatedRows) === 0) return false;
    await destroyTokensOf(db, id);
    // Other processes hear of it at once (migration 007's NOTIFY; SQLite: data_version).
    for (const c of this.connectionsOfSession(id)) await this.endSession(c, c.session!, END_REASONS.terminated);
    return true;
  }

  async connectionClosed(conn: Connection): Promise<void> {
    this.connections.delete(conn);
    if (this.stopped) return;
    const p = this.logout(conn).catch((err) => this.app.log.error({ err }, "session clean-up failed"));
    this.pending.add(p);
    try {
      await p;
    } finally {
      this.pending.delete(p);
    }
  }

  private startSweeper(): void {
    if (this.sweeper || this.stopped) return;
    this.sweeper = setInterval(() => this.scheduleSweep(), SWEEP_EVERY_MS);
    this.sweeper.unref();
  }

  stopSweeper(): void {
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = null;
  }

  /** Close sockets of sessions terminated elsewhere; confirm our live sessions now and then. */
  /** A sweep running now, whether another was asked for meanwhile, and one due shortly. */
  private sweeping: Promise<void> | null = null;
  private sweepAgain = false;
  private sweepSoon: NodeJS.Timeout | null = null;

  /**
   * Check every session of this process soon (an account changed, here or — announced by the
   * change feed — on another process), so idle connections too are told at once that theirs ended.
   * A burst of changes makes one sweep (calls do not wait for it: each checks its own session).
   */
  requestSweep(): void {
    if (this.stopped || this.sweepSoon) return;
    this.sweepSoon = setTimeout(() => {
      this.sweepSoon = null;
      this.scheduleSweep();
    }, SWEEP_DEBOUNCE_MS);
    this.sweepSoon.unref();
  }

  private scheduleSweep(): void {
    if (this.stopped) return;
    if (this.sweeping) {
      this.sweepAgain = true;
      return;
    }
    this.sweeping = (async () => {
      try {
        do {
          this.sweepAgain = false;
          await this.sweep();
        } while (this.sweepAgain && !this.stopped);
      } catch (err) {
        this.app.log.error({ err }, "session sweep failed");
      } finally {
        this.sweeping = null;
      }
    })();
  }

  private async sweep(): Promise<void> {
    const mine = new Map<string, Connection>();
    for (const c of this.connections) if (c.session && !c.session.ephemeral && !c.session.internal) mine.set(c.session.id, c);
    if (!mine.size) return;
    const db = this.app.store.db;
    // Sessions not checked against the store as it is now: whether their account or key change
    // ends them, for all of them in two statements. (Their rights are recomputed by their next
    // call's own check, which this leaves due; so is ending one that lost all access.)
    const stamp = this.authStamp();
    const stale = [...mine.values()].filter((c) => c.session && (stamp === null || (c.session.checkedStamp !== stamp && !this.onlyOwnChangesElsewhere(c.session, stamp))));
    if (stale.length) {
      const stateOf = await readAccountStates(
        this.app,
        stale.map((c) => c.session!),
      );
      const stig = (await this.security()).enable_gpos_stig;
      for (const c of stale) {
        const s = c.session;
        if (!s) continue;
        const reason = accountEndReason(s, stateOf(s), { keepCredentials: (s.ownPasswordChanges ?? 0) > 0, stig });
        if (reason && c.session === s) await this.endSession(c, s, reason);
      }
    }
    const ids = [...mine.keys()];
    const now = Date.now();
    for (let i = 0; i < ids.length; i += 500) {
      const chunk = ids.slice(i, i + 500);
      const dead = await db.selectFrom("sessions").select("id").where("id", "in", chunk).where("terminated", "=", 1).execute();
      for (const d of dead) {
        const c = mine.get(d.id);
        if (c?.session?.id === d.id) await this.endSession(c, c.session, END_REASONS.terminated);
        else await db.deleteFrom("sessions").where("id", "=", d.id).execute();
      }
      if (now - this.lastHeartbeat >= HEARTBEAT_EVERY_MS) {
        await db.updateTable("sessions").set({ heartbeat: now }).where("id", "in", chunk).execute();
      }
    }
    if (now - this.lastHeartbeat >= HEARTBEAT_EVERY_MS) {
      this.lastHeartbeat = now;
      // Rows of expired sessions and of processes that stopped confirming theirs.
      await db
        .deleteFrom("sessions")
        .where((eb) => eb.or([eb("expires_at", "<", now), eb("heartbeat", "<", now - 10 * HEARTBEAT_STALE_MS)]))
        .execute();
    }
  }
}
