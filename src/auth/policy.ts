// Security settings shared by every server process (store `settings`): the password policy and
// STIG switch of `system.security` (reference §7.8, SPEC lock-out), and the global two-factor
// configuration of `auth.twofactor` (§7.7). Plus the checks that apply them: password rules,
// password aging, and the failed-login lock-out counters.

import type { Tx } from "../store/db.js";
import { getSetting } from "../store/settings.js";
import { param, prepare } from "./prepared.js";
import { verifyPassword } from "./password-hash.js";
import { fieldError, type FieldError } from "../server/errors.js";
import type { AssuranceLevel } from "./session.js";
import type { z } from "zod";
import type { SecurityConfigSchema, TwofactorGlobalConfigSchema } from "./schemas.js";

export const COMPLEXITY_CLASSES = ["UPPER", "LOWER", "NUMBER", "SPECIAL"] as const;
export type ComplexityClass = (typeof COMPLEXITY_CLASSES)[number];

/**
 * The `system.security` setting: SecurityConfigSchema's shape, with the complexity classes
 * narrowed to the four this module checks (the schema says string, as the reference's wire does).
 */
export type SecurityConfig = Omit<z.infer<typeof SecurityConfigSchema>, "password_complexity_ruleset"> & { password_complexity_ruleset: ComplexityClass[] | null };

export const SECURITY_DEFAULTS: SecurityConfig = {
  id: 1,
  enable_fips: false,
  enable_gpos_stig: false,
  min_password_age: null,
  max_password_age: null,
  password_complexity_ruleset: null,
  // A departure: the reference's default is none. 8 is NIST SP 800-63B's floor for chosen passwords;
  // `system.security.update` may raise it (or set null to follow the reference).
  min_password_length: 8,
  password_history_length: null,
  // On by default (SPEC "Lock-out"): 5 failures of one account from one source lock that pair out
  // for 15 minutes (src/auth/limiter.ts).
  lockout_threshold: 5,
  lockout_duration: 900,
};

/** What GPOS STIG forces (reference §7.8). */
export const STIG_POLICY = {
  min_password_age: 1,
  max_password_age: 60,
  password_history_length: 5,
  password_complexity_ruleset: [...COMPLEXITY_CLASSES],
  min_password_length: 15,
  lockout_threshold: 3,
  lockout_duration: 900,
};

/** The `auth.twofactor` setting: TwofactorGlobalConfigSchema's shape. */
export type TwoFactorConfig = z.infer<typeof TwofactorGlobalConfigSchema>;

export const TWOFACTOR_DEFAULTS: TwoFactorConfig = { id: 1, enabled: false, window: 0, services: { ssh: false } };

export const SECURITY_KEY = "system.security";
export const TWOFACTOR_KEY = "auth.twofactor";

const settingValue = prepare<[string]>()(1, (db) => db.selectFrom("settings").select("value").where("key", "=", param<string>(0)).compile());

/** `system.security` (read on every login: a prepared statement; the same defaults as getSetting). */
export async function securityConfig(db: Tx): Promise<SecurityConfig> {
  return securityFromStored((await settingValue.first(db, SECURITY_KEY))?.value);
}

/** The `system.security` setting from its stored JSON text (absent: the defaults), as getSetting reads it. */
export function securityFromStored(value: string | null | undefined): SecurityConfig {
  if (value === null || value === undefined) return SECURITY_DEFAULTS;
  const stored = JSON.parse(value) as SecurityConfig;
  return stored && typeof stored === "object" && !Array.isArray(stored) ? { ...SECURITY_DEFAULTS, ...stored } : stored;
}

export function twoFactorConfig(db: Tx): Promise<TwoFactorConfig> {
  return getSetting<TwoFactorConfig>(db, TWOFACTOR_KEY, TWOFACTOR_DEFAULTS);
}

export function assuranceLevel(sec: SecurityConfig): AssuranceLevel {
  return sec.enable_gpos_stig ? "LEVEL_2" : "LEVEL_1";
}

export const LEVEL_LIMITS: Record<AssuranceLevel, { maxSessionMs: number; idleMs: number | null; mechanisms: string[] }> = {
  LEVEL_1: { maxSessionMs: 30 * 24 * 3600_000, idleMs: null, mechanisms: ["API_KEY_PLAIN", "TOKEN_PLAIN", "PASSWORD_PLAIN", "SCRAM"] },
  LEVEL_2: { maxSessionMs: 12 * 3600_000, idleMs: 30 * 60_000, mechanisms: ["PASSWORD_PLAIN"] },
};

// ---- password rules ------------------------------------------------------------------------

