// user.update (reference §1.4–§1.7). Partial update: only sent fields change. As for create, four
// steps: validate (no writes; rules shared with user.create live in user-rules.ts), hash the
// password outside the transaction, then one transaction that plans and writes the row change,
// the memberships, checks the grants and does the filesystem work (home creation / mode /
// authorized_keys), and after the commit a new home is renamed into place. Copying an old home's
// contents to a new home is a background job started after the commit (`user.do_home_copy`).

import { stat } from "node:fs/promises";
import { CallError, ValidationErrors, instanceNotFound } from "../server/errors.js";
import { hashPassword, ntHash, randomPassword } from "../auth/password-hash.js";
import { clearLockout, nextHistory, passwordPolicyErrors, securityConfig, twoFactorConfig } from "../auth/policy.js";
import type { Tx } from "../store/db.js";
import type { AccountContext } from "./context.js";
import { hostPathOfHome, redactSecrets, skelDir, USER_SECRET_FIELDS } from "./context.js";
import { recordAccountChange } from "./account-change.js";
import type { ChangeEvent } from "../store/change-event.js";
import { validateEmail, validateFullName, validateUsername } from "./names.js";
import { checkEmailChange, emailChangeColumns, sendEmailVerification } from "../auth/email-verification.js";
import { applyHomeMode, copyHome, createHome, NO_HOME, validateHome, validateHomeMode, writeAuthorizedKeys, type HomeHandle } from "./home.js";
import { normalizeDir } from "./storage-root.js";
import { hashRounds } from "./account-settings.js";
import { buildUserEntries, selectUserRows, storedUserEntry, type UserEntry, type UserRow } from "./user-entry.js";
import { BUILTIN_ADMINISTRATORS_GID, BUILTIN_USERS_GID } from "./group-entry.js";
import { isFullAdminUser, otherUnlockedFullAdminExists, wouldOrphanLocalAdministrator } from "./admins.js";
import type { UserUpdateInput } from "./inputs.js";
import { accountGrants, effectiveRoles, grantDelta } from "./grant-delta.js";
import { assertMayActOn, assertMayGrant } from "../access/grant-check.js";
import { fleetFieldsOf, writeUserFleet } from "../fleet/fleet-fields.js";
import { afterUserWrite, otherHomes, userWriteError, type UserWithPassword } from "./user-create.js";
import { claimHome, homeHolderError } from "./uniqueness.js";
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
  WEBSHARE_GROUP,
  webshareGroupId,
} from "./user-rules.js";

const SCHEMA = "user_update";
const CANNOT_CHANGE = "This attribute cannot be changed";

/** The user before the update, what was sent, and the state after it. */
interface Update {
  id: number;
  input: UserUpdateInput;
  current: UserEntry;
  row: UserRow;
  sent: (k: keyof UserUpdateInput) => boolean;
  next: ReturnType<typeof nextState>;
  password: string | null;
}

/** What validation found that the write uses. */
interface UpdatePlan {
  primaryGid: number;
  webshareGroup: number | undefined;
  newHome: string;
  sshpubkey: string | null;
}

/** The home's mode after the update. */
function homeModeOf(u: Update): string {
  return u.input.home_mode ?? u.row.home_mode ?? "700";
}

function nextState(current: UserEntry, input: UserUpdateInput) {
  return {
    username: input.username ?? current.username,
    group: input.group === undefined ? current.group.id : input.group,
    groups: input.groups ?? current.groups,
    home: input.home ?? current.home,
    shell: input.shell ?? current.shell,
    smb: input.smb ?? current.smb,
    password_disabled: input.password_disabled ?? current.password_disabled,
    locked: input.locked ?? current.locked,
    ssh_password_enabled: input.ssh_password_enabled ?? current.ssh_password_enabled,
    sudo_commands: input.sudo_commands ?? current.sudo_commands,
    sudo_commands_nopasswd: input.sudo_commands_nopasswd ?? current.sudo_commands_nopasswd,
    userns_idmap: input.userns_idmap === undefined ? current.userns_idmap : input.userns_idmap,
  };
}

