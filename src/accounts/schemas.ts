// Result schemas of the account entities (reference §1.2 user entry, §2.1 group entry, §1.9
// passwd/group records), declared once and referenced by every method returning them. They
// describe what user-entry.ts, group-entry.ts and nss.ts build; the dispatcher checks results
// against them under GATEHOUSE_CHECK_RESULTS=1 (tests).

import { z } from "zod";
import { entity, redactable, timestamp } from "../server/wire-schema.js";
import { userFleetEntryFields } from "../fleet/access-schemas.js";

const idmap = z.union([z.literal("DIRECT"), z.number().int(), z.null()]);
const sudoCommands = z.array(z.string());

export const PrimaryGroupSchema = entity("PrimaryGroup", "The user's primary group, as stored (bsdgrp_* columns).", {
  id: z.number().int().describe("Database id of the group."),
  bsdgrp_gid: z.number().int().describe("GID."),
  bsdgrp_group: z.string().describe("Group name."),
  bsdgrp_builtin: z.boolean().describe("A built-in group."),
  bsdgrp_smb: z.boolean().describe("Available to SMB."),
  bsdgrp_sudo_commands: sudoCommands.describe("Commands members may run with sudo (password asked)."),
  bsdgrp_sudo_commands_nopasswd: sudoCommands.describe("Commands members may run with sudo without a password."),
  bsdgrp_userns_idmap: idmap.describe("User-namespace id mapping: DIRECT, a host id, or none."),
});

export const UserEntrySchema = entity("UserEntry", "A local user (reference user entry).", {
  id: z.number().int().describe("Database id (user.get_instance, user.update, user.delete take it)."),
  uid: z.number().int().describe("Unix user id."),
  username: z.string().describe("Login name."),
  unixhash: z.string().nullable().describe('Password hash ("*" when none); "********" unless the session may see secrets.'),
  smbhash: z.string().nullable().describe('NT hash for SMB ("*" when none); "********" unless the session may see secrets.'),
  home: z.string().describe("Home directory."),
  shell: z.string().describe("Login shell."),
  full_name: z.string().describe("Full name (GECOS)."),
  builtin: z.boolean().describe("A built-in account."),
  smb: z.boolean().describe("May authenticate to SMB."),
  webshare: z.boolean().describe("May use web shares."),
  userns_idmap: idmap.describe("User-namespace id mapping: DIRECT, a host id, or none."),
  group: PrimaryGroupSchema,
  groups: z.array(z.number().int()).describe("Database ids of the auxiliary groups."),
  password_disabled: z.boolean().describe("Password login is disabled."),
  ssh_password_enabled: z.boolean().describe("May log in over SSH with a password."),
  sshpubkey: z.string().nullable().describe("Authorized SSH public keys."),
  locked: z.boolean().describe("The account is locked."),
  sudo_commands: sudoCommands.describe("Commands the user may run with sudo (password asked)."),
  sudo_commands_nopasswd: sudoCommands.describe("Commands the user may run with sudo without a password."),
  email: z.string().nullable().describe("E-mail address."),
  local: z.boolean().describe("A local account (not from a directory service)."),
  immutable: z.boolean().describe("Username, uid and home may not change."),
  twofactor_auth_configured: z.boolean().describe("A TOTP secret is configured."),
  sid: z.string().nullable().describe("SMB security identifier (null without SMB)."),
  last_password_change: timestamp.nullable().describe("When the password last changed."),
  password_age: z.number().int().nullable().describe("Days since the last password change."),
  password_history: redactable(z.array(z.string())).describe('Hashes of earlier passwords; "********" unless the session may see secrets.'),
  password_change_required: z.boolean().describe("The password must change at the next login."),
  roles: z.array(z.string()).describe("Roles granted through the user's groups' privileges."),
  api_keys: z.array(z.number().int()).describe("Ids of the user's API keys."),
  microsoft_account: z.boolean().describe("Gatehouse: a Microsoft account (no local password)."),
  email_verified: z.boolean().describe("Gatehouse: the e-mail address was verified."),
  twofactor_method: z.enum(["TOTP", "EMAIL"]).nullable().describe("Gatehouse: the second factor — TOTP (recommended), EMAIL (codes sent by e-mail; user.set_twofactor_method) or null."),
  source: z.string().describe("Where the account comes from: LOCAL, LDAP, ..."),
  ldap_username: z.string().nullable().describe("Gatehouse (seed 003): the name in the directory when it differs from username (directory users)."),
  ...userFleetEntryFields,
});

