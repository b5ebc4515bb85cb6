// Issue 13 points 1–2, as the official client sees them: SCRAM-SHA-512 API-key login with and without
// channel binding (tls-server-end-point) against the server's TLS and plain listeners, PLAIN beside
// it, the reference's test vector, wrong / unknown / revoked / expired keys, keys made before SCRAM,
// core.set_options' answer and a new-style job followed through its core.get_jobs events.
//
// The client here is written from ../shared/reference/truenas-scram-and-jobs.md alone: it imports
// nothing from src/ (servers are started through the harness). One test at the end checks the
// server's and the exported client's halves (src/auth/scram.ts) against the same test vector.

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createHash, createHmac, pbkdf2Sync, randomBytes, randomUUID, timingSafeEqual, X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { TLSSocket } from "node:tls";
import WebSocket from "ws";
import { clientWithRoles, forEachStore, loginAdmin, rpcError, setUpAdmin, startServer, type TestServer } from "./harness.js";
import { RpcClient } from "../src/cli/client.js";

// ---- a reference client ---------------------------------------------------------------------------

const b64 = (b: Buffer) => b.toString("base64");
const hmac = (k: Buffer, m: string | Buffer) => createHmac("sha512", k).update(m).digest();
const sha512 = (b: Buffer) => createHash("sha512").update(b).digest();
const xor = (a: Buffer, b: Buffer) => Buffer.from(a.map((x, i) => x ^ b[i]!));

interface Frame {
  jsonrpc: "2.0";
  id?: string | null;
  method?: string;
  params?: any;
  result?: any;
  error?: { code: number; message: string; data?: any };
}

/** JSON-RPC over a WebSocket as truenas_api_client speaks it: uuid ids, params always a list. */
class RefClient {
  readonly frames: Frame[] = [];
  private readonly waiters = new Set<() => void>();
  private constructor(readonly ws: WebSocket) {
    ws.on("message", (d) => {
      this.frames.push(JSON.parse(d.toString()));
      for (const w of this.waiters) w();
    });
  }
  static open(url: string): Promise<RefClient> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { rejectUnauthorized: false });
      ws.once("open", () => resolve(new RefClient(ws)));
      ws.once("error", reject);
    });
  }
  /** The server certificate's tls-server-end-point binding (RFC 5929; reference §3.3). */
  binding(): Buffer {
    const sock = (this.ws as unknown as { _socket: TLSSocket })._socket;
    const raw = sock.getPeerCertificate().raw;
    return createHash(bindingHash(raw)).update(raw).digest();
  }
  /** The first frame matching `pred` (already received or arriving within 10 s). */
  next(pred: (f: Frame) => boolean): Promise<Frame> {
    const hit = this.frames.find(pred);
    if (hit) return Promise.resolve(hit);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => (this.waiters.delete(check), reject(new Error("no such frame within 10 s"))), 10_000);
      const check = () => {
        const f = this.frames.find(pred);
        if (f) {
          clearTimeout(timer);
          this.waiters.delete(check);
          resolve(f);
        }
      };
      this.waiters.add(check);
    });
  }
  send(method: string, params: unknown[]): string {
    const id = randomUUID();
    this.ws.send(JSON.stringify({ jsonrpc: "2.0", method, id, params }));
    return id;
  }
  async call(method: string, ...params: unknown[]): Promise<Frame> {
    const id = this.send(method, params);
    return this.next((f) => f.id === id);
  }
  async result(method: string, ...params: unknown[]): Promise<any> {
    const f = await this.call(method, ...params);
    if (f.error) throw Object.assign(new Error(f.error.data?.reason ?? f.error.message), { frame: f });
    return f.result;
  }
  close(): void {
    this.ws.close();
  }
}

