// user.update (reference §1.4–§1.7). Partial update: only sent fields change. As for create,
// everything is validated before any write, the password is hashed outside the transaction, and
// filesystem work (home creation / mode / authorized_keys) runs inside it. Copying an old home's
// contents to a new home is a background job started after the commit (`user.do_home_copy`).

import { stat } from "node:fs/promises";
import path from "node:path";
import { CallError, ERRNO, ValidationErrors, instanceNotFound } from "../server/errors.js";
import { hashPassword, ntHash, randomPassword } from "../auth/password-hash.js";
import { clearLockout, nextHistory, passwordPolicyErrors, securityConfig, twoFactorConfig } from "../auth/policy.js";
import type { AccountContext } from "./context.js";
import { changeReason, hostPathOfHome, insideStorageRoot, redactSecrets, skelDir, USER_SECRET_FIELDS } from "./context.js";
import { validateEmail, validateFullName, validateUsername } from "./names.js";
import { applyHomeMode, copyHome, createHome, NO_HOME, validateHome, validateHomeMode, writeAuthorizedKeys, type HomeHandle } from "./home.js";
import { validateSshPubkey } from "./ssh-key.js";
import { hashRounds } from "./account-settings.js";
import { ADMIN_UID, buildUserEntries, selectUserRows, userEntryById, type UserRow } from "./user-entry.js";
import { BUILTIN_ADMINISTRATORS_GID, BUILTIN_USERS_GID } from "./group-entry.js";
import { isFullAdminUser, otherUnlockedFullAdminExists, wouldOrphanLocalAdministrator } from "./admins.js";
import type { UserUpdateInput } from "./inputs.js";
import { accountGrants, effectiveRoles, grantDelta } from "./grant-delta.js";
import { assertMayActOn, assertMayGrant } from "../access/grant-check.js";
import { isUniqueViolation, otherHomes, WEBSHARE_GROUP, type UserWithPassword } from "./user-create.js";
import { claimHome, homeHolderError, userConflictError, violatedKey } from "./uniqueness.js";
import { checkAuxGroups, checkPasswordText, checkShell, checkSmbNameClash, checkSudo, checkUserIdmap, isLoginShell } from "./user-rules.js";

const posix = path.posix;
const CANNOT_CHANGE = "This attribute cannot be changed";

function normHome(h: string): string {
  return posix.normalize(h).replace(/(.)\/+$/, "$1");
}