export async function updateUser(ctx: AccountContext, id: number, input: UserUpdateInput): Promise<UserWithPassword> {
  const { app } = ctx;
  const db = app.store.db;
  const row = (await selectUserRows(db).where("users.id", "=", id).executeTakeFirst()) as UserRow | undefined;
  if (!row) instanceNotFound("User", id, "user.not_found");
  const [current] = await buildUserEntries(db, [row]);
  ctx.auditSubject = current.username;
  const u: Update = { id, input, current, row, sent: (k) => input[k] !== undefined, next: nextState(current, input), password: input.password || null };
  const plan = await validateUpdate(ctx, u);

  // Hashes outside the transaction.
  const newPassword = input.random_password ? randomPassword(20) : u.password;
  const unixhash = newPassword ? await hashPassword(newPassword, await hashRounds(app)) : null;
  const smbhash = newPassword && u.next.smb ? await ntHash(newPassword) : null;

  const homes: HomeHandle[] = []; // new homes: renamed into place after the commit
  let copyFrom: string | null = null;
  let change: ChangeEvent | undefined;
  try {
    copyFrom = await db.transaction().execute(async (trx) => {
      const from = await writeUpdate(ctx, trx, u, plan, { unixhash, smbhash }, homes);
      // The groups it was in: a group it left is re-rendered too.
      change = await recordAccountChange(trx, [id], [current.group.id, ...current.groups]);
      return from;
    });
  } catch (err) {
    const keys = { username: u.next.username, home: plan.newHome };
    throw await userWriteError(ctx, SCHEMA, err, homes, keys, { message: `Failed to update user ${current.username}`, code: "user.update_failed" });
  }

  await afterUserWrite(ctx, homes);
  if (copyFrom) startHomeCopy(ctx, u.next.username, copyFrom, plan.newHome, current.uid, plan.primaryGid, input.home_mode);
  const entry = (await storedUserEntry(app.store, id))!;
  app.events.publish("user.query", "changed", id, redactSecrets(entry, USER_SECRET_FIELDS));
  app.changed(change!);
  // A new (or re-sent) address: its verification code is mailed (src/auth/email-verification.ts).
  if (u.sent("email")) await sendEmailVerification(app, id);
  return { ...entry, password: newPassword ?? null };
}

// ---------------------------------------------------------------------------------------------
// Validation (no writes)

async function validateUpdate(ctx: AccountContext, u: Update): Promise<UpdatePlan> {
  const v = new ValidationErrors();
  if (u.current.immutable) checkImmutable(v, u);
  const db = ctx.app.store.db;
  const { input, current, sent } = u;
  if (sent("username") && input.username !== current.username && validateUsername(v, `${SCHEMA}.username`, input.username!)) {
    await checkUsernameFree(db, v, `${SCHEMA}.username`, input.username!);
  }
  if (sent("full_name")) validateFullName(v, `${SCHEMA}.full_name`, input.full_name!);
  if (sent("email") && validateEmail(v, `${SCHEMA}.email`, input.email)) checkEmailChange(v, `${SCHEMA}.email`, u.row, input.email);
  const { primaryGid, webshareGroup } = await validateUpdateGroups(ctx, v, u);
  await validateUpdatePassword(ctx, v, u);
  const { newHome, sshpubkey } = await validateUpdateHome(ctx, v, u);
  checkSudo(ctx.app, v, SCHEMA, input);
  v.check();
  return { primaryGid, webshareGroup, newHome, sshpubkey };
}

/** Immutable accounts (built-in, and admin uid 950): identity fields are fixed. */
function checkImmutable(v: ValidationErrors, { input, current, sent }: Update): void {
  const fixed = (attr: string) => v.add(`${SCHEMA}.${attr}`, CANNOT_CHANGE, "user.immutable_field");
  if (sent("home_mode")) fixed("home_mode");
  if (sent("group") && input.group !== current.group.id) fixed("group");
  if (sent("home") && normalizeDir(input.home!) !== normalizeDir(current.home)) fixed("home");
  if (sent("username") && input.username !== current.username) fixed("username");
  if (sent("smb") && input.smb !== current.smb) fixed("smb");
  if (input.userns_idmap !== undefined && input.userns_idmap !== current.userns_idmap) fixed("userns_idmap");
}

