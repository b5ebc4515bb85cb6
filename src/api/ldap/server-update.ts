import { z } from "zod";
import { arg, defineMethod } from "../method.js";
import { ldapServerUpdateSchema, updateLdapServer } from "../../directory/ldap-servers.js";
import { LdapServerSchema } from "../../directory/schemas.js";

export const ldapServerUpdate = defineMethod({
  name: "ldap.server.update",
  description: "Changes an LDAP server; a bind password not sent is kept, an empty one removes it.",
  args: [arg("id", z.number().int()), arg("ldap_server_update", ldapServerUpdateSchema)],
  returns: LdapServerSchema,
  roles: ["DIRECTORY_SERVICE_WRITE"],
  secretArgs: ["ldap_server_update.bind_password"],
  secretFields: ["bind_password"],
  audit: (id) => `Update LDAP server ${id}`,
  handler: (ctx, id, data) => updateLdapServer(ctx.app, id, data),
});
