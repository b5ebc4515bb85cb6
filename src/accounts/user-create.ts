// user.create (reference §1.3, §1.5–§1.7; SPEC.md "Home directories", "Samba", seed 001).
// Validation first (no writes); then the password is hashed (slow, off the event loop) outside
// any transaction; then one transaction inserts the rows and does the filesystem work before
// committing, so a failing mkdir or key write rolls the whole create back.

import { CallError, ERRNO, ValidationErrors } from "../server/errors.js";
import { hashPassword, ntHash, randomPassword } from "../auth/password-hash.js";
import { passwordPolicyErrors, securityConfig, twoFactorConfig } from "../auth/policy.js";
import type { Tx } from "../store/db.js";
import type { AccountContext } from "./context.js";
import { changeReason, hostPathOfHome, insideStorageRoot, redactSecrets, skelDir, USER_SECRET_FIELDS } from "./context.js";
import { validateEmail, validateFullName, validateUsername } from "./names.js";
import { createHome, NO_HOME, validateHome, validateHomeMode, writeAuthorizedKeys, type HomeHandle } from "./home.js";
import { validateSshPubkey } from "./ssh-key.js";
import { defaultShell } from "./shells.js";
import { hashRounds } from "./account-settings.js";
import { allocateId, claimExplicitId, releaseReservation } from "./ids.js";
import { claimHome, homeHolderError, userConflictError, violatedKey, withIdRetry } from "./uniqueness.js";
import { ADMIN_UID, userEntryById, type UserEntry } from "./user-entry.js";
import { BUILTIN_USERS_GID } from "./group-entry.js";
import type { UserCreateInput } from "./inputs.js";
import { accountGrants, grantDelta } from "./grant-delta.js";
import { assertMayGrant } from "../access/grant-check.js";
import {
  checkAuxGroups,
  checkPasswordText,
  checkShell,
  checkSmbNameClash,
  checkSudo,
  checkUserIdmap,
  isLoginShell,
} from "./user-rules.js";

export const WEBSHARE_GROUP = "truenas_webshare";

export type UserWithPassword = UserEntry & { password: string | null };

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

