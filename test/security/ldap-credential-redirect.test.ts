// Stored directory credentials redirected (issue 12): a caller who may edit LDAP servers but can
// never read the bind password must not make Gatehouse send it to a host of their choosing — by
// changing the hostname, the TLS mode or the bind DN, or by turning certificate verification off
// (on a saved server or through ldap.server.test with its id). The password itself is never
// returned, filtered or sorted on, and never lands in the audit trail.

import { after, before, it } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { clientWithRoles, forEachStore, rpcError, type TestServer } from "../harness.js";
import { startAsAdmin } from "../auth-helpers.js";
import type { RpcClient } from "../../src/cli/client.js";

const SECRET = "bind-secret-Xy7";

forEachStore("ldap credential redirect", (store) => {
  let ts: TestServer;
  let a: RpcClient;
  let writer: RpcClient;
  let id: number;
  before(async () => {
    ({ ts, a } = await startAsAdmin(store));
    ({ client: writer } = await clientWithRoles(ts, ["DIRECTORY_SERVICE_WRITE"]));
    id = (
      await a.call<any>("ldap.server.create", { hostname: "ldap.example.test:636", domain: "dc=example,dc=test", bind_dn: "cn=reader,dc=example,dc=test", bind_password: SECRET, verify_ssl: true })
    ).id;
  });
  after(() => ts.stop());

  it("changing host, TLS mode or bind DN, or turning verification off, needs the password again", async () => {
    for (const change of [{ hostname: "attacker.test:636" }, { security: "STARTTLS" }, { bind_dn: "cn=other,dc=example,dc=test" }, { verify_ssl: false }]) {
      const e = await rpcError(writer.call("ldap.server.update", id, change));
      assert.deepEqual([e.extra[0][0], e.codes[0]], ["ldap_server_update.bind_password", "ldap.bind_password_required"], JSON.stringify(change));
      const t = await rpcError(writer.call("ldap.server.test", { id, ...change }));
      assert.deepEqual([t.extra[0][0], t.codes[0]], ["ldap_server_test.bind_password", "ldap.bind_password_required"], JSON.stringify(change));
    }
    // Unchanged host: other fields change freely, the password stays.
    const ok = await writer.call<any>("ldap.server.update", id, { timeout: 7, hostname: "LDAP.example.test:636" });
    assert.equal(ok.bind_password_set, true);
    // With the password given again the change is the caller's own credential, not the stored one.
    const moved = await writer.call<any>("ldap.server.update", id, { hostname: "other.example.test:636", bind_password: "a-new-one" });
    assert.equal(moved.hostname, "other.example.test:636");
    await a.call("ldap.server.update", id, { hostname: "ldap.example.test:636", bind_password: SECRET });
  });

  it("the test of a changed host never receives the stored password", async () => {
    // A listener standing in for the attacker's server: it must see no connection at all.
    let connections = 0;
    const trap = net.createServer((s) => {
      connections++;
      s.destroy();
    });
    await new Promise<void>((r) => trap.listen(0, "127.0.0.1", r));
    try {
      const port = (trap.address() as net.AddressInfo).port;
      await rpcError(writer.call("ldap.server.test", { id, hostname: `127.0.0.1:${port}`, verify_ssl: false }));
      assert.equal(connections, 0);
    } finally {
      await new Promise<void>((r) => trap.close(() => r()));
    }
  });

  it("the bind password is never returned, filtered on, or audited", async () => {
    const [entry] = await writer.call<any[]>("ldap.server.query", [["id", "=", id]]);
    assert.equal("bind_password" in entry, false);
    assert.equal(JSON.stringify(entry).includes(SECRET), false);
    const f = await rpcError(writer.call("ldap.server.query", [["bind_password", "=", SECRET]]));
    assert.equal(f.errname, "EPERM");
    const rows = await ts.app.store.db.selectFrom("audit").select("event_data").execute();
    assert.equal(
      rows.some((r) => String(r.event_data).includes(SECRET)),
      false,
    );
    const stored = await ts.app.store.db.selectFrom("ldap_servers").select("bind_password").where("id", "=", id).executeTakeFirstOrThrow();
    assert.ok(stored.bind_password && !stored.bind_password.includes(SECRET), "sealed at rest");
  });
});
