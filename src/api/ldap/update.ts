import { arg, defineMethod } from "../method.js";
import { ldapUpdateSchema, updateLdapConfig } from "../../directory/ldap-config.js";
import { LdapConfigSchema } from "../../directory/schemas.js";

export const ldapUpdate = defineMethod({
  name: "ldap.update",
  description: "Changes the directory user options; team_mappings, when sent, replace every mapping.",
  args: [arg("ldap_update", ldapUpdateSchema)],
  returns: LdapConfigSchema,
  roles: ["DIRECTORY_SERVICE_WRITE"],
  audit: "Update LDAP options",
  handler: (ctx, data) => updateLdapConfig(ctx.app, data),
});
