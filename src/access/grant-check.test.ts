// Unit tests of the grant rules (the server-level tests are in test/security/escalation*.test.ts).

import { test } from "node:test";
import assert from "node:assert/strict";
import { assertMayActOn, assertMayGrant, mayActAsSelf, type Caller } from "./grant-check.js";
import { expandRoles } from "./roles.js";
import { privilegeDelta } from "../accounts/privilege-write.js";
import { grantDelta, type AccountGrant } from "../accounts/grant-delta.js";

const caller = (raw: string[], extra: Partial<Caller> = {}): Caller => ({ roles: expandRoles(raw), internal: false, username: "c", ...extra });
const eperm = (fn: () => void) => assert.throws(fn, (e: any) => e.errname === "EPERM");

test("assertMayGrant: held roles pass, others and FULL_ADMIN needs are refused; the server itself may", () => {
  assertMayGrant(caller(["ACCOUNT_WRITE"]), { gained: ["ACCOUNT_READ"], lost: ["ACCOUNT_WRITE"] });
  assert.throws(() => assertMayGrant(caller(["ACCOUNT_WRITE"]), { gained: expandRoles(["FULL_ADMIN"]) }), /FULL_ADMIN/);
  assert.throws(() => assertMayGrant(caller(["ACCOUNT_WRITE"]), { gained: [], lost: ["READONLY_ADMIN"] }), /take away READONLY_ADMIN/);
  assert.throws(
    () => assertMayGrant(caller(["ACCOUNT_WRITE"]), { gained: [], fullAdmin: [{ attr: "x.sudo_commands", what: "setting sudo rights" }] }),
    /x.sudo_commands: setting sudo rights requires the FULL_ADMIN role/,
  );
  assertMayGrant(caller(["FULL_ADMIN"]), { gained: expandRoles(["FULL_ADMIN"]), fullAdmin: [{ attr: "a", what: "b" }] });
  assertMayGrant(null, { gained: ["FULL_ADMIN"] });
  assertMayGrant(caller([], { internal: true }), { gained: ["FULL_ADMIN"] });
});

test("assertMayActOn: every role of the target must be held", () => {
  assertMayActOn(caller(["READONLY_ADMIN"]), expandRoles(["ACCOUNT_READ"]), "user u");
  assert.throws(() => assertMayActOn(caller(["ACCOUNT_WRITE"]), ["FULL_ADMIN"], "user admin"), /acting on user admin requires FULL_ADMIN/);
  eperm(() => assertMayActOn(caller(["ACCOUNT_WRITE"]), expandRoles(["READONLY_ADMIN"]), "user ro"));
});

test("mayActAsSelf: not for key-limited or read-only sessions", () => {
  assert.equal(mayActAsSelf(caller(["READONLY_ADMIN"], { apiKeyId: null })), true);
  assert.equal(mayActAsSelf(caller(["READONLY_ADMIN"], { apiKeyId: 3 })), false);
  assert.equal(mayActAsSelf(caller(["READONLY_ADMIN"], { readonly: true })), false);
});

test("privilegeDelta: roles added, all roles when a group joins, losses when roles or groups leave", () => {
  const p = (roles: string[], local_groups: number[], ds_groups: (number | string)[] = [], web_shell = false) => ({ roles, local_groups, ds_groups, web_shell });
  const set = (x: Iterable<string> | undefined) => new Set(x ?? []);
  // Created with groups: every role.
  assert.ok(set(privilegeDelta(null, p(["READONLY_ADMIN"], [1000]), false, "a").gained).has("ACCOUNT_READ"));
  // Created without any group: still counted (nobody parks a role).
  assert.ok(set(privilegeDelta(null, p(["FULL_ADMIN"], []), false, "a").gained).has("FULL_ADMIN"));
  // A group joins: every role, even unchanged ones.
  assert.ok(set(privilegeDelta(p(["FULL_ADMIN"], [1]), p(["FULL_ADMIN"], [1, 2]), false, "a").gained).has("FULL_ADMIN"));
  assert.ok(set(privilegeDelta(p(["FULL_ADMIN"], []), p(["FULL_ADMIN"], [], ["S-1-5-1"]), false, "a").gained).has("FULL_ADMIN"));
  // Rename only: nothing.
  const same = privilegeDelta(p(["FULL_ADMIN"], [1]), p(["FULL_ADMIN"], [1]), false, "a");
  assert.equal(set(same.gained).size + set(same.lost).size, 0);
  // A group leaves: every role is lost by its members.
  assert.ok(set(privilegeDelta(p(["READONLY_ADMIN"], [1, 2]), p(["READONLY_ADMIN"], [1]), false, "a").lost).has("ACCOUNT_READ"));
  // Deleted: lost; without groups nobody loses anything.
  assert.ok(set(privilegeDelta(p(["FULL_ADMIN"], [1]), null, false, "a").lost).has("FULL_ADMIN"));
  assert.equal(set(privilegeDelta(p(["FULL_ADMIN"], []), null, false, "a").lost).size, 0);
  // Web shell turned on, or a group joining a web-shell privilege: FULL_ADMIN.
  assert.equal(privilegeDelta(p([], [1]), p([], [1], [], true), false, "a").fullAdmin?.length, 1);
  assert.equal(privilegeDelta(p([], [1], [], true), p([], [1, 2], [], true), false, "a").fullAdmin?.length, 1);
  assert.equal(privilegeDelta(p([], [1], [], true), p([], [1], [], true), false, "a").fullAdmin?.length, 0);
});

test("grantDelta: roles and host powers gained and lost per account; a deleted account loses all", () => {
  const g = (roles: string[], powers: [string, string][] = []): AccountGrant => ({ roles: expandRoles(roles), powers: new Map(powers), root: false });
  const d = grantDelta(
    new Map([
      [1, g(["ACCOUNT_READ"])],
      [2, g(["READONLY_ADMIN"], [["sudo:user:x", "sudo rights"]])],
    ]),
    new Map([[1, g(["ACCOUNT_WRITE"])]]),
    "attr",
  );
  assert.deepEqual([...d.gained], ["ACCOUNT_WRITE"]);
  assert.ok(new Set(d.lost).has("READONLY_ADMIN"));
  assert.deepEqual(d.fullAdmin, [{ attr: "attr", what: "taking away sudo rights" }]);
});
