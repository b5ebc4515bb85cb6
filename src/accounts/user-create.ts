// user.create (reference §1.3, §1.5–§1.7; SPEC.md "Home directories", "Samba", seed 001).
// Four steps: validate (no writes; rules shared with user.update live in user-rules.ts), hash the
// password (slow, off the event loop, outside any transaction), then one transaction that claims
// the unique values, inserts the row, adds the memberships, checks the grants and does the
// filesystem work before committing — a failing mkdir or key write rolls the whole create back —
// and last, after the commit, the new home is renamed into place.

import { CallError, ValidationErrors } from "../server/errors.js";
import { hashPassword, ntHash, randomPassword } from "../auth/password-hash.js";
import { passwordPolicyErrors, securityConfig, twoFactorConfig } from "../auth/policy.js";
import type { Tx } from "../store/db.js";
import type { AccountContext } from "./context.js";
import { hostPathOfHome, redactSecrets, skelDir, USER_SECRET_FIELDS } from "./context.js";
import { recordAccountChange } from "./account-change.js";
import type { ChangeEvent } from "../store/change-event.js";
import { validateEmail, validateFullName, validateUsername } from "./names.js";
import { createHome, NO_HOME, validateHome, validateHomeMode, writeAuthorizedKeys, type HomeHandle } from "./home.js";
import { defaultShell } from "./shells.js";
import { hashRounds } from "./account-settings.js";
import { allocateId, claimExplicitId, releaseReservation } from "./ids.js";
import { claimHome, homeHolderError, userConflictError, violatedKey, withIdRetry, type UserKeys } from "./uniqueness.js";
import { storedUserEntry } from "./user-entry.js";
import { BUILTIN_USERS_GID } from "./group-entry.js";
import type { UserCreateInput } from "./inputs.js";
import type { UserWithPasswordSchema } from "./schemas.js";
import type { Built } from "../server/wire-schema.js";
import { accountGrants, grantDelta } from "./grant-delta.js";
import { assertMayGrant } from "../access/grant-check.js";
import { sendEmailVerification } from "../auth/email-verification.js";
import { fleetFieldsOf, writeUserFleet } from "../fleet/fleet-fields.js";
import {
  checkAuxGroups,
  checkDisablingPassword,
  checkPasswordChoice,
  checkPasswordText,
  checkShell,
  checkSmbNameClash,
  checkSmbRules,
  checkSshKeyHome,
  checkSshPasswordLogin,
  checkSshTwoFactor,
  checkSudo,
  checkUserIdmap,
  checkUsernameFree,
  isLoginShell,
  primaryGroupGid,
  uidTaken,
  usernameTaken,
  webshareGroupId,
} from "./user-rules.js";

/** user.create / user.update's answer: UserWithPasswordSchema's shape, before redaction. */
export type UserWithPassword = Built<typeof UserWithPasswordSchema>;

const SCHEMA = "user_create";

/** Rows and paths for homes already used by someone, as validateHome wants them. */
export async function otherHomes(db: Tx, candidates: string[], exceptUserId: number | null): Promise<Map<string, string>> {
  const list = candidates.filter((c) => c && c !== NO_HOME);
  if (!list.length) return new Map();
  let q = db.selectFrom("users").select(["username", "home"]).where("home", "in", list);
  if (exceptUserId !== null) q = q.where("id", "!=", exceptUserId);
  return new Map((await q.execute()).map((r) => [r.home, r.username]));
}

function homeCandidates(home: string, username: string): string[] {
  const h = home.replace(/\/+$/, "") || "/";
  return [h, `${h}/${username}`];
}

/** Is the database complaining about a duplicate key (username / group name)? */
export function isUniqueViolation(err: unknown): boolean {
  const e = err as { code?: string; message?: string };
  return e?.code === "23505" || e?.code === "SQLITE_CONSTRAINT_UNIQUE" || /UNIQUE constraint failed/.test(e?.message ?? "");
}

