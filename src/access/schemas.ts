// Result schemas of privileges and the role catalogue, declared once for every method returning them.

import { z } from "zod";
import { entity } from "../server/wire-schema.js";
import { GroupEntrySchema } from "../accounts/schemas.js";

/** A group a privilege names that does not exist (locally) or lives in a directory service. */
const GroupRefSchema = entity("PrivilegeGroupRef", "A group named by a privilege but not resolved to a local group entry.", {
  gid: z.number().int().nullable().describe("GID, when named by one."),
  sid: z.string().nullable().describe("SID, when named by one."),
  group: z.string().nullable().describe("Group name, when named by one."),
});

export const PrivilegeEntrySchema = entity("PrivilegeEntry", "A privilege: roles granted to local and directory groups.", {
  id: z.number().int().describe("Database id."),
  builtin_name: z.string().nullable().describe("Name of a built-in privilege (LOCAL_ADMINISTRATOR, READONLY_ADMINISTRATOR), else null."),
  name: z.string().describe("Unique name."),
  local_groups: z.array(z.union([GroupEntrySchema, GroupRefSchema])).describe("Local groups granted (group entries; unknown gids as references)."),
  ds_groups: z.array(GroupRefSchema).describe("Directory-service groups granted."),
  roles: z.array(z.string()).describe("Roles granted."),
  web_shell: z.boolean().describe("Members may use the web shell."),
});

export const RoleRowSchema = entity("RoleRow", "A role of the catalogue (privilege.roles).", {
  name: z.string().describe("Role name."),
  title: z.string().describe("Title (the name)."),
  includes: z.array(z.string()).describe("Roles this one includes."),
  builtin: z.boolean().describe("false for the four compound roles."),
  stig: z.enum(["GPOS"]).nullable().describe("GPOS when the role is allowed in STIG mode."),
});
