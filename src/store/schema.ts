// Row types of every table, as Kysely sees them. Booleans are stored as 0/1 integers and JSON
// values as text in both SQLite and PostgreSQL, so one code path serves both dialects.
// Timestamps are epoch milliseconds (bigint in PostgreSQL, read back as numbers).

import type { Generated } from "kysely";

export type Bool = number; // 0 | 1
export type Json = string; // JSON text

export interface UserTable {
  id: Generated<number>;
  uid: number;
  username: string;
  unixhash: string | null; // "*" when no password
  smbhash: string | null; // "*" when none
  home: string;
  shell: string;
  full_name: string;
  builtin: Bool;
  smb: Bool;
  microsoft_account: Bool;
  userns_idmap: string | null; // "DIRECT" or a number as text
  group_id: number; // primary group: groups.id
  password_disabled: Bool;
  ssh_password_enabled: Bool;
  sshpubkey: string | null;
  locked: Bool;
  sudo_commands: Json; // string[]
  sudo_commands_nopasswd: Json; // string[]
  email: string | null;
  email_verified: Bool;
  last_password_change: number | null; // epoch ms
  password_history: Json; // string[] of previous unix hashes, newest last
  source: string; // LOCAL | LDAP
  home_mode: string | null; // last applied octal mode, e.g. "700"
  twofactor_secret: string | null; // base32 TOTP secret
  twofactor_digits: number;
  twofactor_interval: number;
  twofactor_email: Bool; // emailed-code second factor enabled
  ldap_username: string | null; // the name in the directory when it differs (migration 010)
  created_at: number;
}

export interface GroupTable {
  id: Generated<number>;
  gid: number;
  name: string;
  builtin: Bool;
  smb: Bool;
  sudo_commands: Json;
  sudo_commands_nopasswd: Json;
  userns_idmap: string | null;
  admins: Generated<Json>; // number[] of users.id: gshadow's group administrators (migration 018)
}

/** Auxiliary group membership (the primary group is users.group_id). */
export interface MembershipTable {
  group_id: number;
  user_id: number;
}

export interface PrivilegeTable {
  id: Generated<number>;
  builtin_name: string | null;
  name: string;
  local_groups: Json; // number[] of GIDs
  ds_groups: Json; // (number | string)[]
  roles: Json; // string[]
  web_shell: Bool;
}

export interface ApiKeyTable {
  id: Generated<number>;
  name: string;
  user_id: number | null;
  username: string | null;
  keyhash_salt: string; // salt of the fast hash PLAIN checks (was `salt` before migration 012)
  keyhash: string; // salted SHA-256 of the secret part, hex
  // SCRAM-SHA-512 record (migration 012); null for keys made before it until their next PLAIN login.
  iterations: number | null;
  salt: string | null; // base64 of the 16 salt bytes
  stored_key: string | null; // base64 of 64 bytes
  server_key: string | null; // base64 of 64 bytes
  created_at: number;
  expires_at: number | null;
  revoked: Bool;
  revoked_reason: string | null;
  roles: Json | null; // null = all of the owner's roles
}

/** Key/value settings: system.security, auth.twofactor, mail, ldap, id ranges, SID, … */
export interface SettingTable {
  key: string;
  value: Json;
}

export interface SessionTable {
  id: string; // uuid
  user_id: number | null;
  username: string | null;
  credentials: string; // LOGIN_PASSWORD | LOGIN_TWOFACTOR | LOGIN_ONETIME_PASSWORD | API_KEY | TOKEN
  credentials_data: Json;
  origin: string;
  secure_transport: Bool;
  attributes: Json; // account_attributes extra (OTPW, PASSWORD_CHANGE_REQUIRED, …)
  readonly: Bool; // privilege.become_readonly
  api_key_id: number | null;
  created_at: number;
  last_seen: number;
  expires_at: number;
  terminated: Bool;
  /** Last time the owning server process confirmed the connection is open (migration 002). */
  heartbeat: Generated<number>;
}

export interface TokenTable {
  token_hash: string; // SHA-256 of the token
  session_id: string;
  attrs: Json;
  match_origin: string | null;
  single_use: Bool;
  ttl: number; // seconds (sliding)
  expires_at: number;
  reconnect: Bool;
}

/** Short-lived secrets: one-time passwords, emailed codes, password-reset codes, used TOTP steps. */
export interface OneTimeCodeTable {
  id: Generated<number>;
  kind: string; // OTPW | EMAIL_VERIFY | EMAIL_2FA | PASSWORD_RESET | TOTP_USED | PENDING_2FA
  user_id: number | null;
  code_hash: string;
  data: Json;
  created_at: number;
  expires_at: number;
  used: Bool;
  tries: Generated<number>; // wrong guesses at an emailed code (migration 011)
}