/** Signature algorithm OID → binding hash, read from the certificate's DER (reference §3.3). */
function bindingHash(der: Buffer): string {
  // Certificate ::= SEQUENCE { tbsCertificate SEQUENCE, signatureAlgorithm SEQUENCE { OID … }, … }
  const len = (pos: number): [number, number] => {
    const l = der[pos + 1]!;
    if (l < 0x80) return [pos + 2, l];
    let n = 0;
    for (let i = 0; i < (l & 0x7f); i++) n = n * 256 + der[pos + 2 + i]!;
    return [pos + 2 + (l & 0x7f), n];
  };
  const [certBody] = len(0);
  const [tbsBody, tbsLen] = len(certBody);
  const [algBody] = len(tbsBody + tbsLen);
  const [oidBody, oidLen] = len(algBody);
  const oid = der.subarray(oidBody, oidBody + oidLen).toString("hex");
  const known: Record<string, string> = {
    "2a864886f70d01010b": "sha256", // sha256WithRSAEncryption
    "2a864886f70d01010c": "sha384",
    "2a864886f70d01010d": "sha512",
    "2a8648ce3d040302": "sha256", // ecdsa-with-SHA256
    "2a8648ce3d040303": "sha384",
    "2a8648ce3d040304": "sha512",
  };
  const h = known[oid];
  if (!h) throw new Error(`unexpected signature algorithm ${oid}`);
  return h;
}

interface ScramOutcome {
  first: any;
  final?: any;
  /** The AuthMessage and keys, to check the server's signature. */
  serverSignatureOk?: boolean;
}

/** One SCRAM exchange (reference §3.2–3.4); `tamper` changes the client-final before it is sent. */
async function scram(
  c: RefClient,
  username: string,
  rawKey: string,
  opts: { binding?: Buffer | null; gs2?: string; cnonce?: Buffer; tamper?: (clientFinal: string) => string; precomputed?: { client_key: string; stored_key: string; server_key: string } } = {},
): Promise<ScramOutcome> {
  const [id, material] = [rawKey.slice(0, rawKey.indexOf("-")), rawKey.slice(rawKey.indexOf("-") + 1)];
  const gs2 = opts.gs2 ?? (opts.binding ? "p=tls-server-end-point" : "n");
  const cnonce = opts.cnonce ?? randomBytes(32);
  const bare = `n=${username}:${id},r=${b64(cnonce)}`;
  const first = await c.result("auth.login_ex", { mechanism: "SCRAM", scram_type: "CLIENT_FIRST_MESSAGE", rfc_str: `${gs2},,${bare}` });
  if (first.response_type !== "SCRAM_RESPONSE") return { first };
  const m = /^r=([^,]+),s=([^,]+),i=(\d+)$/.exec(first.rfc_str);
  assert.ok(m, `server-first has r, s, i in order: ${first.rfc_str}`);
  const [, r, s, i] = m;
  assert.ok(Number(i) >= 50_000 && Number(i) <= 5_000_000, "iterations within what the client accepts");
  assert.equal(Buffer.from(r!, "base64").length, 64);
  assert.ok(Buffer.from(r!, "base64").subarray(0, 32).equals(cnonce), "combined nonce starts with ours");
  let clientKey: Buffer;
  let storedKey: Buffer;
  let serverKey: Buffer;
  if (opts.precomputed) {
    [clientKey, storedKey, serverKey] = [opts.precomputed.client_key, opts.precomputed.stored_key, opts.precomputed.server_key].map((x) => Buffer.from(x, "base64")) as [Buffer, Buffer, Buffer];
  } else {
    const salted = pbkdf2Sync(Buffer.from(material, "utf8"), Buffer.from(s!, "base64"), Number(i), 64, "sha512");
    clientKey = hmac(salted, "Client Key");
    storedKey = sha512(clientKey);
    serverKey = hmac(salted, "Server Key");
  }
  const cAttr = b64(Buffer.concat([Buffer.from(`${gs2},,`), opts.binding ?? Buffer.alloc(0)]));
  const noProof = `c=${cAttr},r=${r}`;
  const authMessage = `${bare},${first.rfc_str},${noProof}`;
  let clientFinal = `${noProof},p=${b64(xor(clientKey, hmac(storedKey, authMessage)))}`;
  if (opts.tamper) clientFinal = opts.tamper(clientFinal);
  const final = await c.result("auth.login_ex", { mechanism: "SCRAM", scram_type: "CLIENT_FINAL_MESSAGE", rfc_str: clientFinal });
  let serverSignatureOk: boolean | undefined;
  if (final.response_type === "SCRAM_RESPONSE") {
    const v = /^v=([^,]+)$/.exec(final.rfc_str);
    const want = hmac(serverKey, authMessage);
    serverSignatureOk = !!v && timingSafeEqual(Buffer.from(v[1]!, "base64"), want);
  }
  return { first, final, serverSignatureOk };
}

// ---- a certificate for the TLS listener ------------------------------------------------------------

