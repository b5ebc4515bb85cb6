import { arg, defineMethod } from "../method.js";
import { createLdapServer, ldapServerCreateSchema } from "../../directory/ldap-servers.js";
import { LdapServerSchema } from "../../directory/schemas.js";

export const ldapServerCreate = defineMethod({
  name: "ldap.server.create",
  description: "Adds an LDAP server (seed 003 fields plus security LDAPS|STARTTLS); the bind password is sealed at rest and never returned.",
  args: [arg("ldap_server_create", ldapServerCreateSchema)],
  returns: LdapServerSchema,
  roles: ["DIRECTORY_SERVICE_WRITE"],
  secretArgs: ["ldap_server_create.bind_password"],
  secretFields: ["bind_password"],
  audit: (data) => `Create LDAP server ${data.hostname}`,
  handler: (ctx, data) => createLdapServer(ctx.app, data),
});