export async function updateUser(ctx: AccountContext, id: number, input: UserUpdateInput): Promise<UserWithPassword> {
  const { app, session } = ctx;
  const db = app.store.db;
  const schema = "user_update";
  const row = (await selectUserRows(db).where("users.id", "=", id).executeTakeFirst()) as UserRow | undefined;
  if (!row) instanceNotFound("User", id, "user.not_found");
  const [current] = await buildUserEntries(db, [row]);
  ctx.auditSubject = current.username;
  const v = new ValidationErrors();
  const sent = <K extends keyof UserUpdateInput>(k: K): boolean => input[k] !== undefined;
  const immutable = current.immutable;
  const isRoot = current.uid === 0;

  // ---- immutable accounts (built-in, and admin uid 950): identity fields are fixed
  if (immutable) {
    if (sent("home_mode")) v.add(`${schema}.home_mode`, CANNOT_CHANGE, "user.immutable_field");
    if (sent("group") && input.group !== current.group.id) v.add(`${schema}.group`, CANNOT_CHANGE, "user.immutable_field");
    if (sent("home") && normHome(input.home!) !== normHome(current.home)) v.add(`${schema}.home`, CANNOT_CHANGE, "user.immutable_field");
    if (sent("username") && input.username !== current.username) v.add(`${schema}.username`, CANNOT_CHANGE, "user.immutable_field");
    if (sent("smb") && input.smb !== current.smb) v.add(`${schema}.smb`, CANNOT_CHANGE, "user.immutable_field");
    if (input.userns_idmap !== undefined && input.userns_idmap !== current.userns_idmap) v.add(`${schema}.userns_idmap`, CANNOT_CHANGE, "user.immutable_field");
  }

  // The state after the update.
  const next = {
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
  const password = input.password || null;

  // ---- names
  if (sent("username") && input.username !== current.username && validateUsername(v, `${schema}.username`, input.username!)) {
    const taken = await db.selectFrom("users").select("id").where("username", "=", input.username!).executeTakeFirst();
    if (taken) v.add(`${schema}.username`, `The username "${input.username}" already exists.`, "user.username_taken");
  }
  if (sent("full_name")) validateFullName(v, `${schema}.full_name`, input.full_name!);
  if (sent("email")) validateEmail(v, `${schema}.email`, input.email);

  // ---- primary and auxiliary groups
  let primaryGid = current.group.bsdgrp_gid;
  if (sent("group") || input.group === null) {
    if (input.group === null) v.add(`${schema}.group`, "User must have a primary group", "user.primary_group_required");
    else if (input.group !== current.group.id) {
      const g = await db.selectFrom("groups").select("gid").where("id", "=", input.group!).executeTakeFirst();
      if (!g) v.add(`${schema}.group`, `Group ${input.group} not found`, "user.group_not_found");
      else primaryGid = g.gid;
    }
  }
  let auxGids: number[] = [];
  const adminsGroup = await db.selectFrom("groups").select(["id"]).where("gid", "=", BUILTIN_ADMINISTRATORS_GID).where("builtin", "=", 1).executeTakeFirst();
  if (sent("groups")) {
    const rows = await checkAuxGroups(db, v, schema, input.groups!, new Set(current.groups));
    auxGids = [...rows.values()].map((g) => g.gid);
    if (isRoot && adminsGroup) {
      // Root is the break-glass administrator: exactly builtin_administrators (reference §1.4).
      if (!input.groups!.includes(adminsGroup.id)) v.add(`${schema}.groups`, "The root user must remain a member of the builtin_administrators group.", "user.root_must_stay_admin");
      else if (input.groups!.some((g) => g !== adminsGroup.id)) v.add(`${schema}.groups`, "The root user may only be a member of the builtin_administrators group.", "user.root_must_stay_admin");
    }
  } else {
    auxGids = (await db.selectFrom("memberships").innerJoin("groups", "groups.id", "memberships.group_id").select("groups.gid").where("memberships.user_id", "=", id).execute()).map((r) => r.gid);
  }
  if (sent("webshare") && input.webshare && isRoot) v.add(`${schema}.webshare`, `The root user may not be a member of the ${WEBSHARE_GROUP} group.`, "user.root_webshare");
  const webshareGroup = sent("webshare") ? await db.selectFrom("groups").select("id").where("name", "=", WEBSHARE_GROUP).executeTakeFirst() : undefined;
  if (input.webshare && !webshareGroup) v.add(`${schema}.webshare`, `The ${WEBSHARE_GROUP} group does not exist.`, "user.webshare_group_missing");
  if (input.userns_idmap !== undefined && input.userns_idmap !== current.userns_idmap && !immutable) {
    await checkUserIdmap(db, v, `${schema}.userns_idmap`, input.userns_idmap, [primaryGid, ...auxGids], id);
  }

  // ---- password, lock, SMB
  if (input.random_password && password) {
    v.add(`${schema}.random_password`, "Requesting a randomized password while simultaneously supplying an explicit password is not permitted.", "user.password_conflict");
  }
  if (next.password_disabled && (password || input.random_password)) {
    v.add(`${schema}.password_disabled`, 'Leave "Password" blank when "Disable password login" is checked.', "user.password_with_disabled");
  }
  if (password) {
    checkPasswordText(v, `${schema}.password`, password);
    if (!v.has(`${schema}.password`)) {
      const history = [...current.password_history, ...(current.unixhash ? [current.unixhash] : [])];
      v.errors.push(...(await passwordPolicyErrors(db, `${schema}.password`, password, history)));
    }
  }
  // Seed 001: disabling the password removes the Lock and (password) sudo options, so they cannot
  // be set together with it. Separate later edits are not refused: an administrator may still
  // lock a password-less account, e.g. root.
  if (input.password_disabled === true && next.locked) {
    v.add(`${schema}.locked`, 'The user cannot be locked when "Disable Password" is checked.', "user.lock_password_disabled");
  }
  if (input.password_disabled === true && next.sudo_commands.length) {
    v.add(`${schema}.sudo_commands`, 'Sudo commands that ask for a password cannot be allowed when "Disable Password" is checked.', "user.sudo_needs_password");
  }
  if (input.locked === true && !current.locked && (await isFullAdminUser(db, id)) && !(await otherUnlockedFullAdminExists(db, id))) {
    v.add(`${schema}.locked`, "After locking this user no local users will have FULL_ADMIN role", "access.last_full_admin");
  }
  if (input.password_disabled === true && !current.password_disabled && (await wouldOrphanLocalAdministrator(db, id))) {
    v.add(
      `${schema}.password_disabled`,
      "After disabling password for this user no password-enabled local user will have built-in privilege 'Local Administrator'.", "access.last_local_administrator",
    );
  }
  const security = await securityConfig(db);
  if (sent("smb") && input.smb && !current.smb && !immutable) {
    if (!password && !input.random_password) v.add(`${schema}.smb`, "Password must be reset in order to enable SMB authentication", "user.smb_needs_password_reset");
    if (security.enable_gpos_stig) {
      v.add(`${schema}.smb`, "SMB authentication for local user accounts is not permitted when General Purpose OS STIG compatibility is enabled.", "user.smb_stig");
    }
  }
  if (next.smb && (sent("smb") || sent("password_disabled")) && next.password_disabled && !immutable) {
    v.add(`${schema}.password_disabled`, "Password authentication may not be disabled for SMB users.", "user.smb_password_disabled");
  }
  if (next.smb && (sent("smb") || sent("username")) && !v.has(`${schema}.username`)) {
    await checkSmbNameClash(db, v, `${schema}.smb`, next.username, id);
  }

  // ---- two-factor rules
  const tf = await twoFactorConfig(db);
  if (tf.enabled && session?.userId === id && !current.twofactor_auth_configured) {
    v.add(`${schema}.renew_twofactor_secret`, "Two-factor authentication is enabled on this system: configure a two-factor secret for this account (user.renew_2fa_secret) before editing it.", "user.twofactor_secret_required");
  }
  if (input.ssh_password_enabled && !current.ssh_password_enabled && tf.enabled && tf.services?.ssh && !current.twofactor_auth_configured) {
    v.add(`${schema}.ssh_password_enabled`, "2FA for this user needs to be explicitly configured before password based SSH access is enabled.", "user.ssh_password_needs_2fa");
  }

  // ---- shell, home, keys, sudo
  if (sent("shell")) checkShell(app, v, `${schema}.shell`, input.shell!);
  let newHome = normHome(current.home);
  const homeSent = sent("home") || input.home_create === true;
  if (homeSent && !immutable && !v.has(`${schema}.username`)) {
    newHome = await validateHome(v, `${schema}.home`, {
      home: next.home,
      homeCreate: input.home_create ?? false,
      username: next.username,
      storageRoots: app.config.storageRoots,
      otherUserHomes: await otherHomes(db, [normHome(next.home), `${normHome(next.home)}/${next.username}`], id),
    });
  }
  if (sent("home_mode") && !immutable) validateHomeMode(v, `${schema}.home_mode`, input.home_mode);
  if (next.ssh_password_enabled) {
    if (input.ssh_password_enabled && !current.ssh_password_enabled && (newHome === NO_HOME || !isLoginShell(next.shell))) {
      v.add(`${schema}.ssh_password_enabled`, "Cannot be enabled without a valid home path and login shell.", "user.ssh_password_needs_home_shell");
    } else {
      if (homeSent && newHome === NO_HOME) v.add(`${schema}.home`, "SSH password login requires a valid home path.", "user.ssh_password_needs_home_shell");
      if (sent("shell") && !isLoginShell(next.shell)) v.add(`${schema}.shell`, "SSH password login requires a login shell.", "user.ssh_password_needs_home_shell");
    }
  }
  const sshpubkey = sent("sshpubkey") ? input.sshpubkey?.trim() || "" : null;
  if (sshpubkey) {
    const privilegedHome = current.uid === 0 || current.uid === ADMIN_UID;
    if (!privilegedHome && (newHome === NO_HOME || !insideStorageRoot(app, newHome))) {
      v.add(`${schema}.sshpubkey`, "Home directory is not writable: to store an SSH public key the home directory must be a path inside a storage root.", "user.sshpubkey_needs_home");
    }
    validateSshPubkey(v, `${schema}.sshpubkey`, sshpubkey);
  }
  checkSudo(app, v, schema, input);
  v.check();

  // ---- hashes, outside the transaction
  const newPassword = input.random_password ? randomPassword(20) : password;
  const unixhash = newPassword ? await hashPassword(newPassword, await hashRounds(app)) : null;
  const smbhash = newPassword && next.smb ? await ntHash(newPassword) : null;

  const gid = primaryGid;
  const oldHome = normHome(current.home);
  const moved = newHome !== oldHome;
  const homeMode = input.home_mode ?? row.home_mode ?? "700";
  const homes: HomeHandle[] = []; // new homes: renamed into place after the commit
  let copyFrom: string | null = null;
  try {
    await db.transaction().execute(async (trx) => {
      // A new home: serialised with every other write giving a home (docs/security/concurrency.md).
      if (moved && newHome !== NO_HOME) {
        const holder = await claimHome(trx, app.store.dialect, newHome, id);
        if (holder) throw homeHolderError(`${schema}.home`, newHome, holder);
      }
      const grantsBefore = await accountGrants(trx, [id]);
      // The dispatcher checked the target before the call; again here, where it cannot be raced.
      const was = grantsBefore.get(id);
      if (was) assertMayActOn(session, effectiveRoles(was), `user ${current.username}`);
      const set: Record<string, unknown> = {};
      if (sent("username")) set.username = next.username;
      if (sent("full_name")) set.full_name = input.full_name;
      if (sent("email")) set.email = input.email || null;
      if (sent("group") && input.group !== null) set.group_id = input.group;
      if (sent("shell")) set.shell = input.shell;
      if (sent("smb") && !immutable) set.smb = next.smb ? 1 : 0;
      if (sent("locked")) set.locked = next.locked ? 1 : 0;
      if (sent("ssh_password_enabled")) set.ssh_password_enabled = next.ssh_password_enabled ? 1 : 0;
      if (sent("sudo_commands")) set.sudo_commands = JSON.stringify(next.sudo_commands);
      if (sent("sudo_commands_nopasswd")) set.sudo_commands_nopasswd = JSON.stringify(next.sudo_commands_nopasswd);
      if (sent("microsoft_account")) set.microsoft_account = input.microsoft_account ? 1 : 0;
      if (input.userns_idmap !== undefined && !immutable) set.userns_idmap = next.userns_idmap === null ? null : String(next.userns_idmap);
      if (sent("sshpubkey")) set.sshpubkey = sshpubkey || null;
      if (sent("password_disabled")) set.password_disabled = next.password_disabled ? 1 : 0;
      if (moved) set.home = newHome;
      if (sent("home_mode") || moved) set.home_mode = newHome === NO_HOME ? null : homeMode;
      if (unixhash) {
        set.unixhash = unixhash;
        set.smbhash = smbhash ?? "*";
        set.password_history = JSON.stringify(nextHistory(current.password_history, current.unixhash));
        set.last_password_change = Date.now();
      } else if (next.password_disabled && !current.password_disabled) {
        // Disabling the password removes it (seed 000).
        set.unixhash = "*";
        set.smbhash = "*";
      }
      if (sent("smb") && !next.smb) set.smbhash = "*";
      if (Object.keys(set).length) await trx.updateTable("users").set(set).where("id", "=", id).execute();

      // Memberships: the sent list replaces the aux groups; SMB keeps builtin_users in sync.
      const bu = await trx.selectFrom("groups").select("id").where("gid", "=", BUILTIN_USERS_GID).where("builtin", "=", 1).executeTakeFirst();
      const aux = new Set(sent("groups") ? input.groups! : current.groups);
      if (bu && sent("smb") && !immutable) {
        if (next.smb) aux.add(bu.id);
        else if (!sent("groups")) aux.delete(bu.id);
      }
      if (bu && next.smb && sent("groups") && !immutable) aux.add(bu.id);
      if (webshareGroup) {
        if (input.webshare) aux.add(webshareGroup.id);
        else aux.delete(webshareGroup.id);
      }
      aux.delete(next.group ?? current.group.id);
      const before = new Set(current.groups);
      const added = [...aux].filter((g) => !before.has(g));
      const removed = [...before].filter((g) => !aux.has(g));
      if (removed.length) await trx.deleteFrom("memberships").where("user_id", "=", id).where("group_id", "in", removed).execute();
      if (added.length) await trx.insertInto("memberships").values(added.map((group_id) => ({ group_id, user_id: id }))).execute();
      // Nobody grants (or takes away) what they do not hold: roles, sudo rights, built-in groups.
      assertMayGrant(session, grantDelta(grantsBefore, await accountGrants(trx, [id]), schema));

      // Any update clears a lock-out (reference §1.4, §7.8).
      await clearLockout(trx, current.username);

      // ---- filesystem, still inside the transaction
      if (newHome !== NO_HOME) {
        const isDir = await stat(newHome).then((s) => s.isDirectory(), () => false);
        if (!isDir) {
          // A new home, or the current one vanished: (re)create it. Skeleton files only when
          // nothing will be copied over from an old home.
          const oldReal = moved && oldHome !== NO_HOME && (await stat(oldHome).then((s) => s.isDirectory(), () => false));
          try {
            homes.push(await createHome(newHome, { uid: current.uid, gid, mode: homeMode, skelDir: oldReal ? null : skelDir(app), roots: app.config.storageRoots }));
          } catch (e) {
            if (e instanceof CallError) throw e;
            throw new CallError(`Failed recreating home directory ${newHome}: ${(e as Error).message}`, "home.recreate_failed");
          }
          if (oldReal) copyFrom = oldHome;
        } else if (moved) {
          const oldReal = oldHome !== NO_HOME && (await stat(oldHome).then((s) => s.isDirectory(), () => false));
          await applyHomeMode(newHome, homeMode, current.uid, gid, app.config.storageRoots);
          if (oldReal) copyFrom = oldHome;
        } else if (sent("home_mode")) {
          await applyHomeMode(newHome, homeMode, current.uid, gid, app.config.storageRoots);
        } else if (gid !== current.group.bsdgrp_gid) {
          await applyHomeMode(newHome, homeMode, current.uid, gid, app.config.storageRoots);
        }
      }
      if (sent("sshpubkey")) {
        const target = hostPathOfHome(app, newHome);
        if (homes[0]) await homes[0].writeKeys(sshpubkey ?? "", current.uid, gid);
        else if (target) await writeAuthorizedKeys(target, sshpubkey ?? "", current.uid, gid, app.config.storageRoots);
      }
    });
  } catch (err) {
    for (const h of homes) await h.discard();
    const key = violatedKey(err);
    const conflict = key && (await userConflictError(db, schema, key, { username: next.username, home: newHome }));
    if (conflict) throw conflict;
    if (isUniqueViolation(err)) throw new ValidationErrors([[`${schema}.username`, `The username "${next.username}" already exists.`, "user.username_taken"]]);
    if (err instanceof ValidationErrors || err instanceof CallError) throw err;
    throw new CallError(`Failed to update user ${current.username}: ${(err as Error).message}`, "user.update_failed");
  }

  for (const h of homes) if (!(await h.commit())) app.log.warn({ home: h.path }, "new home directory could not be renamed into place");
  if (copyFrom) startHomeCopy(ctx, next.username, copyFrom, newHome, current.uid, gid, input.home_mode);
  const entry = (await userEntryById(db, id))!;
  app.events.publish("user.query", "changed", id, redactSecrets(entry, USER_SECRET_FIELDS));
  app.accountsChanged(changeReason("user.update", [id], [current.group.id, entry.group.id, ...current.groups, ...entry.groups]));
  return { ...entry, password: newPassword ?? null };
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

