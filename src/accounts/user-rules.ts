// Validation rules shared by user.create and user.update (reference §1.3–§1.7, adapted by
// SPEC.md). Each rule adds `[attribute, message, errno]` to a collector; nothing is written here.

import type { App } from "../app.js";
import type { Tx } from "../store/db.js";
import { ERRNO, type ValidationErrors } from "../server/errors.js";
import { MAX_PASSWORD_BYTES } from "../auth/password-hash.js";
import { readShellChoices, NOLOGIN_SHELL } from "./shells.js";
import { validateSudoCommands } from "./sudo.js";
import { EDITABLE_BUILTIN_GIDS, type GroupRow } from "./group-entry.js";
import { privilegeRows, rolesForGids } from "./privileges.js";
import { sudoRoot } from "./context.js";

/** Ids from here on are directory-service accounts (reference §0). */
export const DS_ID_BASE = 100_000_000;

export function shellChoices(app: App): Record<string, string> {
  return readShellChoices(app.config.hostRoot);
}

export function checkShell(app: App, v: ValidationErrors, attr: string, shell: string): void {
  if (!Object.hasOwn(shellChoices(app), shell)) v.add(attr, "Please select a valid shell.", "user.shell_invalid");
}

/** Password text that crypt(3) can take (a C string of bounded length). */
export function checkPasswordText(v: ValidationErrors, attr: string, password: string): void {
  if (password.includes("\0")) v.add(attr, "Password may not contain NUL characters.", "password.nul");
  else if (Buffer.byteLength(password, "utf8") > MAX_PASSWORD_BYTES) v.add(attr, `Password may not exceed ${MAX_PASSWORD_BYTES} bytes.`, "password.too_long");
}

export function checkSudo(app: App, v: ValidationErrors, schema: string, data: { sudo_commands?: string[]; sudo_commands_nopasswd?: string[] }): void {
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

/** Another SMB user whose name differs only in case (Samba's names are case-insensitive). */
export async function checkSmbNameClash(db: Tx, v: ValidationErrors, attr: string, username: string, userId: number | null): Promise<void> {
  let q = db.selectFrom("users").select(["id", "username"]).where("smb", "=", 1).where((eb) => eb(eb.fn("lower", ["username"]), "=", username.toLowerCase()));
  if (userId !== null) q = q.where("id", "!=", userId);
  const clash = await q.executeTakeFirst();
  if (clash && clash.username !== username) v.add(attr, `${username}: username conflicts with existing SMB user ${clash.username}.`, "user.smb_name_conflict");
}

export function isLoginShell(shell: string): boolean {
  return shell !== NOLOGIN_SHELL;
}