/** user.create / user.update: the entry plus the password set (generated ones included). */
export const UserWithPasswordSchema = UserEntrySchema.extend({
  password: z.string().nullable().describe("The password set by this call (the generated one for random_password), null when none was."),
}).meta({ id: "UserWithPassword", description: "A user entry plus the password this call set." });

export const UserTwofactorConfigSchema = entity("UserTwofactorConfig", "A user's TOTP settings.", {
  provisioning_uri: z.string().nullable().describe("otpauth:// URI for an authenticator app (null without a secret)."),
  secret_configured: z.boolean().describe("A TOTP secret is configured."),
  interval: z.number().int().describe("TOTP time step in seconds."),
  otp_digits: z.number().int().describe("Digits per one-time password."),
});

/** user.renew_2fa_secret: the entry plus the new secret's provisioning data. */
export const UserWithTwofactorSchema = UserEntrySchema.extend({
  twofactor_config: UserTwofactorConfigSchema,
}).meta({ id: "UserWithTwofactor", description: "A user entry plus its new two-factor configuration." });

export const GroupEntrySchema = entity("GroupEntry", "A local group (reference group entry).", {
  id: z.number().int().describe("Database id (group.get_instance, group.update, group.delete take it)."),
  gid: z.number().int().describe("Unix group id."),
  name: z.string().describe("Group name."),
  group: z.string().describe("Group name (legacy alias of name)."),
  builtin: z.boolean().describe("A built-in group."),
  sudo_commands: sudoCommands.describe("Commands members may run with sudo (password asked)."),
  sudo_commands_nopasswd: sudoCommands.describe("Commands members may run with sudo without a password."),
  smb: z.boolean().describe("Available to SMB."),
  userns_idmap: idmap.describe("User-namespace id mapping: DIRECT, a host id, or none."),
  local: z.boolean().describe("A local group."),
  sid: z.string().nullable().describe("SMB security identifier (null without SMB)."),
  roles: z.array(z.string()).describe("Roles granted to members through privileges."),
  users: z.array(z.number().int()).describe("Database ids of the members."),
  immutable: z.boolean().describe("Name and gid may not change."),
});

export const UserObjSchema = entity("UserObj", "A passwd(5)-style record (user.get_user_obj).", {
  pw_name: z.string().describe("Username."),
  pw_gecos: z.string().describe("Full name."),
  pw_dir: z.string().describe("Home directory."),
  pw_shell: z.string().describe("Login shell."),
  pw_uid: z.number().int().describe("Unix user id."),
  pw_gid: z.number().int().describe("Primary group id."),
  grouplist: z.array(z.number().int()).nullable().describe("Every GID of the user (with get_groups), else null."),
  sid: z.string().nullable().describe("SMB security identifier (with sid_info), else null."),
  source: z.string().describe("LOCAL, LDAP, ..."),
  local: z.boolean().describe("A local account."),
});

export const GroupObjSchema = entity("GroupObj", "A group(5)-style record (group.get_group_obj).", {
  gr_name: z.string().describe("Group name."),
  gr_gid: z.number().int().describe("Unix group id."),
  gr_mem: z.array(z.string()).describe("Usernames of the members."),
  sid: z.string().nullable().describe("SMB security identifier (with sid_info), else null."),
  source: z.string().describe("LOCAL, LDAP, ..."),
  local: z.boolean().describe("A local group."),
});
