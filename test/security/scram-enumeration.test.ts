// Threat: using the SCRAM login to learn which API keys exist, or to get in without the key — by
// comparing the server-first answers for real and made-up key ids (RFC 5802 §5.1 mock), by
// replaying a client-final message seen on another connection, or by relaying an exchange
// through a man in the middle whose certificate differs (channel binding). Also: SCRAM failures
// count in the same login limiter as PLAIN. Real servers (plain and TLS listeners) on both stores.

import { after, before, it } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createHash, createHmac, pbkdf2Sync, randomBytes, randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { TLSSocket } from "node:tls";
import WebSocket from "ws";
import { forEachStore, loginAdmin, setUpAdmin, startServer, type TestServer } from "../harness.js";
import { RpcClient } from "../../src/cli/client.js";

const b64 = (b: Buffer) => b.toString("base64");
const hmac = (k: Buffer, m: string | Buffer) => createHmac("sha512", k).update(m).digest();

/** A raw JSON-RPC WebSocket: `login(step, text)` sends one SCRAM step and answers its result. */
async function open(url: string): Promise<{ ws: WebSocket; login: (type: string, text: string) => Promise<any>; binding: () => Buffer; close: () => void }> {
  const ws = new WebSocket(url, { rejectUnauthorized: false });
  await new Promise((r, j) => (ws.once("open", r), ws.once("error", j)));
  const login = (type: string, text: string) =>
    new Promise<any>((resolve) => {
      const id = randomUUID();
      const onMsg = (d: WebSocket.RawData) => {
        const f = JSON.parse(d.toString());
        if (f.id !== id) return;
        ws.off("message", onMsg);
        resolve(f.error ? { error: f.error } : f.result);
      };
      ws.on("message", onMsg);
      ws.send(JSON.stringify({ jsonrpc: "2.0", id, method: "auth.login_ex", params: [{ mechanism: "SCRAM", scram_type: type, rfc_str: text }] }));
    });
  const binding = () => {
    const raw = (ws as unknown as { _socket: TLSSocket })._socket.getPeerCertificate().raw;
    return createHash("sha256").update(raw).digest(); // the test certificate is sha256WithRSAEncryption
  };
  return { ws, login, binding, close: () => ws.close() };
}

/** client-first → server-first; then the client-final for `material` (or garbage) and a binding. */
async function firstStep(c: Awaited<ReturnType<typeof open>>, user: string, keyId: number | string, gs2 = "n") {
  const cnonce = randomBytes(32);
  const bare = `n=${user}:${keyId},r=${b64(cnonce)}`;
  const sf = await c.login("CLIENT_FIRST_MESSAGE", `${gs2},,${bare}`);
  return { bare, sf };
}

function clientFinal(bare: string, serverFirst: string, material: string, gs2 = "n", cb: Buffer = Buffer.alloc(0)): string {
  const [, r, s, i] = /^r=([^,]+),s=([^,]+),i=(\d+)$/.exec(serverFirst)!;
  const salted = pbkdf2Sync(material, Buffer.from(s!, "base64"), Number(i), 64, "sha512");
  const clientKey = hmac(salted, "Client Key");
  const storedKey = createHash("sha512").update(clientKey).digest();
  const noProof = `c=${b64(Buffer.concat([Buffer.from(`${gs2},,`), cb]))},r=${r}`;
  const sig = hmac(storedKey, `${bare},${serverFirst},${noProof}`);
  return `${noProof},p=${b64(Buffer.from(clientKey.map((x, k) => x ^ sig[k]!)))}`;
}

