// Result schemas of the auth area's entities (API keys, sessions, auth.me, login answers, global
// two-factor and security settings), declared once and referenced by every method returning them.

import { z } from "zod";
import { entity, timestamp, wireSet } from "../server/wire-schema.js";
import { UserObjSchema, UserTwofactorConfigSchema } from "../accounts/schemas.js";

export const ApiKeyEntrySchema = entity("ApiKeyEntry", "An API key (never the key itself).", {
  id: z.number().int().describe("Key id (the part before the dash of the key)."),
  name: z.string().describe("Unique name."),
  username: z.string().nullable().describe("Owner's username."),
  user_identifier: z.number().int().nullable().describe("Owner's uid."),
  keyhash: z.string().describe('Hash of the key; "********" unless the session may see secrets.'),
  keyhash_salt: z.string().describe('Salt of the hash; "********" unless the session may see secrets.'),
  iterations: z
    .union([z.number().int(), z.literal("********")])
    .nullable()
    .describe('SCRAM PBKDF2 iterations; "********" unless the session may see secrets; null until a key made before SCRAM is used once.'),
  salt: z.string().nullable().describe('SCRAM salt (base64); "********" unless the session may see secrets.'),
  stored_key: z.string().nullable().describe('SCRAM StoredKey (base64); "********" unless the session may see secrets.'),
  server_key: z.string().nullable().describe('SCRAM ServerKey (base64); "********" unless the session may see secrets.'),
  scram: z.boolean().describe("Gatehouse: the key can log in with SCRAM (false: made before SCRAM; reset it, or use it once with API_KEY_PLAIN)."),
  created_at: timestamp.describe("When the key was created."),
  expires_at: timestamp.nullable().describe("When the key stops working (null: never)."),
  local: z.boolean().describe("Owned by a local account."),
  revoked: z.boolean().describe("Revoked (answers AUTH_ERR until reset)."),
  revoked_reason: z.string().nullable().describe("Why it was revoked."),
  roles: z.array(z.string()).nullable().describe("Gatehouse: roles the key is limited to (null: all of its owner's roles)."),
});

/** api_key.create, api_key.update with reset: the entry plus the key, shown only here. */
export const ApiKeyWithKeySchema = ApiKeyEntrySchema.extend({
  key: z.string().describe("The key (id-secret); shown only in this answer."),
  client_key: z.string().describe("SCRAM ClientKey (base64) for clients given precomputed material; shown only in this answer."),
}).meta({ id: "ApiKeyWithKey", description: "An API key entry plus the key itself." });

export const SessionEntrySchema = entity("SessionEntry", "An active session (auth.sessions).", {
  id: z.string().describe("Session id (auth.terminate_session takes it)."),
  current: z.boolean().describe("The caller's own session."),
  internal: z.boolean().describe("An internal session."),
  origin: z.string().describe("Where the session connected from."),
  credentials: z.string().describe("LOGIN_PASSWORD, LOGIN_TWOFACTOR, LOGIN_ONETIME_PASSWORD, API_KEY or TOKEN."),
  credentials_data: z
    .looseObject({
      username: z.string().optional().describe("Account the session belongs to."),
      login_at: timestamp.optional().describe("When the credentials were presented."),
      api_key: z.looseObject({ id: z.number().int(), name: z.string() }).optional().describe("The API key used (API_KEY)."),
      parent: z.looseObject({ credentials: z.string() }).optional().describe("The session a token was made from (TOKEN)."),
    })
    .describe("Details of the credentials, by type."),
  created_at: timestamp.describe("When the session began."),
  secure_transport: z.boolean().describe("Connected over TLS or a local socket."),
});

export const MeSchema = UserObjSchema.extend({
  attributes: z.record(z.string(), z.unknown()).describe("The user's UI attributes (auth.set_attribute)."),
  two_factor_config: UserTwofactorConfigSchema,
  privilege: z
    .object({
      roles: wireSet(z.string()).describe("Expanded roles of the session."),
      allowlist: z.array(z.object({ method: z.string(), resource: z.string() })).describe("Methods the session may call."),
      web_shell: z.boolean().describe("May use the web shell."),
      webui_access: z.boolean().describe("May use the web UI."),
    })
    .describe("What the session may do."),
  account_attributes: z.array(z.string()).describe("LOCAL, SYS_ADMIN, 2FA, PASSWORD_CHANGE_REQUIRED, OTPW, ..."),
}).meta({ id: "Me", description: "The logged-in user (auth.me)." });

export const LoginResultSchema = z
  .discriminatedUnion("response_type", [
    z.object({
      response_type: z.literal("SUCCESS"),
      user_info: MeSchema.nullable().describe("auth.me's answer (null with login_options.user_info false)."),
      authenticator: z.enum(["LEVEL_1", "LEVEL_2"]).describe("Authenticator assurance level reached."),
      reconnect_token: z.string().nullable().describe("A single-use token to reconnect with (login_options.reconnect_token)."),
    }),
    z.object({ response_type: z.literal("OTP_REQUIRED"), username: z.string().describe("Account waiting for its second factor.") }),
    z.object({ response_type: z.enum(["AUTH_ERR", "EXPIRED", "DENIED"]) }),
    z.object({
      response_type: z.literal("SCRAM_RESPONSE"),
      scram_type: z.enum(["SERVER_FIRST_RESPONSE", "SERVER_FINAL_RESPONSE"]).describe("Which SCRAM step this answers."),
      rfc_str: z.string().describe("The server's SCRAM message (RFC 5802)."),
      user_info: MeSchema.nullable().describe("auth.me's answer after the final step; null after the first."),
    }),
  ])
  .meta({ id: "LoginResult", description: "The answer of auth.login_ex: SUCCESS, OTP_REQUIRED (continue with auth.login_ex_continue) or a refusal." });

export const TwofactorGlobalConfigSchema = entity("TwofactorGlobalConfig", "Global two-factor settings.", {
  id: z.number().int().describe("Always 1."),
  enabled: z.boolean().describe("Two-factor authentication is enforced for accounts with a secret."),
  window: z.number().int().describe("Time steps accepted either side of now."),
  services: z.object({ ssh: z.boolean().describe("Also for SSH logins.") }).describe("Services beyond the API."),
});

export const SecurityConfigSchema = entity("SecurityConfig", "Password policy, lock-out and GPOS STIG settings.", {
  id: z.number().int().describe("Always 1."),
  enable_fips: z.boolean().describe("FIPS mode (not supported)."),
  enable_gpos_stig: z.boolean().describe("General Purpose OS STIG mode."),
  min_password_age: z.number().int().nullable().describe("Days before a password may change again."),
  max_password_age: z.number().int().nullable().describe("Days after which a password must change."),
  password_complexity_ruleset: wireSet(z.string()).nullable().describe("Character classes a password must contain."),
  min_password_length: z.number().int().nullable().describe("Minimum password length."),
  password_history_length: z.number().int().nullable().describe("Earlier passwords that may not be reused."),
  lockout_threshold: z.number().int().describe("Consecutive failed logins before the account is locked out (0 = off)."),
  lockout_duration: z.number().int().describe("Lock-out length in seconds (0 = off)."),
});
