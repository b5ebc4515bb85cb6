// The account data host provisioning works from: a consistent snapshot of the store's users,
// groups and auxiliary memberships plus the password-ageing policy, in plain JS types.

/** One user row, as the generators need it (booleans decoded, JSON lists parsed). */
export interface ProvUser {
  id: number;
  uid: number;
  username: string;
  /** SHA-512 crypt hash; "*" or null when the account has no password. */
  unixhash: string | null;
  /** Uppercase hex NT hash; "*" or null when none. */
  smbhash: string | null;
  home: string;
  shell: string;
  full_name: string;
  builtin: boolean;
  smb: boolean;
  /** Primary group: groups.id. */
  group_id: number;
  password_disabled: boolean;
  ssh_password_enabled: boolean;
  sshpubkey: string | null;
  locked: boolean;
  sudo_commands: string[];
  sudo_commands_nopasswd: string[];
  /** Epoch milliseconds, or null when never set. */
  last_password_change: number | null;
  created_at: number;
}

export interface ProvGroup {
  id: number;
  gid: number;
  name: string;
  builtin: boolean;
  sudo_commands: string[];
  sudo_commands_nopasswd: string[];
  /** gshadow's group administrators: users.id (migration 018; absent = none). */
  admins?: readonly number[];
}

/** system.security fields that shape the generated files. */
export interface ProvPolicy {
  /** Days; null = no minimum. */
  min_password_age: number | null;
  /** Days; null = passwords never expire. */
  max_password_age: number | null;
  /** Under GPOS STIG no local user is an SMB user (reference §1.2). */
  enable_gpos_stig: boolean;
}

export const DEFAULT_POLICY: ProvPolicy = { min_password_age: null, max_password_age: null, enable_gpos_stig: false };

export interface Snapshot {
  /** Sorted by id. */
  users: ProvUser[];
  /** Sorted by id. */
  groups: ProvGroup[];
  /** Auxiliary memberships: group id → member user ids (sorted). */
  members: Map<number, number[]>;
  policy: ProvPolicy;
}