/**
 * The error a failed user write answers (create and update): new homes discarded; a violated
 * unique index as the field's usual validation error; anything unexpected as `failed`.
 */
export async function userWriteError(
  ctx: AccountContext,
  schema: string,
  err: unknown,
  homes: HomeHandle[],
  keys: UserKeys,
  failed: { message: string; code: "user.create_failed" | "user.update_failed" },
): Promise<unknown> {
  for (const h of homes) await h.discard();
  const key = violatedKey(err);
  const conflict = key && (await userConflictError(ctx.app.store.db, schema, key, keys));
  if (conflict) return conflict;
  if (isUniqueViolation(err)) return new ValidationErrors([usernameTaken(`${schema}.username`, keys.username)]);
  if (err instanceof ValidationErrors || err instanceof CallError) return err;
  return new CallError(`${failed.message}: ${(err as Error).message}`, failed.code);
}

/** After the commit: new homes renamed into place, then the change announced. */
export async function afterUserWrite(ctx: AccountContext, homes: HomeHandle[]): Promise<void> {
  for (const h of homes) if (!(await h.commit())) ctx.app.log.warn({ home: h.path }, "new home directory could not be renamed into place");
}

type CreateData = ReturnType<typeof createDefaults>;

/** The input with the reference's defaults filled in. */
function createDefaults(ctx: AccountContext, input: UserCreateInput) {
  return {
    fleet: fleetFieldsOf(input),
    username: input.username,
    full_name: input.full_name,
    uid: input.uid ?? null,
    group: input.group ?? null,
    group_create: input.group_create ?? false,
    groups: input.groups ?? [],
    home: input.home ?? NO_HOME,
    home_create: input.home_create ?? false,
    home_mode: input.home_mode ?? "700",
    home_mode_sent: input.home_mode !== undefined,
    shell: input.shell ?? defaultShell(ctx.app.config.hostRoot),
    email: input.email || null,
    password: input.password || null,
    random_password: input.random_password ?? false,
    password_disabled: input.password_disabled ?? false,
    ssh_password_enabled: input.ssh_password_enabled ?? false,
    sshpubkey: input.sshpubkey?.trim() || null,
    locked: input.locked ?? false,
    smb: input.smb ?? input.source !== "LDAP",
    webshare: input.webshare ?? false,
    userns_idmap: input.userns_idmap ?? null,
    sudo_commands: input.sudo_commands ?? [],
    sudo_commands_nopasswd: input.sudo_commands_nopasswd ?? [],
    microsoft_account: input.microsoft_account ?? false,
    source: input.source ?? "LOCAL",
    ldap_username: input.ldap_username || null,
  };
}

/** What validation found that the write uses. */
interface CreatePlan {
  home: string;
  primaryGid: number | null;
  webshareGroup: number | undefined;
}

export async function createUser(ctx: AccountContext, input: UserCreateInput): Promise<UserWithPassword> {
  const { app } = ctx;
  const data = createDefaults(ctx, input);
  const plan = await validateCreate(ctx, data);

  // Hashes outside the transaction: hashing is deliberately slow.
  const password = data.random_password ? randomPassword(20) : data.password;
  const unixhash = password && !data.password_disabled ? await hashPassword(password, await hashRounds(app)) : "*";
  const smbhash = password && data.smb && !data.password_disabled ? await ntHash(password) : "*";

  const homes: HomeHandle[] = [];
  let userId: number;
  let change: ChangeEvent | undefined;
  try {
    // Retried when a concurrent writer took an automatic id or the user's new group name first.
    const retriable = (k: string) => (k === "uid" && data.uid === null) || (data.group_create && (k === "gid" || k === "group_name"));
    userId = await withIdRetry(retriable, () =>
      app.store.db.transaction().execute(async (trx) => {
        const id = await writeCreate(ctx, trx, data, plan, { unixhash, smbhash }, homes);
        change = await recordAccountChange(trx, [id], []);
        return id;
      }),
    );
  } catch (err) {
    const keys = { username: data.username, uid: data.uid, home: plan.home };
    throw await userWriteError(ctx, SCHEMA, err, homes, keys, { message: `Failed to create user ${data.username}`, code: "user.create_failed" });
  }

  await afterUserWrite(ctx, homes);
  const entry = (await storedUserEntry(app.store, userId))!;
  app.events.publish("user.query", "added", entry.id, redactSecrets(entry, USER_SECRET_FIELDS));
  app.changed(change!);
  // An address given: its verification code is mailed (src/auth/email-verification.ts).
  if (entry.email) await sendEmailVerification(app, entry.id);
  return { ...entry, password: password ?? null };
}

