// The authenticated identity behind a connection. Sessions are rows in the store (so every server
// process sharing a PostgreSQL accepts them); this object is the in-process view with the
// caller's expanded roles and the precomputed set of methods they may call.

import type { OwnCommitView } from "../store/own-commits.js";

export type CredentialType = "LOGIN_PASSWORD" | "LOGIN_TWOFACTOR" | "LOGIN_ONETIME_PASSWORD" | "API_KEY" | "TOKEN" | "UNIX_SOCKET" | "INTERNAL";

/** Sessions whose server process stopped confirming them for this long are not listed. */
export const HEARTBEAT_STALE_MS = 60_000;

/** NIST 800-63B authenticator assurance level (reference §7.5); LEVEL_2 under STIG. */
export type AssuranceLevel = "LEVEL_1" | "LEVEL_2";

export interface Session {
  id: string;
  credentials: CredentialType;
  credentialsData: Record<string, unknown>;
  userId: number | null;
  username: string;
  uid: number | null;
  /** The privilege roles the session was granted, before expansion (after key limits / read-only). */
  rawRoles: readonly string[];
  /** Expanded roles (transitive closure, STIG-filtered). */
  roles: ReadonlySet<string>;
  /** FULL_ADMIN outside STIG: every method and event allowed. */
  fullAdmin: boolean;
  /** Names of the methods this session may call (ignored when fullAdmin). */
  allowedMethods: ReadonlySet<string>;
  /** account_attributes beyond the computed ones: OTPW, PASSWORD_CHANGE_REQUIRED, API_KEY, 2FA… */
  attributes: string[];
  webShell: boolean;
  webuiAccess: boolean;
  apiKeyId: number | null;
  /** Roles the API key was limited to (null: all of the owner's). Kept so tokens inherit them. */
  keyRoles?: readonly string[] | null;
  createdAt: number;
  expiresAt: number;
  /** Inactivity limit (LEVEL_2: 30 min); null = none. */
  idleMs?: number | null;
  lastSeen?: number;
  level?: AssuranceLevel;
  /** privilege.become_readonly was called. */
  readonly?: boolean;
  /** TOKEN sessions: hash of the token used, destroyed on logout. */
  tokenHash?: string | null;
  /** Not stored in the sessions table (one-shot HTTP calls). */
  ephemeral?: boolean;
  secureTransport: boolean;
  origin: string;
  /** Internal sessions (the server itself, break-glass CLI) are never redacted nor audited as users. */
  internal: boolean;
  /** Fingerprint of the account's password state at sign-in (./revalidate.ts credentialStamp). */
  credStamp?: string | null;
  /** Rights fixed at sign-in (directory users: from their directory groups), not recomputed. */
  grantFixed?: boolean;
  /** Change-feed stamp at which the session was last checked against its account (./service.ts). */
  checkedStamp?: string | null;
  /** The feed's view (src/store/own-commits.ts) at that check: null until a check read the store. */
  checkedView?: OwnCommitView | null;
  /** Ids of the account's groups (primary and auxiliary) as that check read them. */
  groupIds?: readonly number[];
  /** Password changes by this session on its own account in progress (it survives them). */
  ownPasswordChanges?: number;
}
