// LDAP injection (issue 12): a login name is user input placed in an LDAP filter (indirect bind)
// or a DN (direct bind). Filter metacharacters (`*`, `)(uid=*`), NUL, and DN separators
// (`,cn=admin`, a whole DN with commas) must stay literal characters of one value: none of these
// attempts authenticates, against a real slapd, with direct and with indirect bind — and none
// creates a local record. The escaping itself is checked against RFC 4515 / RFC 4514 examples.

import { after, before, it } from "node:test";
import assert from "node:assert/strict";
import { forEachStore, type TestServer } from "../harness.js";
import { startAsAdmin } from "../auth-helpers.js";
import { BASE_DN, BIND_DN, BIND_PASSWORD, GROUPS_DN, PEOPLE, PEOPLE_DN, startSlapd, type Slapd } from "../slapd-harness.js";
import { escapeDnValue, escapeFilterValue, normalizeDn } from "../../src/directory/ldap-escape.js";
import type { RpcClient } from "../../src/cli/client.js";

let slapd: Slapd;
before(async () => {
  slapd = await startSlapd();
});
after(async () => {
  await slapd?.stop();
});

it("escaping follows RFC 4515 (filters) and RFC 4514 (DNs)", () => {
  assert.equal(escapeFilterValue("*"), "\\2a");
  assert.equal(escapeFilterValue(")(uid=*"), "\\29\\28uid=\\2a");
  assert.equal(escapeFilterValue("a\u0000b\\c"), "a\\00b\\5cc");
  assert.equal(escapeFilterValue("Lučić"), "Lučić");
  assert.equal(escapeDnValue("Smith, John"), "Smith\\, John");
  assert.equal(escapeDnValue("alice,cn=admin"), "alice\\,cn\\=admin");
  assert.equal(escapeDnValue(" #lead"), "\\ #lead");
  assert.equal(escapeDnValue("#x "), "\\#x\\ ");
  assert.equal(escapeDnValue('a+b"<c>;'), 'a\\+b\\"\\<c\\>\\;');
  assert.equal(escapeDnValue("nul\u0000"), "nul\\00");
  // Full-DN matching: same first RDN in another branch is another group.
  assert.notEqual(normalizeDn("cn=staff,ou=groups,dc=x"), normalizeDn("cn=staff,ou=elsewhere,dc=x"));
  assert.equal(normalizeDn("CN=Staff , OU=Groups,dc=X"), normalizeDn("cn=staff,ou=groups,dc=x"));
  assert.equal(normalizeDn("cn=Smith\\2C John,dc=x"), normalizeDn("cn=smith\\, john,dc=x"));
});

/** Login names that must never authenticate, each with a password that would be right for a real account. */
const ATTEMPTS: [string, string][] = [
  ["*", PEOPLE.alice.password],
  ["*", "*"],
  [")(uid=*", PEOPLE.alice.password],
  ["alice)(uid=*", PEOPLE.alice.password],
  ["*)(|(uid=*", "x"],
  ["alice\u0000", PEOPLE.alice.password],
  ["\\00", PEOPLE.alice.password],
  ["alice\\2a", PEOPLE.alice.password],
  ["alice,cn=admin", "adminpw"],
  [`x,cn=admin,${BASE_DN}`, "adminpw"],
  [`alice,${PEOPLE_DN}`, PEOPLE.alice.password],
  ["reader,ou=system", BIND_PASSWORD],
  ["al*", PEOPLE.alice.password],
  ["alice", ""],
  ["", PEOPLE.alice.password],
];

forEachStore("ldap injection", (store) => {
  let ts: TestServer;
  let a: RpcClient;
  before(async () => {
    ({ ts, a } = await startAsAdmin(store));
    await a.call("ldap.update", { allow_user_creation: true });
    // Every directory account could sign in if it authenticated (a role through gidNumber 100).
    await a.call("privilege.create", { name: "ldap-all", ds_groups: [100], roles: ["READONLY_ADMIN"], web_shell: false });
  });
  after(() => ts.stop());

  const modes: [string, Record<string, unknown>][] = [
    ["direct bind", { domain: PEOPLE_DN, bind_dn: "", bind_password: "" }],
    ["indirect bind", { domain: BASE_DN, bind_dn: BIND_DN, bind_password: BIND_PASSWORD }],
    ["indirect bind, anonymous search", { domain: BASE_DN, bind_dn: BIND_DN, bind_password: "" }],
  ];
  for (const [mode, fields] of modes) {
    it(`filter and DN injection never authenticates (${mode})`, async () => {
      for (const s of await a.call<any[]>("ldap.server.query")) await a.call("ldap.server.delete", s.id);
      await a.call("ldap.server.create", { hostname: `127.0.0.1:${slapd.ldapsPort}`, group_domain: GROUPS_DN, connect_timeout: 2, timeout: 5, ...fields });
      for (const [username, password] of ATTEMPTS) {
        const c = await ts.client();
        const r = await c.login(username, password).catch((e) => ({ response_type: `ERROR ${e.message}` }));
        await c.close();
        assert.equal(r.response_type, "AUTH_ERR", `${JSON.stringify(username)} / ${JSON.stringify(password)}`);
      }
      // The real account still works (the attempts were refused for what they are, not by an outage).
      const c = await ts.client();
      assert.equal((await c.login("alice", PEOPLE.alice.password)).response_type, "SUCCESS");
      await c.close();
      const made = await a.call<any[]>("user.query", [["source", "=", "LDAP"]]);
      assert.deepEqual(
        made.map((u) => u.username),
        ["alice"],
      );
      await a.call("user.delete", made[0].id, { delete_group: true });
    });
  }
});
