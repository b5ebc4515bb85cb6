// The role catalogue (reference §5.1/§5.2, seed 004) plus Gatehouse's own roles, as constant data.
//
// A role is a name that API methods declare they need; roles *include* other roles, expanded
// transitively. `builtin: true` marks the fine-grained per-method roles, `builtin: false` the four
// compound roles that privileges are normally built from (and that grant web UI access).
// `stig: null` marks roles that are unavailable under GPOS STIG mode.
//
// Closures are computed once at module load into frozen sets, so an authorization check is a
// Set lookup (the stack check measured ~4000× faster than a policy engine for this shape).

import type { z } from "zod";
import type { RoleRowSchema } from "./schemas.js";

export interface RoleDef<Name extends string = string> {
  /** Roles this one grants as well, as declared (expanded transitively by expandRoles). */
  readonly includes: readonly Name[];
  /** true: fine-grained per-method role; false: one of the four compound roles. */
  readonly builtin: boolean;
  /** STIG profile that allows the role; null = unavailable under GPOS STIG. */
  readonly stig: "GPOS" | null;
  /** Unrestricted access (FULL_ADMIN only). */
  readonly fullAdmin?: true;
  /** Display title; privilege.roles reports the name (the appliance's title = name). */
  readonly title?: string;
}

// Helpers keep the catalogue to one line per role. The `const` type parameter keeps the included
// names as string literals, so a typo in an include is a compile error (see UnknownIncludes below).
const role = <const I extends readonly string[]>(...includes: I) => ({ includes, builtin: true, stig: "GPOS" }) as const;
/** A role that GPOS STIG mode makes unavailable. */
const noStig = <const I extends readonly string[]>(...includes: I) => ({ includes, builtin: true, stig: null }) as const;

// The iSCSI sub-areas; SHARING_ISCSI_READ/WRITE aggregate all of them.
const ISCSI_SUBS = ["AUTH", "EXTENT", "GLOBAL", "HOST", "INITIATOR", "PORTAL", "TARGET", "TARGETEXTENT"] as const;
type IscsiSub = (typeof ISCSI_SUBS)[number];
const iscsi = <S extends "READ" | "WRITE">(suffix: S) => ISCSI_SUBS.map((sub) => `SHARING_ISCSI_${sub}_${suffix}` as `SHARING_ISCSI_${IscsiSub}_${S}`);

/**
 * Every fine-grained role. Convention: `<AREA>_WRITE` includes `<AREA>_READ`; the exceptions are
 * spelled out where they occur, because they are faithful copies of the appliance's quirks.
 */
