// Validation rules shared by user.create and user.update (reference §1.3–§1.7, adapted by
// SPEC.md). Each rule adds `[attribute, message, errno]` to a collector; nothing is written here.

import type { AccountsApp } from "./context.js";
import { sql } from "kysely";
import type { Tx } from "../store/db.js";
import type { ValidationErrors } from "../server/errors.js";
import { MAX_PASSWORD_BYTES } from "../auth/password-hash.js";
import { readShellChoices, NOLOGIN_SHELL } from "./shells.js";
import { validateSudoCommands } from "./sudo.js";
import { EDITABLE_BUILTIN_GIDS, type GroupRow } from "./group-entry.js";
import { privilegeRows, rolesForGids } from "./privileges.js";
import { sudoRoot } from "./context.js";
import { ADMIN_UID } from "./user-entry.js";
import { NO_HOME } from "./home.js";
import { storageRootOf } from "./storage-root.js";
import { validateSshPubkey } from "./ssh-key.js";

/** Ids from here on are directory-service accounts (reference §0). */
export const DS_ID_BASE = 100_000_000;

export function shellChoices(app: Pick<AccountsApp, "config">): Record<string, string> {
  return readShellChoices(app.config.hostRoot);
}

export function checkShell(app: Pick<AccountsApp, "config">, v: ValidationErrors, attr: string, shell: string): void {
  if (!Object.hasOwn(shellChoices(app), shell)) v.add(attr, "Please select a valid shell.", "user.shell_invalid");
}

/** Password text that crypt(3) can take (a C string of bounded length). */
export function checkPasswordText(v: ValidationErrors, attr: string, password: string): void {
  if (password.includes("\0")) v.add(attr, "Password may not contain NUL characters.", "password.nul");
  else if (Buffer.byteLength(password, "utf8") > MAX_PASSWORD_BYTES) v.add(attr, `Password may not exceed ${MAX_PASSWORD_BYTES} bytes.`, "password.too_long");
}

export function checkSudo(app: Pick<AccountsApp, "config">, v: ValidationErrors, schema: string, data: { sudo_commands?: string[]; sudo_commands_nopasswd?: string[] }): void {
  const root = sudoRoot(app);
  if (data.sudo_commands) validateSudoCommands(v, `${schema}.sudo_commands`, data.sudo_commands, { root });
  if (data.sudo_commands_nopasswd) validateSudoCommands(v, `${schema}.sudo_commands_nopasswd`, data.sudo_commands_nopasswd, { root });
}

/**
 * Auxiliary groups: each must exist and be local; built-in groups other than the editable ones
 * may not be joined (keeping an existing membership is fine). Returns the rows found, by id.
 */
export async function checkAuxGroups(db: Tx, v: ValidationErrors, schema: string, groups: number[], currentAux: ReadonlySet<number>): Promise<Map<number, GroupRow>> {
  const wanted = groups.filter((g) => g < DS_ID_BASE);
  const rows = wanted.length ? await db.selectFrom("groups").selectAll().where("id", "in", wanted).execute() : [];
  const byId = new Map(rows.map((r) => [r.id, r]));
  groups.forEach((id, i) => {
    const attr = `${schema}.groups.${i}`;
    if (id >= DS_ID_BASE) return void v.add(attr, "Local users may not be members of directory services groups.", "user.group_directory");
    const g = byId.get(id);
    if (!g) return void v.add(attr, "This group does not exist.", "user.aux_group_not_found");
    if (g.builtin && !EDITABLE_BUILTIN_GIDS.has(g.gid) && !currentAux.has(id)) {
      v.add(attr, `${g.name}: membership of this builtin group may not be altered.`, "user.group_builtin");
    }
  });
  return byId;
}

/**
 * Container id mapping (reference §1.3): not for accounts whose groups carry roles, and two
 * users may not map to the same container UID.
 */
