// Role catalogue: contents match reference §5.2 / seed 004, closures are right, STIG filtering.
// Run: node --import tsx --test src/access/roles.test.ts

import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { ALL_ROLE_NAMES, expandRoles, isFullAdmin, isRoleName, privilegeRolesList, ROLES, stigAllowedRoleNames, type RoleName } from "./roles.js";

const GATEHOUSE_ONLY = ["FLEET_READ", "FLEET_WRITE"];
const COMPOUND = ["FULL_ADMIN", "READONLY_ADMIN", "SHARING_ADMIN", "REPLICATION_ADMIN"];
const STIG_NULL = [
  "API_KEY_WRITE",
  "VM_WRITE",
  "VM_DEVICE_WRITE",
  "CONTAINER_WRITE",
  "CONTAINER_DEVICE_WRITE",
  "CONTAINER_IMAGE_WRITE",
  "LXC_CONFIG_WRITE",
  "DOCKER_WRITE",
  "APPS_WRITE",
  "CATALOG_WRITE",
  "TRUECOMMAND_WRITE",
  "TRUENAS_CONNECT_WRITE",
];
// Seed 004's individual-roles table, verbatim.
const SEED_004 = `ACCOUNT_READ ACCOUNT_WRITE API_KEY_READ API_KEY_WRITE AUTH_SESSIONS_READ AUTH_SESSIONS_WRITE
  BOOT_ENV_READ BOOT_ENV_WRITE CERTIFICATE_READ CERTIFICATE_WRITE CLOUD_BACKUP_READ CLOUD_BACKUP_WRITE
  CLOUD_SYNC_READ CLOUD_SYNC_WRITE CONTAINER_READ CONTAINER_WRITE CONTAINER_DEVICE_READ CONTAINER_DEVICE_WRITE
  CONTAINER_IMAGE_READ CONTAINER_IMAGE_WRITE LXC_CONFIG_READ LXC_CONFIG_WRITE DATASET_READ DATASET_WRITE
  DATASET_DELETE DIRECTORY_SERVICE_READ DIRECTORY_SERVICE_WRITE DISK_READ DISK_WRITE APPS_READ APPS_WRITE
  CATALOG_READ CATALOG_WRITE DOCKER_READ DOCKER_WRITE ENCLOSURE_READ ENCLOSURE_WRITE JBOF_READ JBOF_WRITE
  FAILOVER_READ FAILOVER_WRITE FILESYSTEM_ATTRS_READ FILESYSTEM_ATTRS_WRITE FILESYSTEM_DATA_READ
  FILESYSTEM_DATA_WRITE FILESYSTEM_FULL_CONTROL IPMI_READ IPMI_WRITE KEYCHAIN_CREDENTIAL_READ
  KEYCHAIN_CREDENTIAL_WRITE KMIP_READ KMIP_WRITE MAIL_WRITE NETWORK_GENERAL_READ NETWORK_GENERAL_WRITE
  NETWORK_INTERFACE_READ NETWORK_INTERFACE_WRITE POOL_READ POOL_WRITE POOL_SCRUB_READ POOL_SCRUB_WRITE
  PRIVILEGE_READ PRIVILEGE_WRITE REPLICATION_TASK_CONFIG_READ REPLICATION_TASK_CONFIG_WRITE
  REPLICATION_TASK_READ REPLICATION_TASK_WRITE REPLICATION_TASK_WRITE_PULL REPORTING_READ REPORTING_WRITE
  SERVICE_READ SERVICE_WRITE SHARING_FTP_READ SHARING_FTP_WRITE SHARING_ISCSI_READ SHARING_ISCSI_WRITE
  SHARING_ISCSI_AUTH_READ SHARING_ISCSI_AUTH_WRITE SHARING_ISCSI_EXTENT_READ SHARING_ISCSI_EXTENT_WRITE
  SHARING_ISCSI_GLOBAL_READ SHARING_ISCSI_GLOBAL_WRITE SHARING_ISCSI_HOST_READ SHARING_ISCSI_HOST_WRITE
  SHARING_ISCSI_INITIATOR_READ SHARING_ISCSI_INITIATOR_WRITE SHARING_ISCSI_PORTAL_READ SHARING_ISCSI_PORTAL_WRITE
  SHARING_ISCSI_TARGET_READ SHARING_ISCSI_TARGET_WRITE SHARING_ISCSI_TARGETEXTENT_READ
  SHARING_ISCSI_TARGETEXTENT_WRITE SHARING_NFS_READ SHARING_NFS_WRITE SHARING_NVME_TARGET_READ
  SHARING_NVME_TARGET_WRITE SHARING_SMB_READ SHARING_SMB_WRITE SHARING_WEBSHARE_READ SHARING_WEBSHARE_WRITE
  SHARING_READ SHARING_WRITE SNAPSHOT_READ SNAPSHOT_WRITE SNAPSHOT_DELETE SNAPSHOT_TASK_READ SNAPSHOT_TASK_WRITE
  SSH_READ SSH_WRITE SUPPORT_READ SUPPORT_WRITE SYSTEM_AUDIT_READ SYSTEM_AUDIT_WRITE SYSTEM_ADVANCED_READ
  SYSTEM_ADVANCED_WRITE SYSTEM_CRON_READ SYSTEM_CRON_WRITE SYSTEM_GENERAL_READ SYSTEM_GENERAL_WRITE
  SYSTEM_PRODUCT_READ SYSTEM_PRODUCT_WRITE SYSTEM_SECURITY_READ SYSTEM_SECURITY_WRITE SYSTEM_TUNABLE_READ
  SYSTEM_TUNABLE_WRITE SYSTEM_UPDATE_READ SYSTEM_UPDATE_WRITE TRUECOMMAND_READ TRUECOMMAND_WRITE
  TRUENAS_CONNECT_READ TRUENAS_CONNECT_WRITE VM_READ VM_WRITE VM_DEVICE_READ VM_DEVICE_WRITE
  ZFS_RESOURCE_READ ZFS_RESOURCE_WRITE ZFS_RESOURCE_DELETE`.split(/\s+/);