const SPECIAL = /[!-/:-@[-`{-~]/;

export function absentClasses(password: string, ruleset: readonly ComplexityClass[]): ComplexityClass[] {
  const has: Record<ComplexityClass, boolean> = {
    UPPER: /\p{Lu}/u.test(password),
    LOWER: /\p{Ll}/u.test(password),
    NUMBER: /\p{Nd}/u.test(password),
    SPECIAL: SPECIAL.test(password),
  };
  return COMPLEXITY_CLASSES.filter((c) => ruleset.includes(c) && !has[c]);
}

/**
 * Policy problems with a new password, as field errors on `attribute`. `history` holds the
 * account's previous hashes, newest last, with the current hash as the final element.
 */
export async function passwordPolicyErrors(db: Tx, attribute: string, password: string, history: readonly string[] = [], read?: SecurityConfig): Promise<FieldError[]> {
  // `read`: the settings the caller already read in this call (one statement fewer per write).
  const sec = read ?? (await securityConfig(db));
  const errors: FieldError[] = [];
  const minLen = sec.min_password_length;
  if (minLen && [...password].length < minLen) {
    errors.push(fieldError(attribute, `The specified password is too short. The minimum password length is ${minLen} characters.`, "password.too_short"));
  }
  if (sec.password_complexity_ruleset?.length) {
    const absent = absentClasses(password, sec.password_complexity_ruleset);
    if (absent.length) {
      errors.push(fieldError(attribute, `The specified password does not meet minimum complexity requirements. The following character types are absent: ${absent.join(", ")}`, "password.too_simple"));
    }
  }
  const n = sec.password_history_length;
  if (n && history.length) {
    for (const old of history.slice(-n)) {
      if (await verifyPassword(password, old)) {
        errors.push(fieldError(attribute, `The specified password must not match any of the last ${n} passwords for this account.`, "password.reused"));
        break;
      }
    }
  }
  return errors;
}

/** New password history after a change: previous hashes plus the one being replaced (max 10). */
export function nextHistory(history: readonly string[], replacedHash: string | null): string[] {
  const out = [...history];
  if (replacedHash?.startsWith("$")) out.push(replacedHash);
  return out.slice(-10);
}

// ---- aging -----------------------------------------------------------------------------------

const DAY = 24 * 3600_000;
/** Within this many days of expiry a password must be changed (PASSWORD_CHANGE_REQUIRED). */
export const EXPIRY_WARNING_DAYS = 6;

export interface AgingState {
  expired: boolean;
  changeRequired: boolean;
}

export function passwordAging(sec: SecurityConfig, user: { uid: number; password_disabled: number; last_password_change: number | null }, now = Date.now()): AgingState {
  const max = sec.max_password_age;
  if (!max || user.uid === 0 || user.password_disabled) return { expired: false, changeRequired: false };
  const last = user.last_password_change ?? 0;
  const expiresAt = last + max * DAY;
  return { expired: now >= expiresAt, changeRequired: now >= expiresAt - EXPIRY_WARNING_DAYS * DAY };
}

export function minAgeBlocks(sec: SecurityConfig, lastChange: number | null, now = Date.now()): boolean {
  const min = sec.min_password_age;
  return !!min && lastChange !== null && now - lastChange < min * DAY;
}

// ---- lock-out --------------------------------------------------------------------------------
// Counted per (account, source) by the login limiter (./limiter.ts), shared by every server
// process through the store.

export function lockoutSettings(sec: SecurityConfig): { threshold: number; durationMs: number } | null {
  let threshold = sec.lockout_threshold;
  let duration = sec.lockout_duration;
  if (sec.enable_gpos_stig) {
    threshold = threshold ? Math.min(threshold, STIG_POLICY.lockout_threshold) : STIG_POLICY.lockout_threshold;
    duration ||= STIG_POLICY.lockout_duration;
  }
  return threshold > 0 && duration > 0 ? { threshold, durationMs: duration * 1000 } : null;
}

/** An administrator's update of the account (or reset-admin): forget its failures and lock-outs. */
export { clearAccountFailures as clearLockout } from "./limiter.js";

/**
 * The password rules every signed-in user may know (auth.password_policy), so forms can check a
 * new password before sending it; the rest of system.security stays behind SYSTEM_SECURITY_READ.
 */
export async function passwordPolicy(db: Tx) {
  const sec = await securityConfig(db);
  return {
    min_password_length: sec.min_password_length,
    password_complexity_ruleset: sec.password_complexity_ruleset,
    password_history_length: sec.password_history_length,
    min_password_age: sec.min_password_age,
    max_password_age: sec.max_password_age,
  };
}