let certDir: string;
let certFile: string;
let keyFile: string;
before(() => {
  certDir = mkdtempSync(path.join(os.tmpdir(), "gatehouse-scram-cert-"));
  certFile = path.join(certDir, "cert.pem");
  keyFile = path.join(certDir, "key.pem");
  // ECDSA P-384 signed with SHA-384: the binding hash is SHA-384, not the SHA-256 fingerprint.
  execFileSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-384", "-sha384", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1", "-keyout", keyFile, "-out", certFile], {
    stdio: "ignore",
  });
});
after(() => rmSync(certDir, { recursive: true, force: true }));

// ---- the test vector (reference §3.8), client side ---------------------------------------------------

describe("SCRAM test vector (reference §3.8)", () => {
  const material = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789AB";
  const cnonce = Buffer.from(Array.from({ length: 32 }, (_, i) => i));
  const snonce = Buffer.from(Array.from({ length: 32 }, (_, i) => 0x80 + i));
  const R = b64(Buffer.concat([cnonce, snonce]));
  const cb = createHash("sha256").update("example-certificate-DER").digest();

  it("a client built from the reference reproduces the stored values and both client-final messages", () => {
    const salted = pbkdf2Sync(material, "saltSALT0123./xy", 500000, 64, "sha512");
    assert.equal(b64(salted), "TOpVLQO9E/fEvCLsrnOix0yiaBMGtINZjL569XCPAguAL5Vv3Qj9uXN11lQ1kYg96HJQehCpnhH6xYyPcjHRIw==");
    const clientKey = hmac(salted, "Client Key");
    const storedKey = sha512(clientKey);
    const serverKey = hmac(salted, "Server Key");
    assert.equal(b64(storedKey), "AFh7oXYRBTwhvTd8o3F66yEVvgbpkd9327PnbEU8Psvu25nL0uEJS+mIIT9BeBtVXPN2wE5ZyMPC1A0FHnhG3Q==");
    assert.equal(b64(serverKey), "ZMNeSYdDdnIbnP2rZw7Wyu69d00i0cWyBuZwnLR8i/BnhaXC2/PNGqj5bjq2EoSdCGxxil7uQVQa+DQZxbvNYg==");
    const serverFirst = `r=${R},s=c2FsdFNBTFQwMTIzLi94eQ==,i=500000`;
    for (const [gs2, binding, proof, v] of [
      [
        "n",
        Buffer.alloc(0),
        "N46xs3sfLrdAxQQHVoBMpfSTCAA2dVb0yT4RTFYOwKtmdXcTKOdhTU/Ik2AD3rhPSJs8Ob6haiaHgYUVE8OCgg==",
        "ON0VadCEqzuLS8FubKXlGwr+SzP3Y+HY3+UBH6Mby059TjfxUzxPMcl4iLeUEBFvz4muG27znGbx4f654Wlrkw==",
      ],
      [
        "p=tls-server-end-point",
        cb,
        "WnCgZ+2+sqgns2E6D9oMzJ7PQfRzbOBy144i336uQ7x5oQgx3kbvUNBTApZta/hXhxMXDjvugt+TtdhpFtvJXA==",
        "V54fT8n1LhCrMWVIYc8T9yd1HDd9NH3uGHCwTb144QQLpD3y/Gi4O3rUV7LeM5TCmwxxjsOaXSSIU6knSW88TA==",
      ],
    ] as const) {
      const c = b64(Buffer.concat([Buffer.from(`${gs2},,`), binding]));
      const authMessage = `n=alice:7,r=${b64(cnonce)},${serverFirst},c=${c},r=${R}`;
      assert.equal(b64(xor(clientKey, hmac(storedKey, authMessage))), proof);
      assert.equal(b64(hmac(serverKey, authMessage)), v);
    }
  });

  it("the server half and the exported client half (src/auth/scram.ts) give the vector's messages", async () => {
    const s = await import("../src/auth/scram.js");
    const { record, clientKey } = await s.deriveScramRecord(material, 500000, Buffer.from("saltSALT0123./xy"));
    assert.equal(record.stored_key, "AFh7oXYRBTwhvTd8o3F66yEVvgbpkd9327PnbEU8Psvu25nL0uEJS+mIIT9BeBtVXPN2wE5ZyMPC1A0FHnhG3Q==");
    assert.equal(clientKey, "dTeK59s+49aSp7Xw3Q2N8ApieqHidJ5IFphR2664VHKmffnbufkZ0SYgu6ZPgYIoFzXFajM3Q18V4rD62SbN2Q==");
    for (const [binding, v] of [
      [null, "v=ON0VadCEqzuLS8FubKXlGwr+SzP3Y+HY3+UBH6Mby059TjfxUzxPMcl4iLeUEBFvz4muG27znGbx4f654Wlrkw=="],
      [cb, "v=V54fT8n1LhCrMWVIYc8T9yd1HDd9NH3uGHCwTb144QQLpD3y/Gi4O3rUV7LeM5TCmwxxjsOaXSSIU6knSW88TA=="],
    ] as const) {
      // The exported client against the server half with its nonce pinned to 80…9f.
      let pending: any;
      const send = async (d: { scram_type: string; rfc_str: string }) => {
        if (d.scram_type === "CLIENT_FIRST_MESSAGE") {
          const first = s.parseClientFirst(d.rfc_str)!;
          const sf = s.serverFirst(first, record.salt, record.iterations, snonce);
          pending = { first, nonce: sf.nonce, serverFirst: sf.text, record, context: null, at: Date.now() };
          assert.equal(sf.text, `r=${R},s=c2FsdFNBTFQwMTIzLi94eQ==,i=500000`);
          return { response_type: "SCRAM_RESPONSE", scram_type: "SERVER_FIRST_RESPONSE", rfc_str: sf.text, user_info: null };
        }
        const check = s.checkClientFinal(pending, d.rfc_str, binding);
        assert.ok(check.ok);
        assert.equal(check.serverFinal, v);
        return { response_type: "SCRAM_RESPONSE", scram_type: "SERVER_FINAL_RESPONSE", rfc_str: check.serverFinal, user_info: { ok: 1 } };
      };
      const info = await s.scramClientLogin(send, { username: "alice", apiKey: `7-${material}`, channelBinding: binding, clientNonce: cnonce });
      assert.deepEqual(info, { ok: 1 });
    }
  });

  it("the server reads the binding hash from the certificate's DER (ECDSA with SHA-384 here)", async () => {
    const s = await import("../src/auth/scram.js");
    const der = new X509Certificate(readFileSync(certFile)).raw;
    assert.equal(s.bindingHashOf(der), "sha384");
    assert.equal(bindingHash(der), "sha384");
    assert.ok(s.tlsServerEndPoint(der)!.equals(createHash("sha384").update(der).digest()));
  });
});