// §5.2 names that seed 004's table does not list.
const REFERENCE_EXTRA = ["ALERT_LIST_READ", "ALERT_LIST_WRITE", "ALERT_READ", "ALERT_WRITE"];

const names = (...xs: string[]) => new Set(xs);
const has = (set: ReadonlySet<string>, ...xs: string[]) => xs.every((x) => set.has(x));

test("catalogue: every reference/seed role, 146 appliance roles + Gatehouse's own", () => {
  for (const n of [...COMPOUND, ...SEED_004, ...REFERENCE_EXTRA, ...GATEHOUSE_ONLY]) {
    assert.ok(isRoleName(n), `${n} missing`);
  }
  const appliance = ALL_ROLE_NAMES.filter((n) => !GATEHOUSE_ONLY.includes(n));
  assert.equal(appliance.length, 146); // reference §5.1: "146 roles total (27.0)"
  assert.deepEqual(new Set(appliance), new Set([...COMPOUND, ...SEED_004, ...REFERENCE_EXTRA]), "no roles beyond the reference's");
  assert.equal(isRoleName("NOPE"), false);
  assert.equal(isRoleName(42), false);
  assert.equal(isRoleName("toString"), false);
});

test("builtin / stig / fullAdmin flags", () => {
  for (const n of ALL_ROLE_NAMES) {
    const def = ROLES[n];
    assert.equal(def.builtin, !COMPOUND.includes(n), n);
    assert.equal(def.stig, STIG_NULL.includes(n) ? null : "GPOS", n);
    assert.equal("fullAdmin" in def, n === "FULL_ADMIN", n);
  }
  assert.deepEqual(ROLES.FULL_ADMIN.includes, []);
  assert.ok(Object.isFrozen(ROLES) && Object.isFrozen(ROLES.ACCOUNT_WRITE) && Object.isFrozen(ROLES.SHARING_READ.includes));
});

