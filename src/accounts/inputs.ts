// Input models of user.create / user.update / group.create / group.update (reference §1.3, §1.4,
// §2.2). They check shapes only — unknown keys, types, ranges — so bad input fails with the
// field's path before any rule runs; the rules and their messages live in the services.

import { z } from "zod";
import { MAX_LOCAL_ID } from "./account-settings.js";
import { userFleetFields } from "../fleet/access-schemas.js";
import { renderableText } from "../server/input-bounds.js";

const idmap = z.union([z.literal("DIRECT"), z.number().int().min(1).max(4294967294)]).nullable();
// Bounds beyond the reference: a sudoers rule of more than 256 commands, or authorized_keys text
// of more than 32 KiB, is not something an administrator types; each entry's own rules are in the services.
const commands = z.array(z.string()).max(256);
const nullableString = z.string().nullable();

export const userCreateSchema = z.strictObject({
  username: z.string(),
  full_name: z.string(),
  uid: z.number().int().min(0).max(MAX_LOCAL_ID).nullable().optional(),
  group: z.number().int().nullable().optional(),
  group_create: z.boolean().optional(),
  groups: z.array(z.number().int()).max(64).optional(),
  home: z.string().optional(),
  home_create: z.boolean().optional(),
  home_mode: z.string().optional(),
  shell: z.string().optional(),
  email: nullableString.optional(),
  password: nullableString.optional(),
  random_password: z.boolean().optional(),
  password_disabled: z.boolean().optional(),
  ssh_password_enabled: z.boolean().optional(),
  sshpubkey: z
    .string()
    .max(32 * 1024)
    .nullable()
    .optional(),
  locked: z.boolean().optional(),
  smb: z.boolean().optional(),
  webshare: z.boolean().optional(),
  userns_idmap: idmap.optional(),
  sudo_commands: commands.optional(),
  sudo_commands_nopasswd: commands.optional(),
  microsoft_account: z.boolean().optional(),
  // Directory users (issue 12): pre-created with source LDAP and no password; the directory name when it differs.
  source: z.enum(["LOCAL", "LDAP"]).optional(),
  ldap_username: z
    .string()
    .min(1)
    .max(256)
    .regex(/^[^\u0000-\u001f\u007f]*$/)
    .nullable()
    .optional(),
  // Fleet (issue 11): teams, the user's own grants on systems and system groups (need FLEET_WRITE).
  ...userFleetFields,
});
export type UserCreateInput = z.output<typeof userCreateSchema>;

// Same fields minus uid and group_create (rejected as unknown keys), every one optional.
export const userUpdateSchema = userCreateSchema.omit({ uid: true, group_create: true, source: true }).partial();
export type UserUpdateInput = z.output<typeof userUpdateSchema>;

export const groupCreateSchema = z.strictObject({
  name: z.string(),
  gid: z.number().int().min(0).max(MAX_LOCAL_ID).nullable().optional(),
  smb: z.boolean().optional(),
  sudo_commands: commands.optional(),
  sudo_commands_nopasswd: commands.optional(),
  userns_idmap: idmap.optional(),
  users: z.array(z.number().int()).optional(),
});
export type GroupCreateInput = z.output<typeof groupCreateSchema>;

export const groupUpdateSchema = groupCreateSchema.omit({ gid: true }).partial();
export type GroupUpdateInput = z.output<typeof groupUpdateSchema>;

export const userDeleteOptions = z.strictObject({ delete_group: z.boolean().default(true) });
export const groupDeleteOptions = z.strictObject({ delete_users: z.boolean().default(false) });

// privilege.create / privilege.update (reference §4); the rules live in privilege-write.ts.
const privilegeFields = {
  name: renderableText(1, 200),
  local_groups: z.array(z.number().int()),
  ds_groups: z.array(z.union([z.number().int(), renderableText(1, 256)])),
  roles: z.array(z.string()),
  web_shell: z.boolean(),
};

export const privilegeCreateSchema = z.strictObject({
  name: privilegeFields.name,
  local_groups: privilegeFields.local_groups.default([]),
  ds_groups: privilegeFields.ds_groups.default([]),
  roles: privilegeFields.roles.default([]),
  web_shell: privilegeFields.web_shell,
});
export type PrivilegeCreateInput = z.output<typeof privilegeCreateSchema>;

export const privilegeUpdateSchema = z.strictObject(privilegeFields).partial();
export type PrivilegeUpdateInput = z.output<typeof privilegeUpdateSchema>;