// ---------------------------------------------------------------------------------------------
// Validation (no writes)

async function validateCreate(ctx: AccountContext, data: CreateData): Promise<CreatePlan> {
  const v = new ValidationErrors();
  await validateCreateNamesAndPassword(ctx, v, data);
  const { primaryGid, webshareGroup } = await validateCreateGroups(ctx, v, data);
  const home = await validateCreateHome(ctx, v, data);
  checkSudo(ctx.app, v, SCHEMA, data);
  v.check();
  return { home, primaryGid, webshareGroup };
}

async function validateCreateNamesAndPassword(ctx: AccountContext, v: ValidationErrors, data: CreateData): Promise<void> {
  const db = ctx.app.store.db;
  if (validateUsername(v, `${SCHEMA}.username`, data.username)) await checkUsernameFree(db, v, `${SCHEMA}.username`, data.username);
  validateFullName(v, `${SCHEMA}.full_name`, data.full_name);
  validateEmail(v, `${SCHEMA}.email`, data.email);

  checkPasswordChoice(v, SCHEMA, {
    explicitAndRandom: data.random_password && !!data.password,
    passwordWhileDisabled: data.password_disabled && !!data.password,
  });
  if (data.source === "LDAP" && (data.password || data.random_password)) v.add(`${SCHEMA}.password`, "Directory users sign in with their directory password: give none", "user.password_with_disabled");
  else if (data.source !== "LDAP" && !data.password_disabled && !data.password && !data.random_password) v.add(`${SCHEMA}.password`, "Password is required", "user.password_required");
  const security = await securityConfig(db);
  if (data.password) {
    checkPasswordText(v, `${SCHEMA}.password`, data.password);
    if (!v.has(`${SCHEMA}.password`)) v.errors.push(...(await passwordPolicyErrors(db, `${SCHEMA}.password`, data.password, [], security)));
  }
  if (data.password_disabled) checkDisablingPassword(v, SCHEMA, { locked: data.locked, sudoCommands: data.sudo_commands.length });

  if (data.smb) {
    checkSmbRules(v, SCHEMA, { enabling: true, stig: !!security.enable_gpos_stig, passwordDisabled: data.password_disabled });
    if (!v.has(`${SCHEMA}.username`)) await checkSmbNameClash(db, v, `${SCHEMA}.smb`, data.username, null);
  }
}

async function validateCreateGroups(ctx: AccountContext, v: ValidationErrors, data: CreateData): Promise<Omit<CreatePlan, "home">> {
  const db = ctx.app.store.db;
  if (data.uid !== null) {
    const owner = await db.selectFrom("users").select("username").where("uid", "=", data.uid).executeTakeFirst();
    if (owner) v.add(...uidTaken(`${SCHEMA}.uid`, data.uid, owner.username));
  }
  let primaryGid: number | null = null;
  if ((data.group === null) === !data.group_create) {
    v.add(`${SCHEMA}.group`, "Enter either a group name or create a new group to continue.", "user.group_required");
  } else if (data.group !== null) {
    primaryGid = await primaryGroupGid(db, v, `${SCHEMA}.group`, data.group);
  }
  const auxRows = await checkAuxGroups(db, v, SCHEMA, data.groups, new Set());
  const webshareGroup = data.webshare ? await webshareGroupId(db, v, `${SCHEMA}.webshare`, true) : undefined;
  const gids = [...(primaryGid !== null ? [primaryGid] : []), ...[...auxRows.values()].map((g) => g.gid)];
  await checkUserIdmap(db, v, `${SCHEMA}.userns_idmap`, data.userns_idmap, gids, null);
  return { primaryGid, webshareGroup };
}