test("every include names a known role; the only cycle is SYSTEM_PRODUCT_WRITE's self-include", () => {
  for (const n of ALL_ROLE_NAMES) {
    for (const inc of ROLES[n].includes) assert.ok(isRoleName(inc), `${n} includes unknown ${inc}`);
  }
  const selfIncluding = ALL_ROLE_NAMES.filter((n) => (ROLES[n].includes as readonly string[]).includes(n));
  assert.deepEqual(selfIncluding, ["SYSTEM_PRODUCT_WRITE"]);

  // Depth-first search for a back edge, ignoring the documented self-edge.
  const state = new Map<string, "active" | "done">();
  const visit = (n: RoleName, path: string[]): void => {
    if (state.get(n) === "done") return;
    assert.notEqual(state.get(n), "active", `cycle: ${[...path, n].join(" -> ")}`);
    state.set(n, "active");
    for (const inc of ROLES[n].includes as readonly RoleName[]) if (inc !== n) visit(inc, [...path, n]);
    state.set(n, "done");
  };
  for (const n of ALL_ROLE_NAMES) visit(n, []);
});

test("READONLY_ADMIN is computed: exactly the *_READ roles", () => {
  const reads = ALL_ROLE_NAMES.filter((n) => n.endsWith("_READ"));
  assert.deepEqual([...ROLES.READONLY_ADMIN.includes].sort(), [...reads].sort());
  assert.equal(reads.length, 68 + 1); // reference: 68, plus FLEET_READ
  assert.ok(reads.includes("FLEET_READ"));
});

