import { z } from "zod";
import { arg, defineMethod } from "../method.js";
import { testLogin } from "../../directory/ldap-test.js";
import { LdapLoginReportSchema } from "../../directory/schemas.js";

export const ldapServerTestLogin = defineMethod({
  name: "ldap.server.test_login",
  description: "Shows what a directory login would do — the DN found, the groups read, the roles and teams that would result — without creating or changing anything.",
  args: [arg("username", z.string().min(1).max(256)), arg("password", z.string().max(1024))],
  returns: LdapLoginReportSchema,
  // It tells whether a password is right: a write role, audited.
  roles: ["DIRECTORY_SERVICE_WRITE"],
  secretArgs: ["password"],
  audit: (username) => `Test LDAP login of ${username}`,
  handler: (ctx, username, password) => testLogin(ctx.app, username, password),
});