/** Primary and auxiliary groups, webshare, container id mapping. */
async function validateUpdateGroups(ctx: AccountContext, v: ValidationErrors, { id, input, current, sent }: Update): Promise<Pick<UpdatePlan, "primaryGid" | "webshareGroup">> {
  const db = ctx.app.store.db;
  const isRoot = current.uid === 0;
  let primaryGid = current.group.bsdgrp_gid;
  if (sent("group") || input.group === null) {
    if (input.group === null) v.add(`${SCHEMA}.group`, "User must have a primary group", "user.primary_group_required");
    else if (input.group !== current.group.id) primaryGid = (await primaryGroupGid(db, v, `${SCHEMA}.group`, input.group!)) ?? primaryGid;
  }
  let auxGids: number[] = [];
  const adminsGroup = await db.selectFrom("groups").select(["id"]).where("gid", "=", BUILTIN_ADMINISTRATORS_GID).where("builtin", "=", 1).executeTakeFirst();
  if (sent("groups")) {
    const rows = await checkAuxGroups(db, v, SCHEMA, input.groups!, new Set(current.groups));
    auxGids = [...rows.values()].map((g) => g.gid);
    if (isRoot && adminsGroup) {
      // Root is the break-glass administrator: exactly builtin_administrators (reference §1.4).
      if (!input.groups!.includes(adminsGroup.id)) v.add(`${SCHEMA}.groups`, "The root user must remain a member of the builtin_administrators group.", "user.root_must_stay_admin");
      else if (input.groups!.some((g) => g !== adminsGroup.id)) v.add(`${SCHEMA}.groups`, "The root user may only be a member of the builtin_administrators group.", "user.root_must_stay_admin");
    }
  } else {
    auxGids = (await db.selectFrom("memberships").innerJoin("groups", "groups.id", "memberships.group_id").select("groups.gid").where("memberships.user_id", "=", id).execute()).map((r) => r.gid);
  }
  if (sent("webshare") && input.webshare && isRoot) v.add(`${SCHEMA}.webshare`, `The root user may not be a member of the ${WEBSHARE_GROUP} group.`, "user.root_webshare");
  const webshareGroup = sent("webshare") ? await webshareGroupId(db, v, `${SCHEMA}.webshare`, !!input.webshare) : undefined;
  if (input.userns_idmap !== undefined && input.userns_idmap !== current.userns_idmap && !current.immutable) {
    await checkUserIdmap(db, v, `${SCHEMA}.userns_idmap`, input.userns_idmap, [primaryGid, ...auxGids], id);
  }
  return { primaryGid, webshareGroup };
}

/** Password, lock, SMB and two-factor rules. */
async function validateUpdatePassword(ctx: AccountContext, v: ValidationErrors, { id, input, current, sent, next, password }: Update): Promise<void> {
  const db = ctx.app.store.db;
  const immutable = current.immutable;
  checkPasswordChoice(v, SCHEMA, {
    explicitAndRandom: !!input.random_password && !!password,
    passwordWhileDisabled: next.password_disabled && (!!password || !!input.random_password),
  });
  // Directory users' passwords live in the directory (issue 12): never a local one.
  if (current.source === "LDAP" && (password || input.random_password)) {
    v.add(`${SCHEMA}.password`, `${current.username}: passwords of directory users are changed in the directory.`, "auth.directory_user_password");
  }
  if (password) {
    checkPasswordText(v, `${SCHEMA}.password`, password);
    if (!v.has(`${SCHEMA}.password`)) {
      const history = [...current.password_history, ...(current.unixhash ? [current.unixhash] : [])];
      v.errors.push(...(await passwordPolicyErrors(db, `${SCHEMA}.password`, password, history)));
    }
  }
  // Seed 001: disabling the password removes the Lock and (password) sudo options, so they cannot
  // be set together with it. Separate later edits are not refused: an administrator may still
  // lock a password-less account, e.g. root.
  if (input.password_disabled === true) checkDisablingPassword(v, SCHEMA, { locked: next.locked, sudoCommands: next.sudo_commands.length });
  if (input.locked === true && !current.locked && (await isFullAdminUser(db, id)) && !(await otherUnlockedFullAdminExists(db, id))) {
    v.add(`${SCHEMA}.locked`, "After locking this user no local users will have FULL_ADMIN role", "access.last_full_admin");
  }
  if (input.password_disabled === true && !current.password_disabled && (await wouldOrphanLocalAdministrator(db, id))) {
    v.add(
      `${SCHEMA}.password_disabled`,
      "After disabling password for this user no password-enabled local user will have built-in privilege 'Local Administrator'.",
      "access.last_local_administrator",
    );
  }
  const security = await securityConfig(db);
  const enablingSmb = sent("smb") && !!input.smb && !current.smb && !immutable;
  if (enablingSmb && !password && !input.random_password) v.add(`${SCHEMA}.smb`, "Password must be reset in order to enable SMB authentication", "user.smb_needs_password_reset");
  checkSmbRules(v, SCHEMA, {
    enabling: enablingSmb,
    stig: !!security.enable_gpos_stig,
    passwordDisabled: next.smb && (sent("smb") || sent("password_disabled")) && next.password_disabled && !immutable,
  });
  if (next.smb && (sent("smb") || sent("username")) && !v.has(`${SCHEMA}.username`)) {
    await checkSmbNameClash(db, v, `${SCHEMA}.smb`, next.username, id);
  }

  const tf = await twoFactorConfig(db);
  if (tf.enabled && ctx.session?.userId === id && !current.twofactor_auth_configured) {
    v.add(
      `${SCHEMA}.renew_twofactor_secret`,
      "Two-factor authentication is enabled on this system: configure a two-factor secret for this account (user.renew_2fa_secret) before editing it.",
      "user.twofactor_secret_required",
    );
  }
  if (input.ssh_password_enabled && !current.ssh_password_enabled && !current.twofactor_auth_configured) checkSshTwoFactor(v, SCHEMA, tf);
}