const INDIVIDUAL_ROLES = {
  ACCOUNT_READ: role(),
  ACCOUNT_WRITE: role("ACCOUNT_READ"),
  ALERT_LIST_READ: role(),
  ALERT_LIST_WRITE: role("ALERT_LIST_READ"),
  ALERT_READ: role("ALERT_LIST_READ"),
  ALERT_WRITE: role("ALERT_LIST_WRITE", "ALERT_READ"),
  API_KEY_READ: role(),
  API_KEY_WRITE: noStig("API_KEY_READ"),
  APPS_READ: role("CATALOG_READ"),
  APPS_WRITE: noStig("CATALOG_WRITE", "APPS_READ"),
  AUTH_SESSIONS_READ: role(),
  AUTH_SESSIONS_WRITE: role("AUTH_SESSIONS_READ"),
  BOOT_ENV_READ: role(),
  BOOT_ENV_WRITE: role("BOOT_ENV_READ"),
  CATALOG_READ: role(),
  CATALOG_WRITE: noStig("CATALOG_READ"),
  CERTIFICATE_READ: role(),
  CERTIFICATE_WRITE: role("CERTIFICATE_READ"),
  CLOUD_BACKUP_READ: role(),
  CLOUD_BACKUP_WRITE: role("CLOUD_BACKUP_READ"),
  CLOUD_SYNC_READ: role(),
  CLOUD_SYNC_WRITE: role("CLOUD_SYNC_READ"),
  CONTAINER_READ: role(),
  CONTAINER_WRITE: noStig("CONTAINER_READ"),
  CONTAINER_DEVICE_READ: role("CONTAINER_READ"),
  CONTAINER_DEVICE_WRITE: noStig("CONTAINER_WRITE", "CONTAINER_DEVICE_READ"),
  CONTAINER_IMAGE_READ: role(),
  CONTAINER_IMAGE_WRITE: noStig("CONTAINER_IMAGE_READ"),
  DATASET_READ: role(),
  DATASET_WRITE: role("DATASET_READ"),
  DATASET_DELETE: role(), // separate delete role: includes nothing
  DIRECTORY_SERVICE_READ: role(),
  DIRECTORY_SERVICE_WRITE: role("DIRECTORY_SERVICE_READ"),
  DISK_READ: role(),
  DISK_WRITE: role("DISK_READ"),
  DOCKER_READ: role(),
  DOCKER_WRITE: noStig("DOCKER_READ"),
  ENCLOSURE_READ: role(),
  ENCLOSURE_WRITE: role("ENCLOSURE_READ"),
  FAILOVER_READ: role(),
  FAILOVER_WRITE: role("FAILOVER_READ"),
  FILESYSTEM_ATTRS_READ: role(),
  FILESYSTEM_ATTRS_WRITE: role("FILESYSTEM_ATTRS_READ"),
  FILESYSTEM_DATA_READ: role(),
  FILESYSTEM_DATA_WRITE: role("FILESYSTEM_DATA_READ"),
  FILESYSTEM_FULL_CONTROL: role("FILESYSTEM_ATTRS_WRITE", "FILESYSTEM_DATA_WRITE"),
  IPMI_READ: role(),
  IPMI_WRITE: role("IPMI_READ"),
  JBOF_READ: role(),
  JBOF_WRITE: role("JBOF_READ"),
  KEYCHAIN_CREDENTIAL_READ: role(),
  KEYCHAIN_CREDENTIAL_WRITE: role("KEYCHAIN_CREDENTIAL_READ"),
  KMIP_READ: role(),
  KMIP_WRITE: role("KMIP_READ"),
  LXC_CONFIG_READ: role(),
  LXC_CONFIG_WRITE: noStig("LXC_CONFIG_READ"),
  MAIL_WRITE: role(), // there is no MAIL_READ
  NETWORK_GENERAL_READ: role(),
  NETWORK_GENERAL_WRITE: role("NETWORK_GENERAL_READ"),
  NETWORK_INTERFACE_READ: role(),
  NETWORK_INTERFACE_WRITE: role("NETWORK_INTERFACE_READ"),
  POOL_READ: role("POOL_SCRUB_READ"),
  POOL_WRITE: role("POOL_READ", "POOL_SCRUB_WRITE"),
  POOL_SCRUB_READ: role(),
  POOL_SCRUB_WRITE: role("POOL_SCRUB_READ"),
  PRIVILEGE_READ: role(),
  PRIVILEGE_WRITE: role("PRIVILEGE_READ"),
  REPLICATION_TASK_CONFIG_READ: role(),
  REPLICATION_TASK_CONFIG_WRITE: role("REPLICATION_TASK_CONFIG_READ"),
  REPLICATION_TASK_READ: role(),
  REPLICATION_TASK_WRITE: role("REPLICATION_TASK_READ"),
  REPLICATION_TASK_WRITE_PULL: role("REPLICATION_TASK_WRITE"),
  REPORTING_READ: role(),
  REPORTING_WRITE: role("REPORTING_READ"),
  SERVICE_READ: role(),
  SERVICE_WRITE: role(), // quirk: does not include SERVICE_READ
  SHARING_FTP_READ: role(),
  SHARING_FTP_WRITE: role("SHARING_FTP_READ"),
  SHARING_ISCSI_AUTH_READ: role(),
  SHARING_ISCSI_AUTH_WRITE: role("SHARING_ISCSI_AUTH_READ"),
  SHARING_ISCSI_EXTENT_READ: role(),
  SHARING_ISCSI_EXTENT_WRITE: role("SHARING_ISCSI_EXTENT_READ"),
  SHARING_ISCSI_GLOBAL_READ: role(),
  SHARING_ISCSI_GLOBAL_WRITE: role("SHARING_ISCSI_GLOBAL_READ"),
  SHARING_ISCSI_HOST_READ: role(),
  SHARING_ISCSI_HOST_WRITE: role("SHARING_ISCSI_HOST_READ"),
  SHARING_ISCSI_INITIATOR_READ: role(),
  SHARING_ISCSI_INITIATOR_WRITE: role("SHARING_ISCSI_INITIATOR_READ"),
  SHARING_ISCSI_PORTAL_READ: role(),
  SHARING_ISCSI_PORTAL_WRITE: role("SHARING_ISCSI_PORTAL_READ"),
  SHARING_ISCSI_TARGET_READ: role(),
  SHARING_ISCSI_TARGET_WRITE: role("SHARING_ISCSI_TARGET_READ"),
  SHARING_ISCSI_TARGETEXTENT_READ: role(),
  SHARING_ISCSI_TARGETEXTENT_WRITE: role("SHARING_ISCSI_TARGETEXTENT_READ"),
  SHARING_ISCSI_READ: role(...iscsi("READ")),
  SHARING_ISCSI_WRITE: role(...iscsi("WRITE")),
  SHARING_NFS_READ: role(),
  SHARING_NFS_WRITE: role("SHARING_NFS_READ"),
  SHARING_NVME_TARGET_READ: role(),
  SHARING_NVME_TARGET_WRITE: role("SHARING_NVME_TARGET_READ"),
  SHARING_SMB_READ: role(),
  SHARING_SMB_WRITE: role("SHARING_SMB_READ"),
  SHARING_WEBSHARE_READ: role(),
  SHARING_WEBSHARE_WRITE: role("SHARING_WEBSHARE_READ"),
  // The aggregates name the per-protocol roles directly (not SHARING_*_READ via a wildcard), as
  // the appliance does; the iSCSI sub-roles arrive through SHARING_ISCSI_READ/WRITE.
  SHARING_READ: role("SHARING_ISCSI_READ", "SHARING_NFS_READ", "SHARING_NVME_TARGET_READ", "SHARING_SMB_READ", "SHARING_FTP_READ", "SHARING_WEBSHARE_READ"),
  SHARING_WRITE: role("SHARING_ISCSI_WRITE", "SHARING_NFS_WRITE", "SHARING_NVME_TARGET_WRITE", "SHARING_SMB_WRITE", "SHARING_FTP_WRITE", "SHARING_WEBSHARE_WRITE"),
  SNAPSHOT_READ: role(),
  SNAPSHOT_WRITE: role("SNAPSHOT_READ"),
  SNAPSHOT_DELETE: role(), // separate delete role: includes nothing
  SNAPSHOT_TASK_READ: role(),
  SNAPSHOT_TASK_WRITE: role("SNAPSHOT_TASK_READ"),
  SSH_READ: role(),
  SSH_WRITE: role("SSH_READ"),
  SUPPORT_READ: role(),
  SUPPORT_WRITE: role("SUPPORT_READ"),
  SYSTEM_ADVANCED_READ: role(),
  SYSTEM_ADVANCED_WRITE: role("SYSTEM_ADVANCED_READ"),
  SYSTEM_AUDIT_READ: role(),
  SYSTEM_AUDIT_WRITE: role(), // quirk: does not include SYSTEM_AUDIT_READ
  SYSTEM_CRON_READ: role(),
  SYSTEM_CRON_WRITE: role("SYSTEM_CRON_READ"),
  SYSTEM_GENERAL_READ: role(),
  SYSTEM_GENERAL_WRITE: role("SYSTEM_GENERAL_READ"),
  SYSTEM_PRODUCT_READ: role(),
  // Quirk kept for wire compatibility (privilege.roles shows it): includes *itself*, not READ.
  SYSTEM_PRODUCT_WRITE: role("SYSTEM_PRODUCT_WRITE"),
  SYSTEM_SECURITY_READ: role(),
  SYSTEM_SECURITY_WRITE: role("SYSTEM_SECURITY_READ"),
  SYSTEM_TUNABLE_READ: role(),
  SYSTEM_TUNABLE_WRITE: role("SYSTEM_TUNABLE_READ"),
  SYSTEM_UPDATE_READ: role(),
  SYSTEM_UPDATE_WRITE: role("SYSTEM_UPDATE_READ"),
  TRUECOMMAND_READ: role(),
  TRUECOMMAND_WRITE: noStig("TRUECOMMAND_READ"),
  TRUENAS_CONNECT_READ: role(),
  TRUENAS_CONNECT_WRITE: noStig("TRUENAS_CONNECT_READ"),
  VM_READ: role(),
  VM_WRITE: noStig("VM_READ"),
  VM_DEVICE_READ: role("VM_READ"),
  VM_DEVICE_WRITE: noStig("VM_WRITE", "VM_DEVICE_READ"),
  ZFS_RESOURCE_READ: role(),
  ZFS_RESOURCE_WRITE: role("ZFS_RESOURCE_READ"),
  ZFS_RESOURCE_DELETE: role(), // separate delete role: includes nothing

  // ---- Gatehouse's own roles (not on the appliance) -------------------------------------------
  // Fleet management (fleet.system.*, fleet.system_group.*, team.*, fleet.access.explain).
  // FLEET_READ ends in _READ, so READONLY_ADMIN picks it up like every other read role.
  FLEET_READ: role(),
  FLEET_WRITE: role("FLEET_READ"),
} as const satisfies Record<string, RoleDef>;

