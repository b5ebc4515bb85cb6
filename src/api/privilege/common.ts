// Shared by the privilege.* methods: input schemas (the rules live in src/accounts/privilege-write.ts).

import { z } from "zod";
import { renderableText } from "../../server/input-bounds.js";

export const PrivilegeFields = {
  name: renderableText(1, 200),
  local_groups: z.array(z.number().int()),
  ds_groups: z.array(z.union([z.number().int(), renderableText(1, 256)])),
  roles: z.array(z.string()),
  web_shell: z.boolean(),
};

export const PrivilegeCreate = z.strictObject({
  name: PrivilegeFields.name,
  local_groups: PrivilegeFields.local_groups.default([]),
  ds_groups: PrivilegeFields.ds_groups.default([]),
  roles: PrivilegeFields.roles.default([]),
  web_shell: PrivilegeFields.web_shell,
});

export const PrivilegeUpdate = z.strictObject({
  name: PrivilegeFields.name.optional(),
  local_groups: PrivilegeFields.local_groups.optional(),
  ds_groups: PrivilegeFields.ds_groups.optional(),
  roles: PrivilegeFields.roles.optional(),
  web_shell: PrivilegeFields.web_shell.optional(),
});

export { privilegeById, type PrivilegeData } from "../../accounts/privilege-write.js";