test("closures", () => {
  const x = (r: string): ReadonlySet<string> => expandRoles([r]);
  assert.ok(has(x("ACCOUNT_WRITE"), "ACCOUNT_WRITE", "ACCOUNT_READ"));
  assert.deepEqual(x("ACCOUNT_READ"), names("ACCOUNT_READ"));

  // The convention: X_WRITE ⊇ X_READ, except the documented quirks and the two aggregates
  // (SHARING_WRITE / SHARING_ISCSI_WRITE name only the per-protocol write roles, so they reach
  // every per-protocol read role but not the SHARING_READ / SHARING_ISCSI_READ aggregate names).
  const quirks = ["SYSTEM_AUDIT", "SERVICE", "SYSTEM_PRODUCT", "SHARING", "SHARING_ISCSI"];
  for (const w of ALL_ROLE_NAMES.filter((n) => n.endsWith("_WRITE"))) {
    const r = w.replace(/_WRITE$/, "_READ");
    const area = w.replace(/_WRITE$/, "");
    if (!isRoleName(r)) continue;
    assert.equal(x(w).has(r), !quirks.includes(area), w);
  }
  assert.equal(x("SYSTEM_AUDIT_WRITE").has("SYSTEM_AUDIT_READ"), false);
  assert.equal(x("SERVICE_WRITE").has("SERVICE_READ"), false);
  assert.deepEqual(x("SYSTEM_PRODUCT_WRITE"), names("SYSTEM_PRODUCT_WRITE"));

  const readonly = x("READONLY_ADMIN");
  for (const n of ALL_ROLE_NAMES.filter((n) => n.endsWith("_READ"))) assert.ok(readonly.has(n), n);
  assert.ok(![...readonly].some((n) => /_(WRITE|DELETE)$|FULL_CONTROL/.test(n)), "READONLY_ADMIN grants no writes");

  const sharing = x("SHARING_ADMIN");
  for (const n of readonly) assert.ok(sharing.has(n), `SHARING_ADMIN lacks ${n}`);
  assert.ok(has(sharing, "DATASET_WRITE", "ZFS_RESOURCE_WRITE", "FILESYSTEM_ATTRS_WRITE", "SHARING_SMB_WRITE", "SHARING_ISCSI_PORTAL_WRITE"));
  for (const no of ["ACCOUNT_WRITE", "SERVICE_WRITE", "POOL_WRITE", "REPLICATION_TASK_WRITE", "FULL_ADMIN"]) {
    assert.equal(sharing.has(no), false, `SHARING_ADMIN must not have ${no}`);
  }

  const sharingWrite = x("SHARING_WRITE");
  const sharingRead = x("SHARING_READ");
  for (const n of ALL_ROLE_NAMES) {
    if (/^SHARING_.+_WRITE$/.test(n)) assert.ok(sharingWrite.has(n), `SHARING_WRITE lacks ${n}`);
    if (/^SHARING_.+_READ$/.test(n)) assert.ok(sharingRead.has(n), `SHARING_READ lacks ${n}`);
  }

  assert.deepEqual(
    x("REPLICATION_ADMIN"),
    names(
      "REPLICATION_ADMIN",
      "KEYCHAIN_CREDENTIAL_WRITE",
      "KEYCHAIN_CREDENTIAL_READ",
      "REPLICATION_TASK_CONFIG_WRITE",
      "REPLICATION_TASK_CONFIG_READ",
      "REPLICATION_TASK_WRITE",
      "REPLICATION_TASK_READ",
      "SNAPSHOT_TASK_WRITE",
      "SNAPSHOT_TASK_READ",
      "SNAPSHOT_WRITE",
      "SNAPSHOT_READ",
    ),
  );
  assert.ok(has(x("REPLICATION_TASK_WRITE_PULL"), "REPLICATION_TASK_WRITE", "REPLICATION_TASK_READ"));
  assert.ok(has(x("POOL_WRITE"), "POOL_READ", "POOL_SCRUB_WRITE", "POOL_SCRUB_READ"));
  assert.ok(has(x("FILESYSTEM_FULL_CONTROL"), "FILESYSTEM_ATTRS_READ", "FILESYSTEM_DATA_READ"));
  assert.deepEqual(x("ALERT_WRITE"), names("ALERT_WRITE", "ALERT_LIST_WRITE", "ALERT_READ", "ALERT_LIST_READ"));
  assert.deepEqual(x("VM_DEVICE_WRITE"), names("VM_DEVICE_WRITE", "VM_WRITE", "VM_DEVICE_READ", "VM_READ"));
  assert.deepEqual(x("FLEET_WRITE"), names("FLEET_WRITE", "FLEET_READ"));
  assert.deepEqual(x("DATASET_DELETE"), names("DATASET_DELETE"));

  // FULL_ADMIN: a wildcard, and its expansion names every role (auth.me lists them all).
  assert.deepEqual(x("FULL_ADMIN"), new Set(ALL_ROLE_NAMES));
  assert.equal(isFullAdmin(x("FULL_ADMIN"), false), true);
  assert.equal(isFullAdmin(x("SHARING_ADMIN"), false), false);
});

test("STIG: stig-null roles dropped, FULL_ADMIN is the STIG-allowed set and no wildcard", () => {
  const stig = { stig: true };
  const full: ReadonlySet<string> = expandRoles(["FULL_ADMIN"], stig);
  // (Before the deepEqual below: node's strict deepEqual is an assertion signature that narrows
  // `full` to Set<RoleName>, after which has(string) no longer type-checks.)
  for (const n of STIG_NULL) assert.equal(full.has(n), false, n);
  assert.deepEqual(full, new Set(ALL_ROLE_NAMES.filter((n) => !STIG_NULL.includes(n))));
  assert.deepEqual([...full].sort(), [...stigAllowedRoleNames()].sort());
  assert.ok(full.has("FULL_ADMIN"), "the session still holds FULL_ADMIN (e.g. for redaction)");
  assert.equal(isFullAdmin(full, true), false);

  // An unavailable write role keeps the read roles it includes.
  assert.deepEqual(expandRoles(["VM_DEVICE_WRITE"], stig), names("VM_DEVICE_READ", "VM_READ"));
  assert.deepEqual(expandRoles(["APPS_WRITE"], stig), names("APPS_READ", "CATALOG_READ"));
  assert.deepEqual(expandRoles(["API_KEY_WRITE", "ACCOUNT_WRITE"], stig), names("API_KEY_READ", "ACCOUNT_WRITE", "ACCOUNT_READ"));

  // The other compound roles are unaffected (reference: "GPOS STIG has no effect on this role").
  for (const r of ["READONLY_ADMIN", "SHARING_ADMIN", "REPLICATION_ADMIN"]) {
    assert.deepEqual(expandRoles([r], stig), expandRoles([r]), r);
  }
});

