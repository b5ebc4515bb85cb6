// Authentication tokens (reference §7.5): 64 URL-safe characters, stored hashed in the store so
// any server process accepts them. TTL is sliding; `match_origin` binds a token to the remote
// address; single-use tokens die on first use; tokens with `attrs` (download/upload) never log in.
// Reconnect tokens (login option `reconnect_token`) carry a snapshot of their session so they
// still work after the connection that minted them closed.

import type { Db, Tx } from "../store/db.js";
import type { Session } from "./session.js";
import { sha256, urlSafeToken } from "./secrets.js";
import { param, prepare } from "./prepared.js";

export interface TokenOptions {
  ttl: number; // seconds
  attrs: Record<string, unknown>;
  matchOrigin: boolean;
  singleUse: boolean;
  reconnect?: boolean;
}

/** What a token session inherits from the session that minted the token. */
export interface TokenParent {
  sessionId: string;
  userId: number | null;
  username: string;
  credentials: string;
  credentialsData: Record<string, unknown>;
  attributes: string[];
  apiKeyId: number | null;
  keyRoles: readonly string[] | null;
  readonly: boolean;
  /** The account's password state when the token was minted (absent on tokens of older versions). */
  credStamp?: string | null;
}

export function parentOf(session: Session): TokenParent {
  return {
    sessionId: session.id,
    userId: session.userId,
    username: session.username,
    credentials: session.credentials,
    credentialsData: session.credentialsData,
    attributes: session.attributes.filter((a) => a !== "OTPW"),
    apiKeyId: session.apiKeyId,
    keyRoles: session.keyRoles ?? null,
    readonly: !!session.readonly,
    credStamp: session.credStamp ?? null,
  };
}

export async function createToken(db: Tx, session: Session, remoteAddress: string, opts: TokenOptions): Promise<string> {
  const token = urlSafeToken(64);
  const now = Date.now();
  await db
    .insertInto("tokens")
    .values({
      token_hash: sha256(token),
      session_id: session.id,
      attrs: JSON.stringify(opts.reconnect ? { parent: parentOf(session) } : { ...opts.attrs, parent: parentOf(session) }),
      match_origin: opts.matchOrigin ? remoteAddress : null,
      single_use: opts.singleUse || opts.reconnect ? 1 : 0,
      ttl: opts.ttl,
      expires_at: now + opts.ttl * 1000,
      reconnect: opts.reconnect ? 1 : 0,
    })
    .execute();
  return token;
}

export type TokenCheck = { ok: true; parent: TokenParent; tokenHash: string; singleUse: boolean } | { ok: false; error: string };

/** Validate (and, for single-use tokens, consume) a token presented for login. */
export async function useToken(db: Tx, token: string, remoteAddress: string, now = Date.now()): Promise<TokenCheck> {
  const hash = sha256(token);
  const row = await db.selectFrom("tokens").selectAll().where("token_hash", "=", hash).executeTakeFirst();
  if (!row || Number(row.expires_at) <= now) return { ok: false, error: "Invalid token" };
  const { parent, ...attrs } = JSON.parse(row.attrs) as { parent: TokenParent } & Record<string, unknown>;
  if (Object.keys(attrs).length) return { ok: false, error: "Bad token" };
  if (row.match_origin !== null && row.match_origin !== remoteAddress) return { ok: false, error: "Invalid token" };
  if (!row.reconnect) {
    const live = await db.selectFrom("sessions").select("id").where("id", "=", row.session_id).where("terminated", "=", 0).where("expires_at", ">", now).executeTakeFirst();
    if (!live) return { ok: false, error: "Invalid token" };
  }
  if (row.single_use) {
    const r = await db.deleteFrom("tokens").where("token_hash", "=", hash).executeTakeFirst();
    if (Number(r.numDeletedRows) !== 1) return { ok: false, error: "Invalid token" };
  } else {
    await db
      .updateTable("tokens")
      .set({ expires_at: now + row.ttl * 1000 })
      .where("token_hash", "=", hash)
      .execute();
  }
  return { ok: true, parent, tokenHash: hash, singleUse: !!row.single_use };
}

/** Tokens minted by a session die with it (logout, termination); reconnect tokens survive a closed socket. */
const deleteTokensOf = prepare<[string]>()(1, (db) => db.deleteFrom("tokens").where("session_id", "=", param<string>(0)).compile());
const deleteTokensOfKeepReconnect = prepare<[string]>()(1, (db) => db.deleteFrom("tokens").where("session_id", "=", param<string>(0)).where("reconnect", "=", 0).compile());

export async function destroyTokensOf(db: Tx, sessionId: string, opts: { keepReconnect?: boolean } = {}): Promise<void> {
  await (opts.keepReconnect ? deleteTokensOfKeepReconnect : deleteTokensOf).execute(db, sessionId);
}

/** destroyTokensOf run now, inside a transaction the caller holds on the SQLite store's connection (Prepared.runNow). */
export function destroyTokensOfNow(store: Db, sessionId: string, opts: { keepReconnect?: boolean } = {}): void {
  (opts.keepReconnect ? deleteTokensOfKeepReconnect : deleteTokensOf).runNow(store, sessionId);
}

export async function destroyToken(db: Tx, tokenHash: string): Promise<void> {
  await db.deleteFrom("tokens").where("token_hash", "=", tokenHash).execute();
}