/** Shell, home, key and SSH password rules; returns the home after the update and the key sent. */
async function validateUpdateHome(ctx: AccountContext, v: ValidationErrors, { id, input, current, sent, next }: Update): Promise<Pick<UpdatePlan, "newHome" | "sshpubkey">> {
  const { app } = ctx;
  const immutable = current.immutable;
  if (sent("shell")) checkShell(app, v, `${SCHEMA}.shell`, input.shell!);
  let newHome = normalizeDir(current.home);
  const homeSent = sent("home") || input.home_create === true;
  if (homeSent && !immutable && !v.has(`${SCHEMA}.username`)) {
    const h = normalizeDir(next.home);
    newHome = await validateHome(v, `${SCHEMA}.home`, {
      home: next.home,
      homeCreate: input.home_create ?? false,
      username: next.username,
      storageRoots: app.config.storageRoots,
      otherUserHomes: await otherHomes(app.store.db, [h, `${h}/${next.username}`], id),
    });
  }
  if (sent("home_mode") && !immutable) validateHomeMode(v, `${SCHEMA}.home_mode`, input.home_mode);
  if (next.ssh_password_enabled) {
    if (input.ssh_password_enabled && !current.ssh_password_enabled && (newHome === NO_HOME || !isLoginShell(next.shell))) {
      v.add(`${SCHEMA}.ssh_password_enabled`, "Cannot be enabled without a valid home path and login shell.", "user.ssh_password_needs_home_shell");
    } else {
      checkSshPasswordLogin(v, SCHEMA, { noHome: homeSent && newHome === NO_HOME, noLoginShell: sent("shell") && !isLoginShell(next.shell) });
    }
  }
  const sshpubkey = sent("sshpubkey") ? input.sshpubkey?.trim() || "" : null;
  if (sshpubkey) checkSshKeyHome(v, SCHEMA, { uid: current.uid, home: newHome, storageRoots: app.config.storageRoots, key: sshpubkey });
  return { newHome, sshpubkey };
}

// ---------------------------------------------------------------------------------------------
// The write (one transaction); returns the old home to copy from, if any.