test("expandRoles: unions, ignores unknown names, returns read-only sets", () => {
  assert.equal(expandRoles([]).size, 0);
  assert.equal(expandRoles(["NOPE", ""]).size, 0);
  assert.deepEqual(expandRoles(["ACCOUNT_WRITE", "NOPE", "SSH_READ"]), names("ACCOUNT_WRITE", "ACCOUNT_READ", "SSH_READ"));
  assert.deepEqual(expandRoles(new Set(["ACCOUNT_READ", "ACCOUNT_READ"])), names("ACCOUNT_READ"));
  for (const s of [expandRoles(["ACCOUNT_WRITE"]), expandRoles(["ACCOUNT_WRITE", "SSH_READ"]), expandRoles([])]) {
    assert.throws(() => (s as Set<string>).add("FULL_ADMIN"), TypeError);
    assert.throws(() => (s as Set<string>).clear(), TypeError);
  }
  assert.equal(expandRoles(["ACCOUNT_WRITE"]).has("FULL_ADMIN"), false);
});

test("expandRoles properties (fast-check)", () => {
  const anyNames = fc.array(fc.oneof(fc.constantFrom(...ALL_ROLE_NAMES), fc.string()), { maxLength: 8 });
  fc.assert(
    fc.property(anyNames, fc.boolean(), (input, stig) => {
      const out = expandRoles(input, { stig });
      // Union of the single-role closures.
      const union = new Set<string>();
      for (const r of input) for (const n of expandRoles([r], { stig })) union.add(n);
      assert.deepEqual(out, union);
      // Idempotent, and the input's known STIG-allowed roles are in the output.
      assert.deepEqual(expandRoles(out, { stig }), out);
      for (const r of input) if (isRoleName(r) && (!stig || ROLES[r].stig)) assert.ok(out.has(r));
      // STIG never adds anything and never yields an unavailable role.
      if (stig) {
        const plain = expandRoles(input);
        for (const n of out) assert.ok(plain.has(n) && ROLES[n].stig !== null, n);
      }
    }),
    { numRuns: 500 },
  );
});

test("privilegeRolesList: privilege.roles rows, compound roles first", () => {
  const rows = privilegeRolesList();
  assert.equal(rows.length, ALL_ROLE_NAMES.length);
  assert.deepEqual(
    rows.slice(0, 4).map((r) => r.name),
    COMPOUND,
  );
  assert.ok(rows.slice(0, 4).every((r) => r.builtin === false));
  assert.ok(rows.slice(4).every((r) => r.builtin === true));
  for (const r of rows) {
    assert.deepEqual(Object.keys(r).sort(), ["builtin", "includes", "name", "stig", "title"]);
    assert.equal(r.title, r.name);
    assert.deepEqual(r.includes, [...ROLES[r.name].includes]);
  }
  const ro = rows.find((r) => r.name === "READONLY_ADMIN")!;
  assert.deepEqual(
    ro.includes,
    ALL_ROLE_NAMES.filter((n) => n.endsWith("_READ")),
  );
  assert.deepEqual(rows.find((r) => r.name === "SYSTEM_PRODUCT_WRITE")!.includes, ["SYSTEM_PRODUCT_WRITE"]);
  assert.equal(rows.find((r) => r.name === "DOCKER_WRITE")!.stig, null);
  // Rows are copies: editing one leaves the catalogue alone.
  ro.includes.length = 0;
  assert.ok(privilegeRolesList().find((r) => r.name === "READONLY_ADMIN")!.includes.length > 0);
  // JSON-safe (goes straight onto the wire).
  assert.deepEqual(JSON.parse(JSON.stringify(rows[1])), rows[1]);
});
