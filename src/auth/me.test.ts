import { test } from "node:test";
import assert from "node:assert/strict";
import type { App } from "../app.js";
import { buildMe, type MeProfile } from "./me.js";
import { SECURITY_DEFAULTS } from "./policy.js";
import { WireSet } from "../server/ejson.js";
import type { Session } from "./session.js";
import { testSession } from "../../test/session-fixtures.js";

const profile: MeProfile = {
  id: 7,
  username: "u7",
  full_name: "U",
  home: "/var/empty",
  shell: "/usr/sbin/nologin",
  uid: 3000,
  gid: 3000,
  source: "LOCAL",
  password_disabled: 0,
  last_password_change: null,
  twofactor_secret: null,
  twofactor_email: 0,
  twofactor_digits: 6,
  twofactor_interval: 30,
  attributes: null,
};

function session(roles: ReadonlySet<string>, methods: ReadonlySet<string>): Session {
  return testSession({ userId: 7, username: "u7", uid: 3000, rawRoles: [...roles], roles, allowedMethods: methods, ephemeral: undefined });
}

// Everything buildMe needs is handed to it: no store.
const app = {} as App;
const me = (s: Session) => buildMe(app, s, { sec: SECURITY_DEFAULTS, profile }) as Promise<any>;

test("auth.me privilege: sorted roles and allowlist per role/method set, frozen, so no caller changes the next one's", async () => {
  const roles = new Set(["SHARING_READ", "ACCOUNT_READ", "READONLY_ADMIN"]);
  const methods = new Set(["user.query", "group.query", "auth.me"]);
  const a = await me(session(roles, methods));
  assert.ok(a.privilege.roles instanceof WireSet, "roles travel as a set");
  assert.deepEqual(a.privilege.roles.items, ["ACCOUNT_READ", "READONLY_ADMIN", "SHARING_READ"], "sorted roles");
  assert.deepEqual(
    a.privilege.allowlist,
    ["auth.me", "group.query", "user.query"].map((m) => ({ method: "CALL", resource: m })),
    "sorted allowlist",
  );

  // A caller cannot change the next one's answer: the shared lists are frozen (not copied per answer).
  assert.throws(() => a.privilege.roles.items.push("X"), TypeError);
  assert.throws(() => a.privilege.allowlist.pop(), TypeError);
  assert.throws(() => {
    a.privilege.allowlist[0].resource = "core.set_options";
  }, TypeError);
  const b = await me(session(roles, methods));
  assert.deepEqual(b.privilege.roles.items, ["ACCOUNT_READ", "READONLY_ADMIN", "SHARING_READ"], "roles unchanged for the next caller");
  assert.equal(b.privilege.allowlist.length, 3, "allowlist unchanged for the next caller");

  // Other sets (new privileges give new sets) give their own lists.
  const c = await me(session(new Set(["ACCOUNT_READ"]), new Set(["user.query"])));
  assert.deepEqual(c.privilege.roles.items, ["ACCOUNT_READ"]);
  assert.deepEqual(c.privilege.allowlist, [{ method: "CALL", resource: "user.query" }]);

  const full = (await buildMe(app, { ...session(roles, methods), fullAdmin: true }, { sec: SECURITY_DEFAULTS, profile })) as any;
  assert.deepEqual(full.privilege.allowlist, [{ method: "*", resource: "*" }], "FULL_ADMIN: the wildcard");
  assert.deepEqual(full.attributes, {}, "no attributes row: {}");
  assert.equal(full.pw_gid, 3000);
});

test("auth.me without a primary group answers ENOENT, as the joined read did", async () => {
  await assert.rejects(buildMe(app, session(new Set(), new Set()), { sec: SECURITY_DEFAULTS, profile: { ...profile, gid: null } }), /User does not exist/);
});