/** Shell, home, key and SSH rules; returns the home the user will have. */
async function validateCreateHome(ctx: AccountContext, v: ValidationErrors, data: CreateData): Promise<string> {
  const { app } = ctx;
  checkShell(app, v, `${SCHEMA}.shell`, data.shell);
  let home = NO_HOME;
  if (!v.has(`${SCHEMA}.username`)) {
    home = await validateHome(v, `${SCHEMA}.home`, {
      home: data.home,
      homeCreate: data.home_create,
      username: data.username,
      storageRoots: app.config.storageRoots,
      otherUserHomes: await otherHomes(app.store.db, homeCandidates(data.home, data.username), null),
    });
  }
  if (data.home_mode_sent) validateHomeMode(v, `${SCHEMA}.home_mode`, data.home_mode);
  if (data.sshpubkey) checkSshKeyHome(v, SCHEMA, { uid: data.uid, home, storageRoots: app.config.storageRoots, key: data.sshpubkey });
  if (data.ssh_password_enabled) {
    checkSshPasswordLogin(v, SCHEMA, { noHome: home === NO_HOME, noLoginShell: !isLoginShell(data.shell) });
    checkSshTwoFactor(v, SCHEMA, await twoFactorConfig(app.store.db));
  }
  return home;
}

// ---------------------------------------------------------------------------------------------
// The write (one transaction)

async function writeCreate(ctx: AccountContext, trx: Tx, data: CreateData, plan: CreatePlan, hashes: { unixhash: string; smbhash: string }, homes: HomeHandle[]): Promise<number> {
  const dialect = ctx.app.store.dialect;
  // Uniqueness under concurrency (docs/security/concurrency.md): claims in a fixed order —
  // home, uid, gid — each seeing every concurrent create that claimed before it.
  if (plan.home !== NO_HOME) {
    const holder = await claimHome(trx, dialect, plan.home, null);
    if (holder) throw homeHolderError(`${SCHEMA}.home`, plan.home, holder);
  }
  if (data.uid !== null) {
    const owner = await claimExplicitId(trx, dialect, "uid", data.uid);
    if (owner !== null) throw new ValidationErrors([uidTaken(`${SCHEMA}.uid`, data.uid, owner)]);
  }
  const uid = data.uid ?? (await allocateId(trx, dialect, "uid"));
  const { groupId, gid } = data.group_create ? await userPrivateGroup(ctx, trx, data.username, uid) : { groupId: data.group!, gid: plan.primaryGid! };
  const row = await trx
    .insertInto("users")
    .values(newUserRow(data, plan.home, uid, groupId, hashes))
    .returning("id")
    .executeTakeFirstOrThrow();
  await releaseReservation(trx, "uid", uid);
  await addMemberships(trx, row.id, groupId, data, plan.webshareGroup);
  // Nobody grants what they do not hold: the new account's roles, sudo rights and built-in
  // groups (primary too, e.g. a reused group_create group) must be the caller's to give.
  assertMayGrant(ctx.session, grantDelta(new Map(), await accountGrants(trx, [row.id]), SCHEMA));
  // Fleet access (teams, own grants): only what the caller holds itself (src/fleet/held-access.ts).
  const fleet = await writeUserFleet(trx, ctx.session, row.id, data.fleet, SCHEMA);
  if (fleet.length) ctx.auditSubject = `${data.username} (fleet: ${fleet.join("; ")})`;
  await makeNewHome(ctx, homes, data, plan.home, uid, gid);
  return row.id;
}

