import { z } from "zod";
import { arg, defineMethod } from "../method.js";
import { ldapServerById } from "../../directory/ldap-servers.js";
import { LdapServerSchema } from "../../directory/schemas.js";

export const ldapServerGetInstance = defineMethod({
  name: "ldap.server.get_instance",
  description: "One LDAP server by id (never the bind password).",
  args: [arg("id", z.number().int()), arg("options", z.record(z.string(), z.any()), () => ({}))],
  returns: LdapServerSchema,
  roles: ["DIRECTORY_SERVICE_READ"],
  secretFields: ["bind_password"],
  handler: (ctx, id) => ldapServerById(ctx.app.store.db, id),
});