async function writeUpdate(ctx: AccountContext, trx: Tx, u: Update, plan: UpdatePlan, hashes: { unixhash: string | null; smbhash: string | null }, homes: HomeHandle[]): Promise<string | null> {
  const { id, current } = u;
  // A new home: serialised with every other write giving a home (docs/security/concurrency.md).
  if (plan.newHome !== normalizeDir(current.home) && plan.newHome !== NO_HOME) {
    const holder = await claimHome(trx, ctx.app.store.dialect, plan.newHome, id);
    if (holder) throw homeHolderError(`${SCHEMA}.home`, plan.newHome, holder);
  }
  const grantsBefore = await accountGrants(trx, [id]);
  // The dispatcher checked the target before the call; again here, where it cannot be raced.
  const was = grantsBefore.get(id);
  if (was) assertMayActOn(ctx.session, effectiveRoles(was), `user ${current.username}`);
  const set = planRowChange(u, plan, hashes);
  if (Object.keys(set).length) await trx.updateTable("users").set(set).where("id", "=", id).execute();
  await updateMemberships(trx, u, plan.webshareGroup);
  // Nobody grants (or takes away) what they do not hold: roles, sudo rights, built-in groups.
  assertMayGrant(ctx.session, grantDelta(grantsBefore, await accountGrants(trx, [id]), SCHEMA));
  // Fleet access (teams, own grants): only what the caller holds itself (src/fleet/held-access.ts).
  const fleet = await writeUserFleet(trx, ctx.session, id, fleetFieldsOf(u.input), SCHEMA);
  if (fleet.length) ctx.auditSubject = `${current.username} (fleet: ${fleet.join("; ")})`;
  // Any account update clears a lock-out (reference §1.4, §7.8); one that changes only the fleet
  // fields (a FLEET_WRITE caller's) does not: that role manages fleet access, not logins.
  const fleetOnly = Object.keys(u.input).every((k) => k === "teams" || k === "systems" || k === "system_groups");
  if (!fleetOnly) await clearLockout(trx, current.username);
  return updateHome(ctx, u, plan, homes);
}

/** The columns that change (only what was sent, and what follows from it). */
function planRowChange(u: Update, plan: UpdatePlan, hashes: { unixhash: string | null; smbhash: string | null }): Record<string, unknown> {
  const { input, current, sent, next } = u;
  const immutable = current.immutable;
  const moved = plan.newHome !== normalizeDir(current.home);
  const set: Record<string, unknown> = {};
  if (sent("username")) set.username = next.username;
  if (sent("full_name")) set.full_name = input.full_name;
  if (sent("email")) Object.assign(set, { email: input.email || null }, emailChangeColumns(current.email, input.email));
  if (sent("ldap_username")) set.ldap_username = input.ldap_username || null;
  if (sent("group") && input.group !== null) set.group_id = input.group;
  if (sent("shell")) set.shell = input.shell;
  if (sent("smb") && !immutable) set.smb = next.smb ? 1 : 0;
  if (sent("locked")) set.locked = next.locked ? 1 : 0;
  if (sent("ssh_password_enabled")) set.ssh_password_enabled = next.ssh_password_enabled ? 1 : 0;
  if (sent("sudo_commands")) set.sudo_commands = JSON.stringify(next.sudo_commands);
  if (sent("sudo_commands_nopasswd")) set.sudo_commands_nopasswd = JSON.stringify(next.sudo_commands_nopasswd);
  if (sent("microsoft_account")) set.microsoft_account = input.microsoft_account ? 1 : 0;
  if (input.userns_idmap !== undefined && !immutable) set.userns_idmap = next.userns_idmap === null ? null : String(next.userns_idmap);
  if (sent("sshpubkey")) set.sshpubkey = plan.sshpubkey || null;
  if (sent("password_disabled")) set.password_disabled = next.password_disabled ? 1 : 0;
  if (moved) set.home = plan.newHome;
  if (sent("home_mode") || moved) set.home_mode = plan.newHome === NO_HOME ? null : homeModeOf(u);
  if (hashes.unixhash) {
    set.unixhash = hashes.unixhash;
    set.smbhash = hashes.smbhash ?? "*";
    set.password_history = JSON.stringify(nextHistory(current.password_history, current.unixhash));
    set.last_password_change = Date.now();
  } else if (next.password_disabled && !current.password_disabled) {
    // Disabling the password removes it (seed 000).
    set.unixhash = "*";
    set.smbhash = "*";
  }
  if (sent("smb") && !next.smb) set.smbhash = "*";
  return set;
}

