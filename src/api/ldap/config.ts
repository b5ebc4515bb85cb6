import { defineMethod } from "../method.js";
import { ldapConfig } from "../../directory/ldap-config.js";
import { LdapConfigSchema } from "../../directory/schemas.js";

export const ldapConfigMethod = defineMethod({
  name: "ldap.config",
  description: "Directory user options: allow user creation, join teams, and team mappings (group DN → teams).",
  args: [],
  returns: LdapConfigSchema,
  roles: ["DIRECTORY_SERVICE_READ"],
  handler: (ctx) => ldapConfig(ctx.app.store.db),
});