type IndividualRoleName = keyof typeof INDIVIDUAL_ROLES;
type ReadRoleName = Extract<IndividualRoleName, `${string}_READ`>;

/** READONLY_ADMIN is defined by a rule, not a list: every role whose name ends in `_READ`. */
const READ_ROLES = Object.keys(INDIVIDUAL_ROLES).filter((n): n is ReadRoleName => n.endsWith("_READ"));

/**
 * The whole catalogue. The four compound roles come first, which is also the order
 * privilege.roles lists them in. Their contents are the appliance's (reference §5.2, seed 004).
 */
export const ROLES = {
  FULL_ADMIN: { includes: [], builtin: false, stig: "GPOS", fullAdmin: true },
  READONLY_ADMIN: { includes: READ_ROLES, builtin: false, stig: "GPOS" },
  SHARING_ADMIN: {
    includes: ["READONLY_ADMIN", "DATASET_WRITE", "SHARING_WRITE", "ZFS_RESOURCE_WRITE", "FILESYSTEM_ATTRS_WRITE", "SERVICE_READ"],
    builtin: false,
    stig: "GPOS",
  },
  REPLICATION_ADMIN: {
    includes: ["KEYCHAIN_CREDENTIAL_WRITE", "REPLICATION_TASK_CONFIG_WRITE", "REPLICATION_TASK_WRITE", "SNAPSHOT_TASK_WRITE", "SNAPSHOT_WRITE"],
    builtin: false,
    stig: "GPOS",
  },
  ...INDIVIDUAL_ROLES,
} as const satisfies Record<string, RoleDef>;