// ---- against real listeners -------------------------------------------------------------------------

forEachStore("SCRAM and PLAIN API-key logins, options and new-style jobs", (store) => {
  let plain: TestServer;
  let tls: TestServer;
  let adminKey: { plain: any; tls: any };
  before(async () => {
    plain = await startServer({ store });
    tls = await startServer({ store, config: { tlsCert: certFile, tlsKey: keyFile } });
    adminKey = { plain: null, tls: null };
    for (const [name, ts] of [
      ["plain", plain],
      ["tls", tls],
    ] as const) {
      const a = name === "tls" ? await tlsAdmin() : await ts.adminClient();
      adminKey[name] = await a.call("api_key.create", { name: `k-${name}`, username: "admin" });
    }
  });
  after(async () => {
    for (const c of opened) await c.close();
    await plain?.stop();
    await tls?.stop();
  });
  const wss = () => `wss://127.0.0.1:${tls.port}/api/current`;
  /** Set-up client on the TLS listener (harness clients speak ws://). */
  const opened: RpcClient[] = [];
  async function tlsAdmin(): Promise<RpcClient> {
    const c = await RpcClient.connect(wss(), { rejectUnauthorized: false });
    opened.push(c);
    await setUpAdmin(c);
    return loginAdmin(c);
  }

  it("create and reset show the key and the client key once; SCRAM fields are secrets", async () => {
    const k = adminKey.plain;
    assert.match(k.key, /^\d+-[A-Za-z0-9]{64}$/);
    assert.equal(Buffer.from(k.client_key, "base64").length, 64);
    assert.equal(k.iterations, 50_000);
    assert.equal(Buffer.from(k.salt, "base64").length, 16);
    const listed = (await (await plain.adminClient()).call("api_key.query", [["id", "=", k.id]]))[0];
    assert.equal(listed.key, undefined);
    assert.equal(listed.client_key, undefined);
    const row = await plain.app.store.db.selectFrom("api_keys").selectAll().where("id", "=", k.id).executeTakeFirstOrThrow();
    assert.ok(!JSON.stringify(row).includes(k.client_key), "the client key is never stored");
    assert.equal(sha512(Buffer.from(k.client_key, "base64")).toString("base64"), row.stored_key);
  });

  it("the four SCRAM fields are secrets: redacted for a reader, and not usable in filters, select or order_by", async () => {
    const { client: reader } = await clientWithRoles(plain, ["READONLY_ADMIN"]);
    const [k] = await reader.call("api_key.query", [["id", "=", adminKey.plain.id]]);
    for (const f of ["iterations", "salt", "stored_key", "server_key", "keyhash", "keyhash_salt"]) assert.equal(k[f], "********", f);
    assert.equal(k.scram, true, "whether a key has a record is not a secret");
    for (const f of ["iterations", "salt", "stored_key", "server_key"]) {
      await rpcError(reader.call("api_key.query", [[f, "!=", null]]));
      await rpcError(reader.call("api_key.query", [], { select: [[f, "x"]] }));
      await rpcError(reader.call("api_key.query", [], { order_by: [f] }));
    }
  });

  it("auth.mechanism_choices offers SCRAM", async () => {
    const c = await RefClient.open(plain.url);
    try {
      assert.ok((await c.result("auth.mechanism_choices")).includes("SCRAM"));
    } finally {
      c.close();
    }
  });

  it("SCRAM without channel binding over ws:// and over wss://; with it over wss://", async () => {
    for (const [url, key, bind] of [
      [plain.url, adminKey.plain.key, false],
      [wss(), adminKey.tls.key, false],
      [wss(), adminKey.tls.key, true],
    ] as const) {
      const c = await RefClient.open(url);
      try {
        const out = await scram(c, "admin", key, { binding: bind ? c.binding() : null });
        assert.equal(out.first.scram_type, "SERVER_FIRST_RESPONSE");
        assert.equal(out.first.user_info, null);
        assert.equal(out.final.response_type, "SCRAM_RESPONSE", JSON.stringify(out.final));
        assert.equal(out.final.scram_type, "SERVER_FINAL_RESPONSE");
        assert.ok(out.serverSignatureOk, "the server proved it holds the key's record");
        assert.ok(!("authenticator" in out.final) && !("reconnect_token" in out.final));
        assert.ok(out.final.user_info.account_attributes.includes("SCRAM"));
        assert.ok(out.final.user_info.account_attributes.includes("API_KEY"));
        const me = await c.result("auth.me");
        assert.equal(me.pw_name, "admin");
        const [s] = await c.result("auth.sessions", [["current", "=", true]]);
        assert.equal(s.credentials, "API_KEY");
        assert.equal(s.credentials_data.api_key.id, Number(key.split("-")[0]));
      } finally {
        c.close();
      }
    }
  });

  it("precomputed material (client_key, stored_key, server_key) logs in without PBKDF2", async () => {
    const a = await tlsAdmin();
    const k = await a.call("api_key.create", { name: "precomputed", username: "admin" });
    const full = (await a.call("api_key.query", [["id", "=", k.id]]))[0];
    const c = await RefClient.open(wss());
    try {
      const out = await scram(c, "admin", `${k.id}-x`, { binding: c.binding(), precomputed: { client_key: k.client_key, stored_key: full.stored_key, server_key: full.server_key } });
      assert.equal(out.final.scram_type, "SERVER_FINAL_RESPONSE");
      assert.ok(out.serverSignatureOk);
    } finally {
      c.close();
    }
  });

  it("channel binding is refused over ws:// (first step) and when the binding is not this certificate's", async () => {
    let c = await RefClient.open(plain.url);
    try {
      const out = await scram(c, "admin", adminKey.plain.key, { binding: Buffer.alloc(48, 1) });
      assert.deepEqual(out.first, { response_type: "AUTH_ERR" });
    } finally {
      c.close();
    }
    c = await RefClient.open(wss());
    try {
      const out = await scram(c, "admin", adminKey.tls.key, { binding: createHash("sha384").update("another certificate").digest() });
      assert.equal(out.first.scram_type, "SERVER_FIRST_RESPONSE");
      assert.deepEqual(out.final, { response_type: "AUTH_ERR" });
      // Bound first step but an unbound c= (biws): refused too.
      const out2 = await scram(c, "admin", adminKey.tls.key, { gs2: "p=tls-server-end-point", binding: null });
      assert.deepEqual(out2.final, { response_type: "AUTH_ERR" });
      assert.equal(await c.call("auth.me").then((f) => f.error?.data?.error), 207, "still not authenticated");
    } finally {
      c.close();
    }
  });

  it("PLAIN still works on both listeners with the same key", async () => {
    for (const [url, key] of [
      [plain.url, adminKey.plain.key],
      [wss(), adminKey.tls.key],
    ]) {
      const c = await RefClient.open(url);
      try {
        const r = await c.result("auth.login_ex", { mechanism: "API_KEY_PLAIN", username: "admin", api_key: key });
        assert.equal(r.response_type, "SUCCESS");
      } finally {
        c.close();
      }
    }
  });

  it("a wrong key, an unknown key id and another user's name fail at the final step; unknown ids get a stable mock", async () => {
    const c = await RefClient.open(plain.url);
    try {
      const wrong = await scram(c, "admin", `${adminKey.plain.id}-${"x".repeat(64)}`);
      assert.equal(wrong.first.scram_type, "SERVER_FIRST_RESPONSE");
      assert.deepEqual(wrong.final, { response_type: "AUTH_ERR" });
      const unknownId = 987654;
      const u1 = await scram(c, "admin", `${unknownId}-${"x".repeat(64)}`);
      const u2 = await scram(c, "admin", `${unknownId}-${"y".repeat(64)}`);
      assert.equal(u1.first.scram_type, "SERVER_FIRST_RESPONSE", "an unknown key gets a server-first message too");
      const salt = (o: ScramOutcome) => /,s=([^,]+),/.exec(o.first.rfc_str)![1];
      const iters = (o: ScramOutcome) => /,i=(\d+)$/.exec(o.first.rfc_str)![1];
      assert.equal(salt(u1), salt(u2), "the mock salt is stable, as a real key's is");
      assert.equal(iters(u1), iters(wrong));
      assert.equal(Buffer.from(salt(u1)!, "base64").length, 16);
      assert.deepEqual(u1.final, { response_type: "AUTH_ERR" });
      const other = await scram(c, "nosuchuser", adminKey.plain.key);
      assert.deepEqual(other.final, { response_type: "AUTH_ERR" });
      // A final message without a pending first one: EFAULT.
      const f = await c.call("auth.login_ex", { mechanism: "SCRAM", scram_type: "CLIENT_FINAL_MESSAGE", rfc_str: "c=biws,r=AAAA,p=AAAA" });
      assert.equal(f.error?.code, -32001);
      assert.equal(f.error?.data?.error, 14);
      assert.match(f.error?.data?.reason, /SCRAM authentication is not in progress/);
      // Extra keys are validation errors.
      const v = await c.call("auth.login_ex", { mechanism: "SCRAM", scram_type: "CLIENT_FIRST_MESSAGE", rfc_str: "n,,n=a:1,r=AAAA", login_options: {} });
      assert.equal(v.error?.code, -32602);
    } finally {
      c.close();
    }
  });

  it("revoked and expired keys are refused; a reset key works again", async () => {
    const a = await plain.adminClient();
    const k = await a.call("api_key.create", { name: "to-revoke", username: "admin" });
    await a.call("api_key.revoke", k.id, "test");
    let reset: any;
    const c = await RefClient.open(plain.url);
    try {
      assert.deepEqual((await scram(c, "admin", k.key)).final, { response_type: "AUTH_ERR" });
      reset = await a.call("api_key.update", k.id, { reset: true });
      assert.notEqual(reset.client_key, k.client_key);
      assert.deepEqual((await scram(c, "admin", k.key)).final, { response_type: "AUTH_ERR" }, "the old key is gone");
      assert.equal((await scram(c, "admin", reset.key)).final.scram_type, "SERVER_FINAL_RESPONSE");
    } finally {
      c.close();
    }
    // (Expiring the key ends the session just made: a fresh connection.)
    await plain.app.store.db
      .updateTable("api_keys")
      .set({ expires_at: Date.now() - 1000 })
      .where("id", "=", k.id)
      .execute();
    const c2 = await RefClient.open(plain.url);
    try {
      assert.deepEqual((await scram(c2, "admin", reset.key)).final, { response_type: "EXPIRED" });
    } finally {
      c2.close();
    }
  });

  it("a key made before SCRAM gets its record on its next PLAIN login", async () => {
    const a = await plain.adminClient();
    const k = await a.call("api_key.create", { name: "legacy", username: "admin" });
    const db = plain.app.store.db;
    await db.updateTable("api_keys").set({ iterations: null, salt: null, stored_key: null, server_key: null }).where("id", "=", k.id).execute();
    const c = await RefClient.open(plain.url);
    try {
      assert.deepEqual((await scram(c, "admin", k.key)).final, { response_type: "AUTH_ERR" });
      assert.equal((await c.result("auth.login_ex", { mechanism: "API_KEY_PLAIN", username: "admin", api_key: k.key })).response_type, "SUCCESS");
      const row = await db.selectFrom("api_keys").selectAll().where("id", "=", k.id).executeTakeFirstOrThrow();
      assert.equal(row.iterations, 50_000);
      assert.equal((await scram(c, "admin", k.key)).final.scram_type, "SERVER_FINAL_RESPONSE");
    } finally {
      c.close();
    }
  });

  it("core.set_options answers with the resulting options and ignores keys it does not know", async () => {
    const c = await RefClient.open(plain.url);
    try {
      // The official client's first frame, before any login.
      assert.deepEqual(await c.result("core.set_options", { legacy_jobs: false, private_methods: false, py_exceptions: false }), {
        legacy_jobs: false,
        private_methods: false,
        py_exceptions: false,
      });
      assert.deepEqual(await c.result("core.set_options", { some_future_option: 1 }), { legacy_jobs: false, private_methods: false, py_exceptions: false });
      assert.deepEqual(await c.result("core.set_options", { py_exceptions: true }), { legacy_jobs: false, private_methods: false, py_exceptions: true });
      assert.equal((await c.call("core.set_options", { legacy_jobs: "false" })).error?.code, -32602, "strict booleans");
    } finally {
      c.close();
    }
  });

  it("a job call on a new-style connection resolves through core.get_jobs events, ADDED before the response", async () => {
    const c = await RefClient.open(wss());
    try {
      await c.result("core.set_options", { legacy_jobs: false, private_methods: false, py_exceptions: false });
      // Before login the client's subscribe fails with ENOTAUTHENTICATED, which it ignores.
      const pre = await c.call("core.subscribe", "core.get_jobs");
      assert.equal(pre.error?.code, -32001);
      assert.equal(pre.error?.data?.error, 207);
      const out = await scram(c, "admin", adminKey.tls.key, { binding: c.binding() });
      assert.equal(out.final.scram_type, "SERVER_FINAL_RESPONSE");
      assert.equal(typeof (await c.result("core.subscribe", "core.get_jobs")), "string");
      const id = c.send("core.bulk", ["core.ping", [[], []]]);
      const added = await c.next((f) => f.method === "collection_update" && f.params.collection === "core.get_jobs" && f.params.fields?.message_ids?.includes(id));
      assert.equal(added.params.msg, "added");
      const jobId = added.params.id;
      assert.equal(typeof jobId, "number");
      assert.equal(added.params.fields.id, jobId);
      const addedAt = c.frames.indexOf(added);
      const response = await c.next((f) => f.id === id);
      assert.ok(c.frames.indexOf(response) > addedAt, "the ADDED event comes before the response");
      const done = await c.next((f) => f.method === "collection_update" && f.params.id === jobId && f.params.msg === "changed" && f.params.fields.state === "SUCCESS");
      assert.ok(c.frames.indexOf(done) < c.frames.indexOf(response), "the terminal CHANGED event comes before the response");
      assert.deepEqual(done.params.fields.result, response.result);
      assert.equal(done.params.fields.credentials.type, "API_KEY");
      for (const k of [
        "id",
        "message_ids",
        "method",
        "arguments",
        "transient",
        "description",
        "abortable",
        "logs_path",
        "logs_excerpt",
        "progress",
        "result",
        "result_encoding_error",
        "error",
        "exception",
        "exc_info",
        "state",
        "time_started",
        "time_finished",
        "credentials",
      ]) {
        assert.ok(k in done.params.fields, `job field ${k}`);
      }
      // A failing job: FAILED with exc_info, and an error response.
      const bad = c.send("core.job_wait", [999999]);
      const failed = await c.next((f) => f.method === "collection_update" && f.params.fields?.message_ids?.includes(bad) && f.params.fields.state === "FAILED");
      assert.equal(failed.params.msg, "changed");
      assert.equal(failed.params.fields.exc_info.type, "CallError");
      assert.ok(failed.params.fields.error);
      assert.equal((await c.next((f) => f.id === bad)).error?.code, -32001);
    } finally {
      c.close();
    }
  });
});
