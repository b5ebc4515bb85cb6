// system.security.update (reference §5.5): the password policy, lock-out and GPOS STIG settings.
// Enabling STIG checks its preconditions (two-factor for SSH and for an administrator, the
// caller signed in with two factors, no password on root/truenas_admin) and applies its minimums.
// auth.twofactor.update (§7.7): the global two-factor settings, which STIG keeps on.

import { z } from "zod";
import { ValidationErrors, validationError } from "../server/errors.js";
import type { Db } from "../store/db.js";
import { setSetting } from "../store/settings.js";
import { changeOf, type ChangeEvent } from "../store/change-event.js";
import { commitChange } from "../store/changes.js";
import { accessFor, type MethodTable } from "../access/authorize.js";
import { rolesOfUser } from "../access/privileges.js";
import { COMPLEXITY_CLASSES, SECURITY_KEY, STIG_POLICY, TWOFACTOR_KEY, securityConfig, twoFactorConfig, type SecurityConfig, type TwoFactorConfig } from "./policy.js";
import { MAX_TOTP_WINDOW } from "./totp.js";

/** What changing the settings needs: the store, role expansion, the change feed, the caller and its job. */
export interface SecurityUpdateContext {
  app: { readonly store: { readonly db: Db }; readonly registry: MethodTable; changed(ev: ChangeEvent): void };
  session: { internal: boolean; attributes: string[] } | null;
  job?: { setProgress(percent: number, description?: string): void };
}

const ATTR = "system_security_update";

export const SecurityUpdateSchema = z.strictObject({
  enable_fips: z.boolean().optional(),
  enable_gpos_stig: z.boolean().optional(),
  min_password_age: z.number().int().min(1).nullable().optional(),
  max_password_age: z.number().int().min(7).max(365).nullable().optional(),
  password_complexity_ruleset: z.array(z.enum(COMPLEXITY_CLASSES)).nullable().optional(),
  min_password_length: z.number().int().min(8).max(128).nullable().optional(),
  password_history_length: z.number().int().min(1).max(10).nullable().optional(),
  lockout_threshold: z.number().int().min(0).max(1000).optional(),
  lockout_duration: z
    .number()
    .int()
    .min(0)
    .max(30 * 24 * 3600)
    .optional(),
});

/** Preconditions of enabling STIG (reference §5.5, without licence/FIPS/VM/app checks): the first unmet one. */
async function stigProblem(ctx: SecurityUpdateContext): Promise<string | null> {
  const db = ctx.app.store.db;
  const tf = await twoFactorConfig(db);
  if (!tf.enabled) return "Two factor authentication must be globally enabled.";
  if (!tf.services.ssh) return "Two factor authentication for SSH access must be enabled.";
  const withTotp = await db.selectFrom("users").select(["id"]).where("source", "=", "LOCAL").where("locked", "=", 0).where("twofactor_secret", "is not", null).execute();
  if (!withTotp.length) return "At least one local user must have two factor authentication configured.";
  let admin = false;
  for (const u of withTotp) {
    if (accessFor(ctx.app.registry, await rolesOfUser(db, u.id), false).roles.has("FULL_ADMIN")) admin = true;
  }
  if (!admin) return "At least one local user with full administrative privileges must have two factor authentication configured.";
  const s = ctx.session!;
  if (!s.internal && !s.attributes.includes("2FA")) {
    return "Credential used to enable General Purpose OS STIG compatibility must have two factor authentication enabled.";
  }
  const withPassword = await db.selectFrom("users").select(["username", "unixhash"]).where("uid", "in", [0, 950]).where("password_disabled", "=", 0).execute();
  const names = withPassword.filter((u) => u.unixhash?.startsWith("$")).map((u) => u.username);
  if (names.length) return `PLEASE DISABLE PASSWORD AUTHENTICATION ON THE FOLLOWING ACCOUNTS: ${names.join(", ")}`;
  return null;
}