export async function checkUserIdmap(db: Tx, v: ValidationErrors, attr: string, value: "DIRECT" | number | null | undefined, gids: number[], userId: number | null): Promise<void> {
  if (value === null || value === undefined) return;
  if (rolesForGids(await privilegeRows(db), gids).length) {
    v.add(attr, "User namespace idmaps may not be configured for privileged accounts.", "idmap.privileged_account");
    return;
  }
  if (typeof value === "number") {
    let q = db.selectFrom("users").select(["id", "username"]).where("userns_idmap", "=", String(value));
    if (userId !== null) q = q.where("id", "!=", userId);
    const other = await q.executeTakeFirst();
    if (other) v.add(attr, `User '${other.username}' already maps to container UID ${value}.`, "idmap.container_id_taken");
  }
}

/**
 * The name of another SMB-enabled user (or group) whose name is `name` but for case, or null:
 * Samba maps names case-insensitively. `exceptId`: the account being written.
 */
export async function smbCaseTwin(db: Tx, table: "users" | "groups", name: string, exceptId: number | null): Promise<string | null> {
  const column = sql.ref<string>(table === "users" ? "username" : "name");
  let q = db.selectFrom(table).select(column.as("name")).where("smb", "=", 1).where(sql<string>`lower(${column})`, "=", name.toLowerCase()).where(column, "!=", name);
  if (exceptId !== null) q = q.where("id", "!=", exceptId);
  return (await q.executeTakeFirst())?.name ?? null;
}

/** Another SMB user whose name differs only in case (Samba's names are case-insensitive). */
export async function checkSmbNameClash(db: Tx, v: ValidationErrors, attr: string, username: string, userId: number | null): Promise<void> {
  const twin = await smbCaseTwin(db, "users", username, userId);
  if (twin !== null) v.add(...smbNameClash(attr, username, twin));
}

export function isLoginShell(shell: string): boolean {
  return shell !== NOLOGIN_SHELL;
}

// ---------------------------------------------------------------------------------------------
// Rules user.create and user.update both apply, each message written once. The caller decides
// when a rule applies (create sees the whole account, update only what was sent).

/** The username another account already has (validation before the write, and a violated unique index after). */
export function usernameTaken(attr: string, username: string): [string, string, "user.username_taken"] {
  return [attr, `The username "${username}" already exists.`, "user.username_taken"];
}

export async function checkUsernameFree(db: Tx, v: ValidationErrors, attr: string, username: string): Promise<void> {
  const taken = await db.selectFrom("users").select("id").where("username", "=", username).executeTakeFirst();
  if (taken) v.add(...usernameTaken(attr, username));
}

/** The uid another account has (validation, the claim inside the transaction, a violated index). */
export function uidTaken(attr: string, uid: number, owner: string | null): [string, string, "user.uid_taken"] {
  return [attr, `Uid ${uid} is already used${owner ? ` (user ${owner} has it)` : ""}`, "user.uid_taken"];
}

/** An SMB user whose name differs from `username` only in case (validation, and a violated index). */
export function smbNameClash(attr: string, username: string, other: string): [string, string, "user.smb_name_conflict"] {
  return [attr, `${username}: username conflicts with existing SMB user ${other}.`, "user.smb_name_conflict"];
}

/** The gid of primary group `groupId`, or null (with the error) when there is no such group. */
export async function primaryGroupGid(db: Tx, v: ValidationErrors, attr: string, groupId: number): Promise<number | null> {
  const g = await db.selectFrom("groups").select("gid").where("id", "=", groupId).executeTakeFirst();
  if (!g) v.add(attr, `Group ${groupId} not found`, "user.group_not_found");
  return g?.gid ?? null;
}

export const WEBSHARE_GROUP = "truenas_webshare";