export type RoleName = keyof typeof ROLES;

// Compile-time guarantee that every include names a real role: this alias fails to type-check
// if any `includes` entry is not a RoleName.
type IncludedName<R> = R extends { readonly includes: readonly (infer I)[] } ? I : never;
type AssertNever<T extends never> = T;
export type _NoUnknownIncludes = AssertNever<Exclude<IncludedName<(typeof ROLES)[RoleName]>, RoleName>>;

// Deep-freeze the data: it is shared by every request and must not be edited at run time.
for (const def of Object.values(ROLES)) {
  Object.freeze(def.includes);
  Object.freeze(def);
}
Object.freeze(ROLES);

/** Every role name, compound roles first, then the catalogue order. */
export const ALL_ROLE_NAMES: readonly RoleName[] = Object.freeze(Object.keys(ROLES) as RoleName[]);

const NAME_SET: ReadonlySet<string> = new Set(ALL_ROLE_NAMES);

/** A role's definition seen through the common interface (the literal types differ per role). */
function defOf(name: RoleName): RoleDef<RoleName> {
  return ROLES[name];
}

export function isRoleName(s: unknown): s is RoleName {
  return typeof s === "string" && NAME_SET.has(s);
}

// ---------------------------------------------------------------------------------------------
// Closures

/** A Set that throws on mutation, so a shared precomputed closure cannot be altered by a caller
 *  that casts away ReadonlySet. */
function frozenSet<T>(values: Iterable<T>): ReadonlySet<T> {
  const set = new Set(values);
  const refuse = (): never => {
    throw new TypeError("role sets are read-only");
  };
  Object.defineProperties(set, {
    add: { value: refuse },
    delete: { value: refuse },
    clear: { value: refuse },
  });
  return Object.freeze(set);
}

