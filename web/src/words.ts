// Words for people (issue 14 point 7): every internal identifier the UI shows — roles, credential
// types, audit events and services, mail kinds and states, job states, LDAP security, fleet access
// levels — has its words here, in one place, instead of `SYS_ADMIN` or "Token via Token" on screen.
// Screens show the words and keep the identifier at hand for an administrator (a tooltip, see
// `Term` in ui.tsx). Error codes have their sentences in messages.ts. test/ui-messages.test.ts
// checks that every role and every listed identifier reads as words.

/** The compound roles by the names the reference's UI gives them. */
export const ROLE_LABELS: Record<string, string> = {
  FULL_ADMIN: "Full administrator",
  READONLY_ADMIN: "Read-only administrator",
  SHARING_ADMIN: "Sharing administrator",
  REPLICATION_ADMIN: "Replication administrator",
};

/** What a role's area is called (the part before _READ / _WRITE); others are read word by word. */
const AREAS: Record<string, string> = {
  ACCOUNT: "accounts",
  ALERT: "alerts",
  APPS: "apps",
  BOOT_ENV: "boot environments",
  CATALOG: "the app catalog",
  CLOUD_BACKUP: "cloud backups",
  CLOUD_SYNC: "cloud sync tasks",
  CONTAINER: "containers",
  CONTAINER_DEVICE: "container devices",
  CONTAINER_IMAGE: "container images",
  DATASET: "datasets",
  DISK: "disks",
  DOCKER: "Docker",
  ENCLOSURE: "enclosures",
  LXC_CONFIG: "LXC settings",
  NETWORK_GENERAL: "network settings",
  NETWORK_INTERFACE: "network interfaces",
  POOL: "pools",
  POOL_SCRUB: "pool scrubs",
  SERVICE: "services",
  SNAPSHOT: "snapshots",
  SNAPSHOT_TASK: "snapshot tasks",
  SSH: "SSH settings",
  SYSTEM_ADVANCED: "advanced settings",
  SYSTEM_CRON: "cron jobs",
  SYSTEM_GENERAL: "general settings",
  SYSTEM_PRODUCT: "product information",
  SYSTEM_TUNABLE: "tunables",
  SYSTEM_UPDATE: "updates",
  VM: "virtual machines",
  VM_DEVICE: "virtual machine devices",
  SHARING_ISCSI: "iSCSI sharing",
  SHARING_ISCSI_AUTH: "iSCSI authorized access",
  SHARING_ISCSI_EXTENT: "iSCSI extents",
  SHARING_ISCSI_GLOBAL: "iSCSI global settings",
  SHARING_ISCSI_HOST: "iSCSI hosts",
  SHARING_ISCSI_INITIATOR: "iSCSI initiators",
  SHARING_ISCSI_PORTAL: "iSCSI portals",
  SHARING_ISCSI_TARGET: "iSCSI targets",
  SHARING_ISCSI_TARGETEXTENT: "iSCSI target extents",
  SHARING_NVME_TARGET: "NVMe targets",
  SHARING_SMB: "SMB shares",
  SHARING_NFS: "NFS shares",
  SHARING_FTP: "FTP sharing",
  SHARING_WEBSHARE: "WebShare",
  API_KEY: "API keys",
  AUTH_SESSIONS: "sessions",
  CERTIFICATE: "certificates",
  DIRECTORY_SERVICE: "directory services",
  FILESYSTEM_ATTRS: "file permissions",
  FILESYSTEM_DATA: "file contents",
  FILESYSTEM: "files",
  FLEET: "the fleet",
  KEYCHAIN_CREDENTIAL: "keychain credentials",
  MAIL: "mail settings",
  PRIVILEGE: "privileges",
  REPLICATION_TASK_CONFIG: "replication settings",
  REPLICATION_TASK: "replication tasks",
  SHARING: "all shares",
  SYSTEM_SECURITY: "security settings",
  SYSTEM_AUDIT: "audit settings",
  TRUECOMMAND: "TrueCommand",
  TRUENAS_CONNECT: "TrueNAS Connect",
  ZFS_RESOURCE: "ZFS resources",
};
const ACRONYMS: Record<string, string> = {
  API: "API",
  SMB: "SMB",
  NFS: "NFS",
  FTP: "FTP",
  IPMI: "IPMI",
  KMIP: "KMIP",
  JBOF: "JBOF",
  LXC: "LXC",
  VM: "VM",
  SSH: "SSH",
  ISCSI: "iSCSI",
  NVME: "NVMe",
  ZFS: "ZFS",
  TLS: "TLS",
  LDAP: "LDAP",
};
const VERBS: Record<string, string> = { READ: "View", WRITE: "Manage", DELETE: "Delete", FULL_CONTROL: "Full control of", WRITE_PULL: "Manage pull" };

/** An identifier read word by word: "NETWORK_GENERAL" → "network general", acronyms kept. */
export function humanize(id: string): string {
  return id
    .split(/[_\s]+/)
    .filter(Boolean)
    .map((w) => ACRONYMS[w.toUpperCase()] ?? w.toLowerCase())
    .join(" ");
}

