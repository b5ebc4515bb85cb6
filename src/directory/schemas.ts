// Result schemas of the directory area: certificate authorities, LDAP servers, LDAP options and the
// step reports of ldap.server.test / test_login. Declared once, referenced by every method.

import { z } from "zod";
import { entity, timestamp } from "../server/wire-schema.js";

export const CertificateAuthoritySchema = entity("CertificateAuthority", "A registered certificate authority (trusted by LDAP, fleet systems and mail).", {
  id: z.number().int(),
  name: z.string().describe("Unique name."),
  certificate: z.string().describe("The CA certificate (PEM)."),
  subject: z.string().describe("Subject distinguished name."),
  issuer: z.string().describe("Issuer distinguished name (the subject itself for a root)."),
  not_before: timestamp.describe("Start of validity."),
  not_after: timestamp.describe("End of validity (expiry)."),
  expired: z.boolean().describe("not_after is in the past."),
  fingerprint: z.string().describe("SHA-256 fingerprint (colon-separated hex)."),
  created_at: timestamp.describe("When it was imported."),
});

export const LdapSecurity = z.enum(["LDAPS", "STARTTLS"]);

export const LdapServerSchema = entity("LdapServer", "An LDAP server (seed 003); the bind password is never returned.", {
  id: z.number().int(),
  position: z.number().int().describe("Order in which servers are tried (lowest first)."),
  hostname: z.string().describe("host:port (port defaults to 636 for LDAPS, 389 for STARTTLS)."),
  domain: z.string().describe("Base DN of users."),
  group_domain: z.string().describe("Base DN of groups (default: domain)."),
  verify_ssl: z.boolean().describe("Verify the server certificate against the system roots and registered CAs."),
  user_id_field: z.string(),
  group_id_field: z.string(),
  bind_dn: z.string().describe("Bind DN for indirect bind (empty: direct bind)."),
  bind_password_set: z.boolean().describe("A bind password is stored (the password itself is never shown)."),
  realm: z.string().describe("Kerberos realm (stored and shown only)."),
  kdc: z.string().describe("Kerberos KDC (stored and shown only)."),
  security: LdapSecurity.describe("LDAPS (TLS from the start) or STARTTLS."),
  nested_groups: z.boolean().describe("Follow nested groups (groups that are members of groups)."),
  connect_timeout: z.number().int().describe("Connect timeout, seconds."),
  timeout: z.number().int().describe("Timeout of each operation, seconds."),
});

export const LdapConfigSchema = entity("LdapConfig", "Directory user options (seed 003).", {
  allow_user_creation: z.boolean().describe("Create a local record at a directory user's first login."),
  join_teams: z.array(z.number().int()).describe("Teams every created directory user joins."),
  team_mappings: z.array(z.object({ group_dn: z.string(), team_ids: z.array(z.number().int()) })).describe("Directory group (full DN) → teams, re-applied at every login."),
});

export const LdapStepSchema = z.object({
  step: z.enum(["CONNECT", "TLS", "BIND", "SEARCH"]),
  ok: z.boolean(),
  message: z.string(),
});

export const LdapTestReportSchema = entity("LdapTestReport", "ldap.server.test: each step with its result and reason.", {
  ok: z.boolean(),
  steps: z.array(LdapStepSchema),
});

export const LdapLoginReportSchema = entity("LdapLoginReport", "ldap.server.test_login: what a real login would do (nothing is created).", {
  ok: z.boolean().describe("The directory accepted the credentials."),
  reason: z.string().nullable().describe("Why not, when ok is false."),
  server: z.string().nullable().describe("hostname of the server that answered."),
  dn: z.string().nullable().describe("The user's DN."),
  groups: z.array(z.string()).describe("Directory groups read (full DNs)."),
  local_user: z.string().nullable().describe("The local account it maps to, if one exists."),
  would_create: z.boolean().describe("A first login would create a local record."),
  roles: z.array(z.string()).describe("Roles (privilege roles) that would result."),
  teams: z.array(z.object({ id: z.number().int(), name: z.string() })).describe("Teams the user would be in through the mappings and join_teams."),
  uid: z.number().int().nullable().describe("The uid a created record would get."),
});

export const LdapSyncReportSchema = entity("LdapSyncReport", "ldap.sync: the membership changes previewed or applied.", {
  dry_run: z.boolean(),
  users: z.number().int().describe("Directory users examined."),
  changes: z.array(z.object({ username: z.string(), add: z.array(z.number().int()), remove: z.array(z.number().int()), error: z.string().nullable() })),
});