/** Memberships: the sent list replaces the aux groups; SMB keeps builtin_users in sync. */
async function updateMemberships(trx: Tx, { id, input, current, sent, next }: Update, webshareGroup: number | undefined): Promise<void> {
  const immutable = current.immutable;
  const bu = await trx.selectFrom("groups").select("id").where("gid", "=", BUILTIN_USERS_GID).where("builtin", "=", 1).executeTakeFirst();
  const aux = new Set(sent("groups") ? input.groups! : current.groups);
  if (bu && sent("smb") && !immutable) {
    if (next.smb) aux.add(bu.id);
    else if (!sent("groups")) aux.delete(bu.id);
  }
  if (bu && next.smb && sent("groups") && !immutable) aux.add(bu.id);
  if (webshareGroup !== undefined) {
    if (input.webshare) aux.add(webshareGroup);
    else aux.delete(webshareGroup);
  }
  aux.delete(next.group ?? current.group.id);
  const before = new Set(current.groups);
  const added = [...aux].filter((g) => !before.has(g));
  const removed = [...before].filter((g) => !aux.has(g));
  if (removed.length) await trx.deleteFrom("memberships").where("user_id", "=", id).where("group_id", "in", removed).execute();
  if (added.length)
    await trx
      .insertInto("memberships")
      .values(added.map((group_id) => ({ group_id, user_id: id })))
      .execute();
}

const isDirectory = (p: string) =>
  stat(p).then(
    (s) => s.isDirectory(),
    () => false,
  );

/**
 * The filesystem, still inside the transaction: (re)create, re-own or re-mode the home, and write
 * the keys. Returns the old home whose contents are to be copied into a new one, if any.
 */
async function updateHome(ctx: AccountContext, u: Update, plan: UpdatePlan, homes: HomeHandle[]): Promise<string | null> {
  const { app } = ctx;
  const { current, sent } = u;
  const { newHome, primaryGid: gid } = plan;
  const oldHome = normalizeDir(current.home);
  const moved = newHome !== oldHome;
  const homeMode = homeModeOf(u);
  const roots = app.config.storageRoots;
  let copyFrom: string | null = null;
  if (newHome !== NO_HOME) {
    if (!(await isDirectory(newHome))) {
      // A new home, or the current one vanished: (re)create it. Skeleton files only when
      // nothing will be copied over from an old home.
      const oldReal = moved && oldHome !== NO_HOME && (await isDirectory(oldHome));
      try {
        homes.push(await createHome(newHome, { uid: current.uid, gid, mode: homeMode, skelDir: oldReal ? null : skelDir(app), roots }));
      } catch (e) {
        if (e instanceof CallError) throw e;
        throw new CallError(`Failed recreating home directory ${newHome}: ${(e as Error).message}`, "home.recreate_failed");
      }
      if (oldReal) copyFrom = oldHome;
    } else if (moved) {
      const oldReal = oldHome !== NO_HOME && (await isDirectory(oldHome));
      await applyHomeMode(newHome, homeMode, current.uid, gid, roots);
      if (oldReal) copyFrom = oldHome;
    } else if (sent("home_mode")) {
      await applyHomeMode(newHome, homeMode, current.uid, gid, roots);
    } else if (gid !== current.group.bsdgrp_gid) {
      await applyHomeMode(newHome, homeMode, current.uid, gid, roots);
    }
  }
  if (sent("sshpubkey")) {
    const target = hostPathOfHome(app, newHome);
    if (homes[0]) await homes[0].writeKeys(plan.sshpubkey ?? "", current.uid, gid);
    else if (target) await writeAuthorizedKeys(target, plan.sshpubkey ?? "", current.uid, gid, roots);
  }
  return copyFrom;
}

/** `user.do_home_copy`: copy the old home's contents into the new one in the background. */
function startHomeCopy(ctx: AccountContext, username: string, from: string, to: string, uid: number, gid: number, mode: string | undefined): void {
  ctx.app.jobs.start(
    "user.do_home_copy",
    [from, to, mode ?? null, username],
    { sessionId: null, username: null, internal: true },
    { description: `Copying home directory of ${username} from ${from} to ${to}` },
    async (job) => copyHome(from, to, { uid, gid, mode, roots: ctx.app.config.storageRoots, onProgress: (percent, description) => job.setProgress(percent, description) }),
  );
}
