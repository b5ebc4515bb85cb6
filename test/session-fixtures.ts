// In-memory sessions and connections for tests that call the dispatcher or a session-taking
// function directly (no login, no store row, no socket): redaction, auth.me, result checks,
// session swaps, the query cache.

import type { Session } from "../src/auth/session.js";
import { Connection } from "../src/server/connection.js";

/**
 * A session as the dispatcher sees one: by default a password login of user 1 ("u", uid 1000)
 * holding `rawRoles` (none) unexpanded, never expiring, not stored (ephemeral). `over` replaces
 * any field; `roles` follows `rawRoles` unless given.
 */
export function testSession(over: Partial<Session> = {}): Session {
  const rawRoles = over.rawRoles ?? [];
  const identity = { id: "s", credentials: "LOGIN_PASSWORD" as const, credentialsData: {}, userId: 1, username: "u", uid: 1000 };
  const rights = { rawRoles, roles: new Set(rawRoles), fullAdmin: false, allowedMethods: new Set<string>(), attributes: [], webShell: false, webuiAccess: false, apiKeyId: null };
  const lifetime = { createdAt: 0, expiresAt: Number.MAX_SAFE_INTEGER, secureTransport: true, origin: "t", internal: false, ephemeral: true };
  return { ...identity, ...rights, ...lifetime, ...over };
}

const ignore = () => {};

/** A plain (not TLS) WebSocket connection from `origin` on loopback, whose sends go nowhere. */
export function testConnection(id = "c", origin = "127.0.0.1:2"): Connection {
  return new Connection(id, origin, "127.0.0.1", false, "WEBSOCKET", ignore, ignore);
}
