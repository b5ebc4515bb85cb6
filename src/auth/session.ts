// The authenticated identity behind a connection. Sessions are rows in the store (so every server
// process sharing a PostgreSQL accepts them); this object is the in-process view with the
// caller's expanded roles and the precomputed set of methods they may call.

export type CredentialType =
  | "LOGIN_PASSWORD"
  | "LOGIN_TWOFACTOR"
  | "LOGIN_ONETIME_PASSWORD"
  | "API_KEY"
  | "TOKEN"
  | "UNIX_SOCKET"
  | "INTERNAL";

export interface Session {
  id: string;
  credentials: CredentialType;
  credentialsData: Record<string, unknown>;
  userId: number | null;
  username: string;
  uid: number | null;
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
  createdAt: number;
  expiresAt: number;
  secureTransport: boolean;
  origin: string;
  /** Internal sessions (the server itself, break-glass CLI) are never redacted nor audited as users. */
  internal: boolean;
}
