// Sessions: who is calling, with which roles. A session row lives in the store so any server
// process sharing the database accepts it; each connection holds the in-process view.

import { randomUUID } from "node:crypto";
import type { App } from "../app.js";
import type { Connection } from "../server/connection.js";
import type { Session, CredentialType } from "./session.js";
import { accessFor } from "../access/authorize.js";
import { getSetting } from "../store/settings.js";
import { loginPassword, type LoginRequest, type LoginResponse } from "./login.js";
import type { Tx } from "../store/db.js";

export const LEVEL_1_MAX_SESSION_MS = 30 * 24 * 3600 * 1000;
/** How often a connection re-reads its session row (termination by another process). */
const REFRESH_MS = 1000;

export interface SecuritySettings {
  enable_gpos_stig: boolean;
}

/** Raw (unexpanded) roles of a user: union over privileges naming their primary or aux groups. */
export async function rolesOfUser(db: Tx, userId: number): Promise<string[]> {
  const gids = await gidsOfUser(db, userId);
  return rolesOfGids(db, gids);
}

export async function gidsOfUser(db: Tx, userId: number): Promise<number[]> {
  const primary = await db
    .selectFrom("users")
    .innerJoin("groups", "groups.id", "users.group_id")
    .select("groups.gid")
    .where("users.id", "=", userId)
    .executeTakeFirst();
  const aux = await db
    .selectFrom("memberships")
    .innerJoin("groups", "groups.id", "memberships.group_id")
    .select("groups.gid")
    .where("memberships.user_id", "=", userId)
    .execute();
  return [...(primary ? [primary.gid] : []), ...aux.map((r) => r.gid)];
}

export async function rolesOfGids(db: Tx, gids: number[]): Promise<string[]> {
  if (!gids.length) return [];
  const privileges = await db.selectFrom("privileges").select(["local_groups", "roles"]).execute();
  const set = new Set(gids);
  const roles = new Set<string>();
  for (const p of privileges) {
    const local = JSON.parse(p.local_groups) as number[];
    if (local.some((g) => set.has(g))) for (const r of JSON.parse(p.roles) as string[]) roles.add(r);
  }
  return [...roles];
}

export class AuthService {
  private readonly lastRefresh = new WeakMap<Connection, number>();
  /** Live connections of this process, so a terminated session's socket can be closed. */
  readonly connections = new Set<Connection>();

  constructor(private readonly app: App) {}

  /** auth.login_ex: dispatch on the mechanism. */
  async login(conn: Connection, req: LoginRequest): Promise<LoginResponse> {
    switch (req.mechanism) {
      case "PASSWORD_PLAIN":
        return loginPassword(this.app, conn, req);
      default:
        return { response_type: "AUTH_ERR" };
    }
  }

  registerConnection(conn: Connection): void {
    this.connections.add(conn);
  }

  connectionsOfSession(sessionId: string): Connection[] {
    return [...this.connections].filter((c) => c.session?.id === sessionId);
  }

  /**
   * One-shot HTTP calls: `Authorization: Basic` (password) or `Bearer <api key>`.
   * Attaches a session to `conn` and returns true on success.
   */
  async httpAuthenticate(conn: Connection, header: string): Promise<boolean> {
    const [scheme, value] = header.split(/\s+/, 2);
    if (!value) return false;
    if (/^basic$/i.test(scheme)) {
      const text = Buffer.from(value, "base64").toString("utf8");
      const i = text.indexOf(":");
      if (i < 0) return false;
      const r = await this.login(conn, { mechanism: "PASSWORD_PLAIN", username: text.slice(0, i), password: text.slice(i + 1), login_options: { user_info: false } });
      return r.response_type === "SUCCESS";
    }
    if (/^bearer$/i.test(scheme)) {
      const r = await this.login(conn, { mechanism: "API_KEY_PLAIN", username: null, api_key: value, login_options: { user_info: false } });
      return r.response_type === "SUCCESS";
    }
    return false;
  }

  async stig(): Promise<boolean> {
    const sec = await getSetting<SecuritySettings>(this.app.store.db, "system.security", { enable_gpos_stig: false });
    return !!sec.enable_gpos_stig;
  }

  /** Build the in-process session for a user from their current privileges. */
  async sessionForUser(
    user: { id: number; username: string; uid: number },
    credentials: CredentialType,
    conn: Connection,
    opts: { attributes?: string[]; credentialsData?: Record<string, unknown>; apiKeyId?: number | null; limitRoles?: string[] | null; id?: string } = {},
  ): Promise<Session> {
    const stig = await this.stig();
    let raw = await rolesOfUser(this.app.store.db, user.id);
    if (opts.limitRoles) {
      const ownerAccess = accessFor(this.app.registry, raw, stig);
      raw = opts.limitRoles.filter((r) => ownerAccess.roles.has(r) || raw.includes(r));
    }
    const access = accessFor(this.app.registry, raw, stig);
    const now = Date.now();
    return {
      id: opts.id ?? randomUUID(),
      credentials,
      credentialsData: { username: user.username, login_at: new Date(now).toISOString(), ...(opts.credentialsData ?? {}) },
      userId: user.id,
      username: user.username,
      uid: user.uid,
      roles: access.roles,
      fullAdmin: access.fullAdmin,
      allowedMethods: access.allowedMethods,
      attributes: opts.attributes ?? [],
      webShell: false,
      webuiAccess: access.webuiAccess,
      apiKeyId: opts.apiKeyId ?? null,
      createdAt: now,
      expiresAt: now + LEVEL_1_MAX_SESSION_MS,
      secureTransport: conn.secure || conn.loopback,
      origin: conn.origin,
      internal: false,
    };
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
    };
  }

  /** Store the session and attach it to the connection. */
  async attach(conn: Connection, session: Session): Promise<void> {
    await this.app.store.db
      .insertInto("sessions")
      .values({
        id: session.id,
        user_id: session.userId,
        username: session.username,
        credentials: session.credentials,
        credentials_data: JSON.stringify(session.credentialsData),
        origin: session.origin,
        secure_transport: session.secureTransport ? 1 : 0,
        attributes: JSON.stringify(session.attributes),
        readonly: 0,
        api_key_id: session.apiKeyId,
        created_at: session.createdAt,
        last_seen: session.createdAt,
        expires_at: session.expiresAt,
        terminated: 0,
      })
      .execute();
    conn.session = session;
    this.lastRefresh.set(conn, Date.now());
  }

  /** Drop the connection's session if it was terminated (possibly by another process) or expired. */
  async refreshSession(conn: Connection): Promise<void> {
    const s = conn.session;
    if (!s || s.internal) return;
    const now = Date.now();
    if (now > s.expiresAt) {
      conn.session = null;
      return;
    }
    if (now - (this.lastRefresh.get(conn) ?? 0) < REFRESH_MS) return;
    this.lastRefresh.set(conn, now);
    const row = await this.app.store.db.selectFrom("sessions").select(["terminated", "expires_at"]).where("id", "=", s.id).executeTakeFirst();
    if (!row || row.terminated || now > row.expires_at) conn.session = null;
  }

  async logout(conn: Connection): Promise<void> {
    const s = conn.session;
    if (!s) return;
    conn.session = null;
    if (!s.internal) await this.app.store.db.deleteFrom("sessions").where("id", "=", s.id).execute();
  }

  async connectionClosed(conn: Connection): Promise<void> {
    this.connections.delete(conn);
    await this.logout(conn);
  }
}
