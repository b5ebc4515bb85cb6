import { z } from "zod";
import { arg, defineMethod } from "../method.js";
import { ldapServerUpdateSchema } from "../../directory/ldap-servers.js";
import { testServerSettings } from "../../directory/ldap-test.js";
import { LdapTestReportSchema } from "../../directory/schemas.js";

const TestInput = ldapServerUpdateSchema.extend({ id: z.number().int().optional() });

export const ldapServerTest = defineMethod({
  name: "ldap.server.test",
  description:
    "Tries LDAP server settings step by step (connect, TLS, bind, search) and reports each step with its reason. With `id`, unsent fields (the bind password too) come from that saved server.",
  args: [arg("ldap_server_test", TestInput)],
  returns: LdapTestReportSchema,
  // It connects to a host the caller names: a write role.
  roles: ["DIRECTORY_SERVICE_WRITE"],
  secretArgs: ["ldap_server_test.bind_password"],
  audit: (data) => `Test LDAP server ${data.hostname ?? data.id ?? ""}`,
  handler: (ctx, data) => testServerSettings(ctx.app, data),
});
