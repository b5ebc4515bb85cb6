// certificateauthority.* (issue 12): PEM parsed and checked, shown with subject, issuer, expiry
// and fingerprint; garbage and non-CA certificates refused with a field error; roles.

import { after, before, it } from "node:test";
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { rootCertificates } from "node:tls";
import { clientWithRoles, forEachStore, rpcError, type TestServer } from "./harness.js";
import { startAsAdmin } from "./auth-helpers.js";
import { makeCa, makeCaPem, makeServerCert } from "./test-certs.js";
import { caPemById, trustedCas } from "../src/directory/certificate-authorities.js";
import type { RpcClient } from "../src/cli/client.js";

forEachStore("certificate authorities", (store) => {
  let ts: TestServer;
  let a: RpcClient;
  before(async () => ({ ts, a } = await startAsAdmin(store)));
  after(() => ts.stop());

  it("import shows subject, issuer, expiry and fingerprint; query and delete; trust list", async () => {
    const pem = makeCaPem("Import Test CA");
    const ca = await a.call<any>("certificateauthority.import", { name: "corp", certificate: pem });
    const x = new X509Certificate(pem);
    assert.equal(ca.name, "corp");
    assert.equal(ca.subject, "CN=Import Test CA");
    assert.equal(ca.issuer, "CN=Import Test CA");
    assert.equal(ca.fingerprint, x.fingerprint256);
    assert.equal(ca.not_after.getTime(), new Date(x.validTo).getTime());
    assert.equal(ca.expired, false);
    const listed = await a.call<any[]>("certificateauthority.query", [["fingerprint", "=", x.fingerprint256]]);
    assert.equal(listed.length, 1);
    assert.equal((await caPemById(ts.app.store.db, ca.id))?.trim(), pem.trim());
    const trust = await trustedCas(ts.app.store.db);
    assert.equal(trust.length, rootCertificates.length + 1);
    const dup = await rpcError(a.call("certificateauthority.import", { name: "corp2", certificate: pem }));
    assert.equal(dup.codes[0], "certificateauthority.duplicate");
    assert.equal(await a.call("certificateauthority.delete", ca.id), true);
    assert.equal(await caPemById(ts.app.store.db, ca.id), null);
    const gone = await rpcError(a.call("certificateauthority.delete", ca.id));
    assert.equal(gone.codes[0], "certificateauthority.not_found");
  });

  it("a CA that verifies a fleet system stays until the system stops naming it", async () => {
    const ca = await a.call<any>("certificateauthority.import", { name: "fleet-ca", certificate: makeCaPem() });
    const db = ts.app.store.db as any;
    const now = Date.now();
    const sys = await db
      .insertInto("fleet_systems")
      .values({ name: "sys-with-ca", url: "wss://sys.example.test/api/current", api_key: "x", verify_ssl: 1, ca: ca.id, created_at: now, updated_at: now })
      .returning("id")
      .executeTakeFirstOrThrow();
    const e = await rpcError(a.call("certificateauthority.delete", ca.id));
    assert.equal(e.codes?.[0] ?? e.data?.code, "certificateauthority.in_use");
    await db.deleteFrom("fleet_systems").where("id", "=", sys.id).execute();
    assert.equal(await a.call("certificateauthority.delete", ca.id), true);
  });

  it("refuses garbage, two certificates and a non-CA certificate with a field error", async () => {
    for (const certificate of ["hello", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----", `${makeCaPem()}${makeCaPem()}`]) {
      const e = await rpcError(a.call("certificateauthority.import", { name: "bad", certificate }));
      assert.equal(e.extra[0][0], "certificateauthority_import.certificate");
      assert.equal(e.codes[0], "certificateauthority.invalid_pem");
    }
    const dir = mkdtempSync(path.join(os.tmpdir(), "gatehouse-leaf-"));
    try {
      const leaf = makeServerCert(dir, makeCa(dir, "Leaf Issuer")).pem;
      const e = await rpcError(a.call("certificateauthority.import", { name: "leaf", certificate: leaf }));
      assert.equal(e.codes[0], "certificateauthority.not_a_ca");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("CERTIFICATE_READ may list but not import or delete", async () => {
    const { client } = await clientWithRoles(ts, ["CERTIFICATE_READ"]);
    assert.ok(Array.isArray(await client.call("certificateauthority.query")));
    const e = await rpcError(client.call("certificateauthority.import", { name: "x", certificate: makeCaPem() }));
    assert.equal(e.errname, "EACCES");
  });
});