/** Transitive closure of one role (itself included). The visited set makes the self-including
 *  SYSTEM_PRODUCT_WRITE, or any other cycle, terminate. */
function closureOf(name: RoleName): Set<RoleName> {
  const seen = new Set<RoleName>();
  const stack: RoleName[] = [name];
  while (stack.length > 0) {
    const next = stack.pop()!;
    if (seen.has(next)) continue;
    seen.add(next);
    stack.push(...defOf(next).includes);
  }
  return seen;
}

const isStigAllowed = (n: RoleName) => defOf(n).stig !== null;
const STIG_ALLOWED_NAMES = ALL_ROLE_NAMES.filter(isStigAllowed);

/**
 * Closure of each role, normal mode. FULL_ADMIN's closure is every role: it is still a wildcard
 * (see isFullAdmin) but also answers `has(X)` for any X, and auth.me lists every role for it.
 */
const CLOSURE: ReadonlyMap<RoleName, ReadonlySet<RoleName>> = new Map(ALL_ROLE_NAMES.map((n) => [n, frozenSet(defOf(n).fullAdmin ? ALL_ROLE_NAMES : closureOf(n))]));

/**
 * Closure of each role under GPOS STIG: stig-null roles are dropped from the result (a write role
 * that is unavailable still leaves the read roles it includes), and FULL_ADMIN is no wildcard but
 * exactly the STIG-allowed roles, so methods that declare no role become unreachable.
 */
const STIG_CLOSURE: ReadonlyMap<RoleName, ReadonlySet<RoleName>> = new Map(ALL_ROLE_NAMES.map((n) => [n, frozenSet([...CLOSURE.get(n)!].filter(isStigAllowed))]));

const EMPTY: ReadonlySet<RoleName> = frozenSet([]);

/**
 * The roles a set of granted roles amounts to: the union of their transitive closures. Unknown
 * names are ignored (a stored privilege may name a role a later version dropped).
 */
export function expandRoles(roles: Iterable<string>, opts: { stig?: boolean } = {}): ReadonlySet<RoleName> {
  const table = opts.stig ? STIG_CLOSURE : CLOSURE;
  let single: ReadonlySet<RoleName> | undefined;
  let union: Set<RoleName> | undefined;
  for (const r of roles) {
    const closure = isRoleName(r) ? table.get(r)! : undefined;
    if (!closure || closure === single) continue;
    // Common case — one role — returns the shared precomputed set without copying.
    if (!single) {
      single = closure;
      continue;
    }
    union ??= new Set(single);
    for (const n of closure) union.add(n);
  }
  if (union) return frozenSet(union);
  return single ?? EMPTY;
}

/**
 * Whether an expanded role set is the unrestricted wildcard: it holds FULL_ADMIN and STIG is off.
 * Under STIG, FULL_ADMIN is only the union of the STIG-allowed roles and is checked like any other
 * role set. (Whether the session *holds* FULL_ADMIN — e.g. for secret redaction — is
 * `expanded.has("FULL_ADMIN")`.)
 */
export function isFullAdmin(expanded: ReadonlySet<string>, stig: boolean): boolean {
  return !stig && expanded.has("FULL_ADMIN");
}

/** Roles a GPOS STIG session may hold at all. */
export function stigAllowedRoleNames(): readonly RoleName[] {
  return STIG_ALLOWED_NAMES;
}

/**
 * One row of `privilege.roles`: RoleRowSchema's shape, with the role names narrowed to the
 * catalogue's (the schema says string, as the wire does).
 */
export type PrivilegeRoleRow = Omit<z.infer<typeof RoleRowSchema>, "name" | "includes"> & { name: RoleName; includes: RoleName[] };

/**
 * The `privilege.roles` result: `{name, title (= name), includes (as declared; READONLY_ADMIN's
 * is the computed *_READ list), builtin, stig}`, compound roles first. Fresh objects each call,
 * so callers may filter, sort or serialise them freely.
 */
export function privilegeRolesList(): PrivilegeRoleRow[] {
  return ALL_ROLE_NAMES.map((name) => {
    const def = defOf(name);
    return { name, title: name, includes: [...def.includes], builtin: def.builtin, stig: def.stig };
  });
}