const capital = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

/** A role in words: "ACCOUNT_READ" → "View accounts", "SHARING_SMB_WRITE" → "Manage SMB sharing". */
export function roleName(r: string): string {
  if (ROLE_LABELS[r]) return ROLE_LABELS[r];
  for (const suffix of ["WRITE_PULL", "FULL_CONTROL", "READ", "WRITE", "DELETE"]) {
    if (!r.endsWith(`_${suffix}`)) continue;
    const area = r.slice(0, -suffix.length - 1);
    const sharing = area.startsWith("SHARING_") ? `${humanize(area.slice(8))} sharing` : null;
    const alert = area === "ALERT_LIST" ? "the alert list" : null;
    return `${VERBS[suffix]} ${AREAS[area] ?? sharing ?? alert ?? humanize(area)}`;
  }
  return capital(humanize(r));
}

export function roleText(roles: readonly string[] | undefined): string {
  if (!roles?.length) return "—";
  return roles.map(roleName).join(", ");
}

export const CREDENTIAL_LABELS: Record<string, string> = {
  LOGIN_PASSWORD: "Password",
  LOGIN_TWOFACTOR: "Password and authenticator code",
  LOGIN_ONETIME_PASSWORD: "One-time password",
  API_KEY: "API key",
  TOKEN: "Sign-in link (token)",
  UNIX_SOCKET: "Local connection",
  INTERNAL: "The server itself",
};

/**
 * How a session signed in: a token session says what it continues ("Token via Token" read as
 * nonsense), an API-key session names its key.
 */
export function credentialText(cred: string, keyName?: string | null, parent?: string | null): string {
  const base = words("credential", cred);
  const withKey = keyName ? `${base} “${keyName}”` : base;
  if (!parent) return withKey;
  const first = words("credential", parent).toLowerCase();
  if (cred === "TOKEN") return parent === "TOKEN" ? "Continued session" : `Continued session, first signed in with ${first}`;
  return `${withKey}, from a session signed in with ${first}`;
}

const TABLES = {
  role: {} as Record<string, string>,
  credential: CREDENTIAL_LABELS,
  auditEvent: { METHOD_CALL: "Action", AUTHENTICATION: "Sign-in", LOGOUT: "Sign-out", ESCALATION: "Privilege escalation" },
  auditService: { MIDDLEWARE: "Gatehouse", SMB: "SMB file sharing", SUDO: "Sudo on the host", SYSTEM: "System" },
  mailKind: { VERIFY_EMAIL: "Email address check", LOGIN_CODE: "Sign-in code", PASSWORD_RESET: "Password reset code", PASSWORD_CHANGED: "Password changed notice" },
  mailState: { PENDING: "Waiting to be sent", SENT: "Sent", FAILED: "Failed", DROPPED: "Not sent (no longer needed)" },
  jobState: { WAITING: "Waiting", RUNNING: "Running", SUCCESS: "Done", FAILED: "Failed", ABORTED: "Cancelled" },
  ldapSecurity: { LDAPS: "LDAPS (TLS from the start)", STARTTLS: "StartTLS (TLS after connecting)" },
  access: { NONE: "None", READ: "Read", READ_WRITE: "Read/write" },
  accountAttribute: {
    LOCAL: "Local account",
    DIRECTORY_SERVICE: "Directory account",
    LDAP: "From LDAP",
    SYS_ADMIN: "Built-in administrator",
    "2FA": "Authenticator code",
    OTPW: "One-time password",
    PASSWORD_CHANGE_REQUIRED: "Must choose a new password",
    API_KEY: "API key",
  },
} satisfies Record<string, Record<string, string>>;

export type TermKind = keyof typeof TABLES;

/** The signed-in account's attributes (auth.me) in two phrases: what account, how signed in. */
export function accountAttributeText(attrs: readonly string[]): { account: string; signedIn: string } {
  const has = (a: string) => attrs.includes(a);
  const kind = has("LOCAL") ? "Local account" : has("DIRECTORY_SERVICE") || has("LDAP") ? "Directory account (LDAP)" : "Account";
  const account = has("SYS_ADMIN") ? `${kind}, built-in administrator` : kind;
  const how = has("API_KEY") ? "API key" : has("OTPW") ? "One-time password" : has("2FA") ? "Password and authenticator code" : "Password";
  return { account, signedIn: has("PASSWORD_CHANGE_REQUIRED") ? `${how} (must choose a new password)` : how };
}

/** The words for an identifier of a kind; an identifier not listed is read word by word. */
export function words(kind: TermKind, id: string | null | undefined): string {
  if (id === null || id === undefined || id === "") return "—";
  if (kind === "role") return roleName(id);
  return (TABLES[kind] as Record<string, string>)[id] ?? capital(humanize(id));
}

/** Every identifier listed per kind (the test reads them). */
export const LISTED_TERMS: Record<TermKind, readonly string[]> = Object.fromEntries(Object.entries(TABLES).map(([k, t]) => [k, Object.keys(t)])) as unknown as Record<TermKind, readonly string[]>;
