import { z } from "zod";
import { arg, defineMethod } from "../method.js";
import { deleteLdapServer } from "../../directory/ldap-servers.js";

export const ldapServerDelete = defineMethod({
  name: "ldap.server.delete",
  description: "Removes an LDAP server.",
  args: [arg("id", z.number().int())],
  returns: z.literal(true),
  roles: ["DIRECTORY_SERVICE_WRITE"],
  audit: (id) => `Delete LDAP server ${id}`,
  handler: (ctx, id) => deleteLdapServer(ctx.app, id),
});