/** The webshare group's id, when `wanted` (an error when it does not exist). */
export async function webshareGroupId(db: Tx, v: ValidationErrors, attr: string, wanted: boolean): Promise<number | undefined> {
  const g = await db.selectFrom("groups").select("id").where("name", "=", WEBSHARE_GROUP).executeTakeFirst();
  if (wanted && !g) v.add(attr, `The ${WEBSHARE_GROUP} group does not exist.`, "user.webshare_group_missing");
  return g?.id;
}

/** Password choices that contradict each other: an explicit and a random password; a password while it is disabled. */
export function checkPasswordChoice(v: ValidationErrors, schema: string, o: { explicitAndRandom: boolean; passwordWhileDisabled: boolean }): void {
  if (o.explicitAndRandom) {
    v.add(`${schema}.random_password`, "Requesting a randomized password while simultaneously supplying an explicit password is not permitted.", "user.password_conflict");
  }
  if (o.passwordWhileDisabled) {
    v.add(`${schema}.password_disabled`, 'Leave "Password" blank when "Disable password login" is checked.', "user.password_with_disabled");
  }
}

/** Seed 001: with the password being disabled the Lock and (password) sudo options do not apply. */
export function checkDisablingPassword(v: ValidationErrors, schema: string, o: { locked: boolean; sudoCommands: number }): void {
  if (o.locked) v.add(`${schema}.locked`, 'The user cannot be locked when "Disable Password" is checked.', "user.lock_password_disabled");
  if (o.sudoCommands) {
    v.add(`${schema}.sudo_commands`, 'Sudo commands that ask for a password cannot be allowed when "Disable Password" is checked.', "user.sudo_needs_password");
  }
}

/** SMB for a local account: not under STIG; `passwordDisabled` SMB users cannot exist. */
export function checkSmbRules(v: ValidationErrors, schema: string, o: { enabling: boolean; stig: boolean; passwordDisabled: boolean }): void {
  if (o.enabling && o.stig) {
    v.add(`${schema}.smb`, "SMB authentication for local user accounts is not permitted when General Purpose OS STIG compatibility is enabled.", "user.smb_stig");
  }
  if (o.passwordDisabled) v.add(`${schema}.password_disabled`, "Password authentication may not be disabled for SMB users.", "user.smb_password_disabled");
}

/** SSH password login needs a home and a login shell (each checked only when the caller says it changed). */
export function checkSshPasswordLogin(v: ValidationErrors, schema: string, o: { noHome: boolean; noLoginShell: boolean }): void {
  if (o.noHome) v.add(`${schema}.home`, "SSH password login requires a valid home path.", "user.ssh_password_needs_home_shell");
  if (o.noLoginShell) v.add(`${schema}.shell`, "SSH password login requires a login shell.", "user.ssh_password_needs_home_shell");
}

/** With SSH under two-factor authentication, password SSH needs the user's 2FA configured first. */
export function checkSshTwoFactor(v: ValidationErrors, schema: string, tf: { enabled: boolean; services?: { ssh?: boolean } | null }): void {
  if (tf.enabled && tf.services?.ssh) {
    v.add(`${schema}.ssh_password_enabled`, "2FA for this user needs to be explicitly configured before password based SSH access is enabled.", "user.ssh_password_needs_2fa");
  }
}

/**
 * An SSH public key is written into the home: it must be inside a storage root (root's and the
 * administrator's homes, in the host root, excepted). Then the key itself.
 */
export function checkSshKeyHome(v: ValidationErrors, schema: string, o: { uid: number | null; home: string; storageRoots: readonly string[]; key: string }): void {
  const privilegedHome = o.uid === 0 || o.uid === ADMIN_UID;
  if (!privilegedHome && (o.home === NO_HOME || storageRootOf(o.home, o.storageRoots) === null)) {
    v.add(
      `${schema}.sshpubkey`,
      "The home directory is not writable: to store an SSH public key the user home directory must be set to a writable path located within a storage root.",
      "user.sshpubkey_needs_home",
    );
  }
  validateSshPubkey(v, `${schema}.sshpubkey`, o.key);
}
