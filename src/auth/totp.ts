// Per-user TOTP second factor (reference §7.7): secrets, provisioning URIs, and verification
// with the global window. Codes are single-use: each accepted time step is recorded in the store
// (onetime_codes kind TOTP_USED), so a replay is refused by every server process.

import { hostname } from "node:os";
import { createHash } from "node:crypto";
import { Secret, TOTP } from "otpauth";
import type { Tx } from "../store/db.js";

export const TOTP_ISSUER = "Gatehouse";
/**
 * Most time steps accepted either side of now (a departure: the reference has no bound). Each step
 * widens what a guess may hit: window 10 already accepts 21 codes of 10^6.
 */
export const MAX_TOTP_WINDOW = 10;

export function newTotpSecret(): string {
  return new Secret({ size: 20 }).base32; // 32 base32 characters, like pyotp.random_base32
}

function totpOf(username: string, secret: string, digits: number, interval: number): TOTP {
  return new TOTP({
    issuer: TOTP_ISSUER,
    label: `${username}-${hostname()}@${TOTP_ISSUER}`,
    algorithm: "SHA1",
    digits,
    period: interval,
    secret: Secret.fromBase32(secret),
  });
}

export function provisioningUri(username: string, secret: string, digits: number, interval: number): string {
  return totpOf(username, secret, digits, interval).toString();
}

export interface TotpUser {
  id: number;
  username: string;
  twofactor_secret: string | null;
  twofactor_digits: number;
  twofactor_interval: number;
}

/** Check `token` against the user's secret; consumes the matched time step. */
export async function verifyTotp(db: Tx, user: TotpUser, token: string, window: number, now = Date.now()): Promise<boolean> {
  if (!user.twofactor_secret || !/^\d{6,8}$/.test(token)) return false;
  const totp = totpOf(user.username, user.twofactor_secret, user.twofactor_digits, user.twofactor_interval);
  // A window stored before the bound existed is read as the bound.
  const delta = totp.validate({ token, timestamp: now, window: Math.min(Math.max(0, window), MAX_TOTP_WINDOW) });
  if (delta === null) return false;
  const step = Math.floor(now / 1000 / user.twofactor_interval) + delta;
  // Secret and step identify the code: renewing the secret starts a fresh history.
  const codeHash = createHash("sha256").update(`${user.id}:${user.twofactor_secret}:${step}`).digest("hex");
  const used = await db.selectFrom("onetime_codes").select("id").where("kind", "=", "TOTP_USED").where("code_hash", "=", codeHash).executeTakeFirst();
  if (used) return false;
  try {
    await db
      .insertInto("onetime_codes")
      .values({
        kind: "TOTP_USED",
        user_id: user.id,
        code_hash: codeHash,
        data: "{}",
        created_at: now,
        expires_at: now + (window + 2) * user.twofactor_interval * 1000,
        used: 1,
      })
      .execute();
  } catch {
    return false; // another process recorded the same step first (unique index)
  }
  // Old records are useless once their step left every window.
  await db
    .deleteFrom("onetime_codes")
    .where("kind", "=", "TOTP_USED")
    .where("expires_at", "<", now - 3600_000)
    .execute();
  return true;
}
