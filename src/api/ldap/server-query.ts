import { z } from "zod";
import { arg, defineMethod } from "../method.js";
import { queryRows } from "../../store/query-rows.js";
import { queryResult } from "../../server/wire-schema.js";
import { ldapServerEntries } from "../../directory/ldap-servers.js";
import { LdapServerSchema } from "../../directory/schemas.js";

export const ldapServerQuery = defineMethod({
  name: "ldap.server.query",
  description: "Lists LDAP servers in the order logins try them (never the bind password), with query-filters and query-options.",
  args: [arg("filters", z.array(z.any()), () => []), arg("options", z.record(z.string(), z.any()), () => ({}))],
  returns: queryResult(LdapServerSchema),
  roles: ["DIRECTORY_SERVICE_READ"],
  secretFields: ["bind_password"],
  handler: async (ctx, filters, options) => queryRows(await ldapServerEntries(ctx.app.store.db), filters, options),
});