/** Outgoing mail for logins, resets and verification: (user, kind), never a code (migration 011). */
export interface MailQueueTable {
  id: Generated<number>;
  user_id: number;
  kind: string; // src/mail/messages.ts MailKind
  state: Generated<string>; // PENDING | SENT | DROPPED | FAILED
  attempts: Generated<number>;
  next_attempt_at: number;
  locked_until: Generated<number>; // lease of the process sending it
  last_error: string | null;
  last_error_code: string | null;
  created_at: number;
  sent_at: number | null;
}

/** Counters shared by every server process: failed logins (lock-out) and rate limits. */
export interface CounterTable {
  key: string;
  count: number;
  window_start: number;
  locked_until: number | null;
}

export interface AuditTable {
  id: Generated<number>;
  audit_id: string;
  message_timestamp: number; // epoch seconds
  timestamp: number; // epoch ms
  address: string;
  username: string;
  session: string | null;
  service: string;
  service_data: Json;
  event: string;
  event_data: Json;
  success: Bool;
}

export interface AttributeTable {
  user_id: number;
  attributes: Json;
}

export interface FleetSystemTable {
  id: Generated<number>;
  name: string;
  url: string;
  api_key: string;
  verify_ssl: Bool;
  /** Certificate authority (certificate_authorities.id) verifying the system's TLS certificate (migration 009). */
  ca: number | null;
  /** Sealed read-only API key on the system: READ callers' calls go through it (migration 009). */
  read_api_key: string | null;
  /** The keys' owner on the system (SCRAM names it; PLAIN may leave it empty) (migration 009). */
  username: string | null;
  created_at: number;
  updated_at: number;
}

/** The last observed status of a system (migration 009; written by the poller and status calls). */
export interface FleetSystemStatusTable {
  system_id: number;
  reachable: Bool;
  version: string | null;
  latency_ms: number | null;
  error: string | null;
  error_code: string | null;
  checked_at: number;
}

export interface FleetSystemGroupTable {
  id: Generated<number>;
  name: string;
}

export interface FleetSystemGroupMemberTable {
  system_group_id: number;
  system_id: number;
}

export interface TeamTable {
  id: Generated<number>;
  name: string;
}

export interface TeamMemberTable {
  team_id: number;
  user_id: number;
  origin: Generated<string>; // LOCAL | LDAP (a directory mapping made it; migration 008)
}

/** Access entries: owner is a user or a team; target is a system or a system group. */
export interface FleetAccessTable {
  id: Generated<number>;
  owner_kind: string; // USER | TEAM
  owner_id: number;
  target_kind: string; // SYSTEM | SYSTEM_GROUP
  target_id: number;
  access: string; // READ | READ_WRITE
}

export interface LdapServerTable {
  id: Generated<number>;
  position: number;
  hostname: string;
  domain: string;
  group_domain: string | null;
  verify_ssl: Bool;
  user_id_field: string;
  group_id_field: string;
  bind_dn: string | null;
  bind_password: string | null;
  realm: string | null;
  kdc: string | null;
  security: Generated<string>; // LDAPS | STARTTLS (migration 010)
  nested_groups: Generated<Bool>;
  connect_timeout: Generated<number>; // seconds
  timeout: Generated<number>; // seconds, each operation
}

/** Directory group (full DN, as stored) → team (migration 010). */
export interface LdapTeamMappingTable {
  group_dn: string;
  team_id: number;
}

export interface CertificateAuthorityTable {
  id: Generated<number>;
  name: string;
  certificate: string;
  created_at: number;
}

/** The change log (migration 016; src/store/changes.ts). */
export interface ChangesTable {
  seq: Generated<number>;
  /** The typed event, src/store/change-event.ts encodeChange. */
  payload: Json;
  at: number;
}

export interface Database {
  changes: ChangesTable;
  users: UserTable;
  groups: GroupTable;
  memberships: MembershipTable;
  privileges: PrivilegeTable;
  api_keys: ApiKeyTable;
  settings: SettingTable;
  sessions: SessionTable;
  tokens: TokenTable;
  onetime_codes: OneTimeCodeTable;
  mail_queue: MailQueueTable;
  counters: CounterTable;
  audit: AuditTable;
  attributes: AttributeTable;
  fleet_systems: FleetSystemTable;
  fleet_system_status: FleetSystemStatusTable;
  fleet_system_groups: FleetSystemGroupTable;
  fleet_system_group_members: FleetSystemGroupMemberTable;
  teams: TeamTable;
  team_members: TeamMemberTable;
  fleet_access: FleetAccessTable;
  ldap_servers: LdapServerTable;
  certificate_authorities: CertificateAuthorityTable;
  ldap_team_mappings: LdapTeamMappingTable;
}