/** group_create: a local group already named like the user is reused (reference §1.3), else made. */
async function userPrivateGroup(ctx: AccountContext, trx: Tx, username: string, uid: number): Promise<{ groupId: number; gid: number }> {
  const existing = await trx.selectFrom("groups").select(["id", "gid"]).where("name", "=", username).executeTakeFirst();
  if (existing) return { groupId: existing.id, gid: existing.gid };
  // Same number as the uid when free (the usual user-private-group layout).
  const gid = await allocateId(trx, ctx.app.store.dialect, "gid", uid);
  const row = await trx
    .insertInto("groups")
    .values({ gid, name: username, builtin: 0, smb: 0, sudo_commands: "[]", sudo_commands_nopasswd: "[]", userns_idmap: null })
    .returning("id")
    .executeTakeFirstOrThrow();
  await releaseReservation(trx, "gid", gid);
  return { groupId: row.id, gid };
}

/** The new row (the plan of the row change). */
function newUserRow(data: CreateData, home: string, uid: number, groupId: number, hashes: { unixhash: string; smbhash: string }) {
  const now = Date.now();
  return {
    uid,
    username: data.username,
    unixhash: hashes.unixhash,
    smbhash: hashes.smbhash,
    home,
    shell: data.shell,
    full_name: data.full_name,
    builtin: 0,
    smb: data.smb ? 1 : 0,
    microsoft_account: data.microsoft_account ? 1 : 0,
    userns_idmap: data.userns_idmap === null ? null : String(data.userns_idmap),
    group_id: groupId,
    password_disabled: data.password_disabled ? 1 : 0,
    ssh_password_enabled: data.ssh_password_enabled ? 1 : 0,
    sshpubkey: data.sshpubkey,
    locked: data.locked ? 1 : 0,
    sudo_commands: JSON.stringify(data.sudo_commands),
    sudo_commands_nopasswd: JSON.stringify(data.sudo_commands_nopasswd),
    email: data.email,
    email_verified: 0,
    last_password_change: hashes.unixhash !== "*" ? now : null,
    password_history: "[]",
    source: data.source,
    ldap_username: data.ldap_username,
    home_mode: home === NO_HOME ? null : data.home_mode,
    twofactor_secret: null,
    twofactor_digits: 6,
    twofactor_interval: 30,
    twofactor_email: 0,
    created_at: now,
  };
}

/** Auxiliary groups; SMB users are also members of builtin_users (reference §1.3). */
async function addMemberships(trx: Tx, userId: number, primaryGroupId: number, data: CreateData, webshareGroup: number | undefined): Promise<void> {
  const aux = new Set(data.groups);
  if (data.smb) {
    const bu = await trx.selectFrom("groups").select("id").where("gid", "=", BUILTIN_USERS_GID).where("builtin", "=", 1).executeTakeFirst();
    if (bu) aux.add(bu.id);
  }
  if (webshareGroup !== undefined) aux.add(webshareGroup);
  aux.delete(primaryGroupId);
  if (aux.size)
    await trx
      .insertInto("memberships")
      .values([...aux].map((group_id) => ({ group_id, user_id: userId })))
      .execute();
}

/**
 * Filesystem last, still inside the transaction: a failure here rolls the rows back. A new home
 * is made under a temporary name and renamed into place after the commit
 * (docs/security/path-safety.md); an existing one is given to the user.
 */
async function makeNewHome(ctx: AccountContext, homes: HomeHandle[], data: CreateData, home: string, uid: number, gid: number): Promise<void> {
  const { app } = ctx;
  for (const h of homes.splice(0)) await h.discard(); // an earlier attempt's
  if (home !== NO_HOME) {
    homes.push(await createHome(home, { uid, gid, mode: data.home_mode, skelDir: skelDir(app), roots: app.config.storageRoots }));
  }
  if (data.sshpubkey) {
    const target = hostPathOfHome(app, home);
    if (homes[0]) await homes[0].writeKeys(data.sshpubkey, uid, gid);
    else if (target) await writeAuthorizedKeys(target, data.sshpubkey, uid, gid, app.config.storageRoots);
  }
}