export async function createUser(ctx: AccountContext, input: UserCreateInput): Promise<UserWithPassword> {
  const { app } = ctx;
  const db = app.store.db;
  const schema = "user_create";
  const v = new ValidationErrors();
  const data = {
    uid: input.uid ?? null,
    group: input.group ?? null,
    group_create: input.group_create ?? false,
    groups: input.groups ?? [],
    home: input.home ?? NO_HOME,
    home_create: input.home_create ?? false,
    home_mode: input.home_mode ?? "700",
    shell: input.shell ?? defaultShell(app.config.hostRoot),
    email: input.email || null,
    password: input.password || null,
    random_password: input.random_password ?? false,
    password_disabled: input.password_disabled ?? false,
    ssh_password_enabled: input.ssh_password_enabled ?? false,
    sshpubkey: input.sshpubkey?.trim() || null,
    locked: input.locked ?? false,
    smb: input.smb ?? true,
    webshare: input.webshare ?? false,
    userns_idmap: input.userns_idmap ?? null,
    sudo_commands: input.sudo_commands ?? [],
    sudo_commands_nopasswd: input.sudo_commands_nopasswd ?? [],
    microsoft_account: input.microsoft_account ?? false,
  };
  const username = input.username;

  // ---- names
  if (validateUsername(v, `${schema}.username`, username)) {
    const taken = await db.selectFrom("users").select("id").where("username", "=", username).executeTakeFirst();
    if (taken) v.add(`${schema}.username`, `The username "${username}" already exists.`, "user.username_taken");
  }
  validateFullName(v, `${schema}.full_name`, input.full_name);
  validateEmail(v, `${schema}.email`, data.email);

  // ---- password
  if (data.random_password && data.password) {
    v.add(`${schema}.random_password`, "Requesting a randomized password while simultaneously supplying an explicit password is not permitted.", "user.password_conflict");
  }
  if (data.password_disabled && data.password) {
    v.add(`${schema}.password_disabled`, 'Leave "Password" blank when "Disable password login" is checked.', "user.password_with_disabled");
  } else if (!data.password_disabled && !data.password && !data.random_password) {
    v.add(`${schema}.password`, "Password is required", "user.password_required");
  }
  if (data.password) {
    checkPasswordText(v, `${schema}.password`, data.password);
    if (!v.has(`${schema}.password`)) v.errors.push(...(await passwordPolicyErrors(db, `${schema}.password`, data.password)));
  }
  // Seed 001: with the password disabled the Lock and (password) sudo options do not apply.
  if (data.password_disabled && data.locked) {
    v.add(`${schema}.locked`, 'The user cannot be locked when "Disable Password" is checked.', "user.lock_password_disabled");
  }
  if (data.password_disabled && data.sudo_commands.length) {
    v.add(`${schema}.sudo_commands`, 'Sudo commands that ask for a password cannot be allowed when "Disable Password" is checked.', "user.sudo_needs_password");
  }

  // ---- SMB
  const security = await securityConfig(db);
  if (data.smb) {
    if (security.enable_gpos_stig) {
      v.add(`${schema}.smb`, "SMB authentication for local user accounts is not permitted when General Purpose OS STIG compatibility is enabled.", "user.smb_stig");
    }
    if (data.password_disabled) v.add(`${schema}.password_disabled`, "Password authentication may not be disabled for SMB users.", "user.smb_password_disabled");
    if (!v.has(`${schema}.username`)) await checkSmbNameClash(db, v, `${schema}.smb`, username, null);
  }

  // ---- ids and groups
  if (data.uid !== null) {
    const owner = await db.selectFrom("users").select("username").where("uid", "=", data.uid).executeTakeFirst();
    if (owner) v.add(`${schema}.uid`, `Uid ${data.uid} is already used (user ${owner.username} has it)`, "user.uid_taken");
  }
  let primaryGid: number | null = null;
  if ((data.group === null) === !data.group_create) {
    v.add(`${schema}.group`, "Enter either a group name or create a new group to continue.", "user.group_required");
  } else if (data.group !== null) {
    const g = await db.selectFrom("groups").select(["gid"]).where("id", "=", data.group).executeTakeFirst();
    if (!g) v.add(`${schema}.group`, `Group ${data.group} not found`, "user.group_not_found");
    else primaryGid = g.gid;
  }
  const auxRows = await checkAuxGroups(db, v, schema, data.groups, new Set());
  const webshareGroup = data.webshare ? await db.selectFrom("groups").select(["id"]).where("name", "=", WEBSHARE_GROUP).executeTakeFirst() : undefined;
  if (data.webshare && !webshareGroup) v.add(`${schema}.webshare`, `The ${WEBSHARE_GROUP} group does not exist.`, "user.webshare_group_missing");
  const gids = [...(primaryGid !== null ? [primaryGid] : []), ...[...auxRows.values()].map((g) => g.gid)];
  await checkUserIdmap(db, v, `${schema}.userns_idmap`, data.userns_idmap, gids, null);

  // ---- home, shell, keys
  checkShell(app, v, `${schema}.shell`, data.shell);
  let home = NO_HOME;
  const validName = !v.has(`${schema}.username`);
  if (validName) {
    home = await validateHome(v, `${schema}.home`, {
      home: data.home,
      homeCreate: data.home_create,
      username,
      storageRoots: app.config.storageRoots,
      otherUserHomes: await otherHomes(db, homeCandidates(data.home, username), null),
    });
  }
  if (input.home_mode !== undefined) validateHomeMode(v, `${schema}.home_mode`, data.home_mode);
  if (data.sshpubkey) {
    const privilegedHome = data.uid === 0 || data.uid === ADMIN_UID;
    if (!privilegedHome && (home === NO_HOME || !insideStorageRoot(app, home))) {
      v.add(`${schema}.sshpubkey`, "The home directory is not writable: to store an SSH public key the user home directory must be set to a writable path located within a storage root.", "user.sshpubkey_needs_home");
    }
    validateSshPubkey(v, `${schema}.sshpubkey`, data.sshpubkey);
  }
  if (data.ssh_password_enabled) {
    if (home === NO_HOME) v.add(`${schema}.home`, "SSH password login requires a valid home path.", "user.ssh_password_needs_home_shell");
    if (!isLoginShell(data.shell)) v.add(`${schema}.shell`, "SSH password login requires a login shell.", "user.ssh_password_needs_home_shell");
    const tf = await twoFactorConfig(db);
    if (tf.enabled && tf.services?.ssh) {
      v.add(`${schema}.ssh_password_enabled`, "2FA for this user needs to be explicitly configured before password based SSH access is enabled.", "user.ssh_password_needs_2fa");
    }
  }
  checkSudo(app, v, schema, data);
  v.check();

  // ---- hashes (outside the transaction: hashing is deliberately slow)
  const password = data.random_password ? randomPassword(20) : data.password;
  const unixhash = password && !data.password_disabled ? await hashPassword(password, await hashRounds(app)) : "*";
  const smbhash = password && data.smb && !data.password_disabled ? await ntHash(password) : "*";

  const homes: HomeHandle[] = [];
  let userId: number;
  try {
    // Retried when a concurrent writer took an automatic id or the user's new group name first.
    const retriable = (k: string) => (k === "uid" && data.uid === null) || (data.group_create && (k === "gid" || k === "group_name"));
    userId = await withIdRetry(retriable, () => db.transaction().execute(async (trx) => {
      // Uniqueness under concurrency (docs/security/concurrency.md): claims in a fixed order —
      // home, uid, gid — each seeing every concurrent create that claimed before it.
      const dialect = app.store.dialect;
      if (home !== NO_HOME) {
        const holder = await claimHome(trx, dialect, home, null);
        if (holder) throw homeHolderError(`${schema}.home`, home, holder);
      }
      if (data.uid !== null) {
        const owner = await claimExplicitId(trx, dialect, "uid", data.uid);
        if (owner !== null) throw new ValidationErrors([[`${schema}.uid`, `Uid ${data.uid} is already used (user ${owner} has it)`, "user.uid_taken"]]);
      }
      const uid = data.uid ?? (await allocateId(trx, dialect, "uid"));
      let groupId = data.group;
      let gid = primaryGid;
      if (data.group_create) {
        // A local group already named like the user is reused (reference §1.3).
        const existing = await trx.selectFrom("groups").select(["id", "gid"]).where("name", "=", username).executeTakeFirst();
        if (existing) {
          groupId = existing.id;
          gid = existing.gid;
        } else {
          // Same number as the uid when free (the usual user-private-group layout).
          gid = await allocateId(trx, dialect, "gid", uid);
          const row = await trx
            .insertInto("groups")
            .values({ gid, name: username, builtin: 0, smb: 0, sudo_commands: "[]", sudo_commands_nopasswd: "[]", userns_idmap: null })
            .returning("id")
            .executeTakeFirstOrThrow();
          groupId = row.id;
          await releaseReservation(trx, "gid", gid);
        }
      }
      const now = Date.now();
      const row = await trx
        .insertInto("users")
        .values({
          uid,
          username,
          unixhash,
          smbhash,
          home,
          shell: data.shell,
          full_name: input.full_name,
          builtin: 0,
          smb: data.smb ? 1 : 0,
          microsoft_account: data.microsoft_account ? 1 : 0,
          userns_idmap: data.userns_idmap === null ? null : String(data.userns_idmap),
          group_id: groupId!,
          password_disabled: data.password_disabled ? 1 : 0,
          ssh_password_enabled: data.ssh_password_enabled ? 1 : 0,
          sshpubkey: data.sshpubkey,
          locked: data.locked ? 1 : 0,
          sudo_commands: JSON.stringify(data.sudo_commands),
          sudo_commands_nopasswd: JSON.stringify(data.sudo_commands_nopasswd),
          email: data.email,
          email_verified: 0,
          last_password_change: unixhash !== "*" ? now : null,
          password_history: "[]",
          source: "LOCAL",
          home_mode: home === NO_HOME ? null : data.home_mode,
          twofactor_secret: null,
          twofactor_digits: 6,
          twofactor_interval: 30,
          twofactor_email: 0,
          created_at: now,
        })
        .returning("id")
        .executeTakeFirstOrThrow();
      await releaseReservation(trx, "uid", uid);

      // Auxiliary groups; SMB users are also members of builtin_users (reference §1.3).
      const aux = new Set(data.groups);
      if (data.smb) {
        const bu = await trx.selectFrom("groups").select("id").where("gid", "=", BUILTIN_USERS_GID).where("builtin", "=", 1).executeTakeFirst();
        if (bu) aux.add(bu.id);
      }
      if (webshareGroup) aux.add(webshareGroup.id);
      aux.delete(groupId!);
      if (aux.size) await trx.insertInto("memberships").values([...aux].map((group_id) => ({ group_id, user_id: row.id }))).execute();
      // Nobody grants what they do not hold: the new account's roles, sudo rights and built-in
      // groups (primary too, e.g. a reused group_create group) must be the caller's to give.
      assertMayGrant(ctx.session, grantDelta(new Map(), await accountGrants(trx, [row.id]), schema));

      // Filesystem last, still inside the transaction: a failure here rolls the rows back. A new
      // home is made under a temporary name and renamed into place after the commit
      // (docs/security/path-safety.md); an existing one is given to the user.
      for (const h of homes.splice(0)) await h.discard(); // an earlier attempt's
      if (home !== NO_HOME) {
        homes.push(await createHome(home, { uid, gid: gid!, mode: data.home_mode, skelDir: skelDir(app), roots: app.config.storageRoots }));
      }
      if (data.sshpubkey) {
        const target = hostPathOfHome(app, home);
        if (homes[0]) await homes[0].writeKeys(data.sshpubkey, uid, gid!);
        else if (target) await writeAuthorizedKeys(target, data.sshpubkey, uid, gid!, app.config.storageRoots);
      }
      return row.id;
    }));
  } catch (err) {
    for (const h of homes) await h.discard();
    const key = violatedKey(err);
    const conflict = key && (await userConflictError(db, schema, key, { username, uid: data.uid, home }));
    if (conflict) throw conflict;
    if (isUniqueViolation(err)) {
      throw new ValidationErrors([[`${schema}.username`, `The username "${username}" already exists.`, "user.username_taken"]]);
    }
    if (err instanceof ValidationErrors || err instanceof CallError) throw err;
    throw new CallError(`Failed to create user ${username}: ${(err as Error).message}`, "user.create_failed");
  }

  for (const h of homes) if (!(await h.commit())) app.log.warn({ home: h.path }, "new home directory could not be renamed into place");
  const entry = (await userEntryById(db, userId))!;
  app.events.publish("user.query", "added", entry.id, redactSecrets(entry, USER_SECRET_FIELDS));
  app.accountsChanged(changeReason("user.create", [entry.id], [entry.group.id, ...entry.groups]));
  return { ...entry, password: password ?? null };
}