let certDir: string;
before(() => {
  certDir = mkdtempSync(path.join(os.tmpdir(), "gatehouse-scram-sec-"));
  execFileSync(
    "openssl",
    ["req", "-x509", "-newkey", "rsa:2048", "-sha256", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1", "-keyout", path.join(certDir, "key.pem"), "-out", path.join(certDir, "cert.pem")],
    { stdio: "ignore" },
  );
});
after(() => rmSync(certDir, { recursive: true, force: true }));

forEachStore("SCRAM: key enumeration, replay and relay", (store) => {
  let ts: TestServer;
  let tls: TestServer;
  let admin: RpcClient;
  let tlsAdmin: RpcClient;
  let key: { id: number; key: string };
  let tlsKey: { id: number; key: string };
  const material = (k: { key: string }) => k.key.slice(k.key.indexOf("-") + 1);
  before(async () => {
    ts = await startServer({ store });
    tls = await startServer({ store, config: { tlsCert: path.join(certDir, "cert.pem"), tlsKey: path.join(certDir, "key.pem") } });
    admin = await ts.adminClient();
    key = await admin.call("api_key.create", { name: "enum", username: "admin" });
    tlsAdmin = await RpcClient.connect(`wss://127.0.0.1:${tls.port}/api/current`, { rejectUnauthorized: false });
    await setUpAdmin(tlsAdmin);
    await loginAdmin(tlsAdmin);
    tlsKey = await tlsAdmin.call("api_key.create", { name: "relay", username: "admin" });
  });
  after(async () => {
    await tlsAdmin?.close();
    await ts?.stop();
    await tls?.stop();
  });

  it("known and unknown key ids (and others' keys, revoked keys, keys without a record) answer alike until the proof", async () => {
    const revoked = await admin.call("api_key.create", { name: "enum-revoked", username: "admin" });
    await admin.call("api_key.revoke", revoked.id, null);
    const legacy = await admin.call("api_key.create", { name: "enum-legacy", username: "admin" });
    await ts.app.store.db.updateTable("api_keys").set({ iterations: null, salt: null, stored_key: null, server_key: null }).where("id", "=", legacy.id).execute();
    const c = await open(ts.url);
    try {
      const shapes = new Set<string>();
      const saltsOf = new Map<string, string[]>();
      for (const [label, user, id] of [
        ["known", "admin", key.id],
        ["unknown", "admin", 555_555],
        ["other user's name", "root", key.id],
        ["no such user", "nobody", 777_777],
        ["revoked", "admin", revoked.id],
        ["no SCRAM record", "admin", legacy.id],
      ] as const) {
        for (let n = 0; n < 2; n++) {
          const { bare, sf } = await firstStep(c, user, id);
          assert.equal(sf.response_type, "SCRAM_RESPONSE", label);
          const [, r, s, i] = /^r=([^,]+),s=([^,]+),i=(\d+)$/.exec(sf.rfc_str)!;
          // Same lengths, same alphabet, same iterations: nothing tells a mock from a real record.
          shapes.add(`${r!.length}|${s!.length}|${/^[A-Za-z0-9./]{16}$/.test(Buffer.from(s!, "base64").toString("latin1"))}|${i}|${Object.keys(sf).sort().join(",")}|${sf.user_info}`);
          saltsOf.set(label, [...(saltsOf.get(label) ?? []), s!]);
          const fin = await c.login("CLIENT_FINAL_MESSAGE", clientFinal(bare, sf.rfc_str, "x".repeat(64)));
          assert.deepEqual(fin, { response_type: "AUTH_ERR" }, label);
        }
      }
      assert.equal(shapes.size, 1, [...shapes].join(" / "));
      for (const [label, salts] of saltsOf) assert.equal(salts[0], salts[1], `${label}: the salt is stable across asks`);
    } finally {
      c.close();
    }
  });

  it("a replayed client-final message is refused, on its own connection and on another", async () => {
    const a = await open(ts.url);
    const b = await open(ts.url);
    try {
      const { bare, sf } = await firstStep(a, "admin", key.id);
      const final = clientFinal(bare, sf.rfc_str, material(key));
      assert.equal((await a.login("CLIENT_FINAL_MESSAGE", final)).scram_type, "SERVER_FINAL_RESPONSE");
      // The same final again on the same connection: no exchange pending.
      const again = await a.login("CLIENT_FINAL_MESSAGE", final);
      assert.equal(again.error?.data?.error, 14);
      // On another connection, after a client-first with the same client nonce: a new server nonce.
      const sf2 = await b.login("CLIENT_FIRST_MESSAGE", `n,,${bare}`);
      assert.notEqual(sf2.rfc_str, sf.rfc_str);
      assert.deepEqual(await b.login("CLIENT_FINAL_MESSAGE", final), { response_type: "AUTH_ERR" });
      // And a final message whose r= was rewritten to the new nonce fails its proof.
      const newR = /^r=([^,]+)/.exec(sf2.rfc_str)![1];
      await b.login("CLIENT_FIRST_MESSAGE", `n,,${bare}`).then(async (sf3) => {
        const r3 = /^r=([^,]+)/.exec(sf3.rfc_str)![1];
        const forged = final.replace(/,r=[^,]+,/, `,r=${r3},`);
        assert.notEqual(r3, newR);
        assert.deepEqual(await b.login("CLIENT_FINAL_MESSAGE", forged), { response_type: "AUTH_ERR" });
      });
    } finally {
      a.close();
      b.close();
    }
  });

  it("channel binding: another certificate's binding, a downgrade to unbound, and binding over ws:// are refused", async () => {
    const wss = `wss://127.0.0.1:${tls.port}/api/current`;
    const c = await open(wss);
    try {
      // A relay (man in the middle) presents its own certificate: the client binds to that one.
      const relayCert = createHash("sha256").update("the relay's certificate").digest();
      let { bare, sf } = await firstStep(c, "admin", tlsKey.id, "p=tls-server-end-point");
      assert.deepEqual(await c.login("CLIENT_FINAL_MESSAGE", clientFinal(bare, sf.rfc_str, material(tlsKey), "p=tls-server-end-point", relayCert)), { response_type: "AUTH_ERR" });
      // Bound first step, unbound final (downgrade).
      ({ bare, sf } = await firstStep(c, "admin", tlsKey.id, "p=tls-server-end-point"));
      assert.deepEqual(await c.login("CLIENT_FINAL_MESSAGE", clientFinal(bare, sf.rfc_str, material(tlsKey), "n")), { response_type: "AUTH_ERR" });
      // Unbound first step, bound final.
      ({ bare, sf } = await firstStep(c, "admin", tlsKey.id, "n"));
      assert.deepEqual(await c.login("CLIENT_FINAL_MESSAGE", clientFinal(bare, sf.rfc_str, material(tlsKey), "p=tls-server-end-point", c.binding())), { response_type: "AUTH_ERR" });
      // The right binding works (the check is not simply refusing everything).
      ({ bare, sf } = await firstStep(c, "admin", tlsKey.id, "p=tls-server-end-point"));
      assert.equal((await c.login("CLIENT_FINAL_MESSAGE", clientFinal(bare, sf.rfc_str, material(tlsKey), "p=tls-server-end-point", c.binding()))).scram_type, "SERVER_FINAL_RESPONSE");
    } finally {
      c.close();
    }
    const plain = await open(ts.url);
    try {
      const { sf } = await firstStep(plain, "admin", key.id, "p=tls-server-end-point");
      assert.deepEqual(sf, { response_type: "AUTH_ERR" }, "no TLS, no binding: refused at the first step");
    } finally {
      plain.close();
    }
  });

  it("SCRAM failures count in the same limiter as PLAIN", async () => {
    // A server with the limiter on for loopback callers (the suites' exemption off).
    const limited = await startServer({ store, rateLimitLoopback: true });
    const a = await limited.adminClient();
    const k = await a.call("api_key.create", { name: "limited", username: "admin" });
    const db = limited.app.store.db;
    const count = async () => Number((await db.selectFrom("counters").select("count").where("key", "=", "acct:admin").executeTakeFirst())?.count ?? 0);
    const before = await count();
    const c = await open(limited.url);
    try {
      for (let n = 0; n < 3; n++) {
        const { bare, sf } = await firstStep(c, "admin", k.id);
        assert.deepEqual(await c.login("CLIENT_FINAL_MESSAGE", clientFinal(bare, sf.rfc_str, "y".repeat(64))), { response_type: "AUTH_ERR" });
      }
      assert.equal(await count(), before + 3);
    } finally {
      c.close();
      await limited.stop();
    }
  });
});