/** STIG minimums: fill unset values, refuse weaker ones. */
function applyStigPolicy(next: SecurityConfig, sent: SecurityUpdate): void {
  const errors = new ValidationErrors();
  const weak = (field: string) => errors.add(`${ATTR}.${field}`, "Value does not meet General Purpose OS STIG requirements.", "system.stig_requirement");
  if (sent.min_password_age !== undefined && (sent.min_password_age ?? 0) < STIG_POLICY.min_password_age) weak("min_password_age");
  if (sent.max_password_age !== undefined && (sent.max_password_age === null || sent.max_password_age > STIG_POLICY.max_password_age)) weak("max_password_age");
  if (sent.password_history_length !== undefined && (sent.password_history_length ?? 0) < STIG_POLICY.password_history_length) weak("password_history_length");
  if (sent.min_password_length !== undefined && (sent.min_password_length ?? 0) < STIG_POLICY.min_password_length) weak("min_password_length");
  if (sent.password_complexity_ruleset !== undefined && !COMPLEXITY_CLASSES.every((c) => sent.password_complexity_ruleset?.includes(c))) {
    weak("password_complexity_ruleset");
  }
  errors.check();
  next.min_password_age = Math.max(next.min_password_age ?? 0, STIG_POLICY.min_password_age);
  next.max_password_age = Math.min(next.max_password_age ?? Infinity, STIG_POLICY.max_password_age);
  next.password_history_length = Math.max(next.password_history_length ?? 0, STIG_POLICY.password_history_length);
  next.min_password_length = Math.max(next.min_password_length ?? 0, STIG_POLICY.min_password_length);
  next.password_complexity_ruleset = [...COMPLEXITY_CLASSES];
}

export type SecurityUpdate = z.infer<typeof SecurityUpdateSchema>;

/** Validate and save new settings; enabling STIG checks its preconditions and applies its minimums. */
export async function updateSecuritySettings(ctx: SecurityUpdateContext, data: SecurityUpdate): Promise<SecurityConfig> {
  const db = ctx.app.store.db;
  const old = await securityConfig(db);
  const next: SecurityConfig = { ...old, ...data, id: 1 };
  if (next.password_complexity_ruleset) next.password_complexity_ruleset = COMPLEXITY_CLASSES.filter((c) => next.password_complexity_ruleset!.includes(c));
  if (next.enable_fips) validationError(`${ATTR}.enable_fips`, "FIPS mode is not supported.", "system.fips_not_supported");
  if (next.min_password_age && next.max_password_age && next.min_password_age >= next.max_password_age) {
    validationError(`${ATTR}.min_password_age`, "Minimum password age must be lower than the maximum password age.", "system.password_age_order");
  }
  const enabling = next.enable_gpos_stig && !old.enable_gpos_stig;
  if (enabling) {
    const problem = await stigProblem(ctx);
    if (problem) validationError(`${ATTR}.enable_gpos_stig`, problem, "system.stig_requirement");
  }
  if (next.enable_gpos_stig) applyStigPolicy(next, data);
  ctx.job?.setProgress(50, "Saving settings");
  // Enabling STIG rewrites every SMB user: a change of unknown extent.
  await commitChange(ctx.app, changeOf({ settings: [SECURITY_KEY], all: enabling }), async (trx) => {
    await setSetting(trx, SECURITY_KEY, next);
    // STIG: no SMB users.
    if (enabling) await trx.updateTable("users").set({ smb: 0, smbhash: "*" }).where("smb", "=", 1).execute();
  });
  return next;
}

/** What changing the two-factor settings needs: the store, the STIG switch, the change feed. */
export interface TwofactorUpdateContext {
  app: { readonly store: { readonly db: Db }; readonly auth: { stig(): Promise<boolean> }; changed(ev: ChangeEvent): void };
}

export const TwofactorUpdateSchema = z.strictObject({
  enabled: z.boolean().optional(),
  window: z.number().int().min(0).max(MAX_TOTP_WINDOW).optional(),
  services: z.strictObject({ ssh: z.boolean().optional() }).optional(),
});

/** Save new global two-factor settings; under STIG they may not be turned off (for logins or SSH). */
export async function updateTwofactorSettings(ctx: TwofactorUpdateContext, data: z.output<typeof TwofactorUpdateSchema>): Promise<TwoFactorConfig> {
  const db = ctx.app.store.db;
  const old = await twoFactorConfig(db);
  const next = { ...old, ...data, id: 1, services: { ...old.services, ...(data.services ?? {}) } };
  if (await ctx.app.auth.stig()) {
    const errors = new ValidationErrors();
    if (!next.enabled) errors.add("auth_twofactor_update.enable", "Two factor authentication may not be disabled in General Purpose OS STIG compatibility mode.", "auth.twofactor_stig_required");
    if (!next.services.ssh) {
      errors.add("auth_twofactor_update.services.ssh", "Two factor authentication for SSH may not be disabled in General Purpose OS STIG compatibility mode.", "auth.twofactor_stig_required");
    }
    errors.check();
  }
  await commitChange(ctx.app, changeOf({ settings: [TWOFACTOR_KEY] }), (trx) => setSetting(trx, TWOFACTOR_KEY, next));
  return next;
}
