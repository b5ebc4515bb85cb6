// API keys (reference §6 as adapted by SPEC): `<id>-<64 letters and digits>`, shown once, stored
// as a salted SHA-256 (fast, so a PLAIN key check is cheap) compared in constant time, and beside
// it the key's SCRAM-SHA-512 record (./scram.ts), derived once when the key is made or reset.
// A key has ~380 bits of entropy, so iterating its PLAIN hash would add nothing.

import type { Tx } from "../store/db.js";
import { randomPassword } from "./password-hash.js";
import { safeEqual, sha256 } from "./secrets.js";
import { deriveScramRecord, type ScramRecord } from "./scram.js";
import type { Built } from "../server/wire-schema.js";
import type { ApiKeyEntrySchema } from "./schemas.js";

export const KEY_SECRET_LENGTH = 64;

export function newKeySecret(): string {
  return randomPassword(KEY_SECRET_LENGTH);
}

export function newKeySalt(): string {
  return randomPassword(16);
}

export function hashKey(salt: string, secret: string): string {
  return sha256(`${salt}${secret}`);
}

export function keyMatches(salt: string, secret: string, keyhash: string): boolean {
  return safeEqual(hashKey(salt, secret), keyhash);
}

/** Split `<id>-<secret>`; null when malformed. */
export function parseApiKey(raw: string): { id: number; secret: string } | null {
  const m = /^(\d{1,12})-([A-Za-z0-9]{64})$/.exec(raw.trim());
  return m ? { id: Number(m[1]), secret: m[2] } : null;
}

/** A new key's secret and everything stored of it; `key` and `client_key` are shown once. */
export interface IssuedKeyMaterial {
  secret: string;
  client_key: string;
  columns: { keyhash_salt: string; keyhash: string } & ScramRecord;
}

/** Draw a key's secret and derive what is stored of it (one PBKDF2, off the event loop). */
export async function issueKeyMaterial(iterations: number): Promise<IssuedKeyMaterial> {
  const secret = newKeySecret();
  const keyhashSalt = newKeySalt();
  const { record, clientKey } = await deriveScramRecord(secret, iterations);
  return { secret, client_key: clientKey, columns: { keyhash_salt: keyhashSalt, keyhash: hashKey(keyhashSalt, secret), ...record } };
}

/**
 * A key made before SCRAM existed gets its record on its next successful PLAIN login (the only
 * time the server sees the secret again). Written only while the record is still missing.
 */
export async function addMissingScramRecord(db: Tx, id: number, secret: string, iterations: number): Promise<void> {
  const { record } = await deriveScramRecord(secret, iterations);
  await db.updateTable("api_keys").set(record).where("id", "=", id).where("stored_key", "is", null).execute();
}

/** An API key's entry as built here, secrets included (the dispatcher redacts them): ApiKeyEntrySchema's shape. */
export type ApiKeyEntry = Built<typeof ApiKeyEntrySchema>;

export const API_KEY_SECRET_FIELDS = ["keyhash", "keyhash_salt", "iterations", "salt", "stored_key", "server_key"] as const;

/** Entries of every API key (or of one owner); keys whose owner is gone are reported revoked. */
export async function apiKeyEntries(db: Tx, opts: { userId?: number } = {}): Promise<ApiKeyEntry[]> {
  let q = db
    .selectFrom("api_keys")
    .leftJoin("users", "users.id", "api_keys.user_id")
    .select([
      "api_keys.id",
      "api_keys.name",
      "api_keys.user_id",
      "api_keys.keyhash_salt",
      "api_keys.keyhash",
      "api_keys.iterations",
      "api_keys.salt",
      "api_keys.stored_key",
      "api_keys.server_key",
      "api_keys.created_at",
      "api_keys.expires_at",
      "api_keys.revoked",
      "api_keys.revoked_reason",
      "api_keys.roles",
      "users.username as owner",
    ])
    .orderBy("api_keys.id");
  if (opts.userId !== undefined) q = q.where("api_keys.user_id", "=", opts.userId);
  const rows = await q.execute();
  return rows.map((r) => {
    const orphan = !r.owner;
    return {
      id: r.id,
      name: r.name,
      username: r.owner ?? null,
      user_identifier: orphan ? null : r.user_id,
      keyhash: r.keyhash,
      keyhash_salt: r.keyhash_salt,
      iterations: r.iterations === null ? null : Number(r.iterations),
      salt: r.salt,
      stored_key: r.stored_key,
      server_key: r.server_key,
      scram: r.stored_key !== null,
      created_at: new Date(Number(r.created_at)),
      expires_at: r.expires_at === null ? null : new Date(Number(r.expires_at)),
      local: true,
      revoked: orphan || !!r.revoked,
      revoked_reason: orphan ? "User does not exist" : r.revoked_reason,
      roles: r.roles === null ? null : (JSON.parse(r.roles) as string[]),
    };
  });
}

export async function revokeApiKey(db: Tx, id: number, reason: string): Promise<void> {
  await db.updateTable("api_keys").set({ revoked: 1, revoked_reason: reason }).where("id", "=", id).execute();
}
