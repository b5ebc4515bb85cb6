// SCRAM-SHA-512 API-key login, TrueNAS profile (RFC 5802 / RFC 7677 with SHA-512; channel binding
// tls-server-end-point, RFC 5929; reference truenas-scram-and-jobs.md §2–3). Both halves live here:
// the server's (derive a key's record once, answer client-first, check client-final) and the
// client's (`scramClientLogin`, used by the fleet proxy to log in to remote systems). This module
// holds the protocol only: no store, no sessions (src/auth/scram-login.ts glues it to logins).
//
// Profile specifics: nonces are random bytes sent base64 (client 32, server appends 32 to the
// decoded bytes); `n=<user>:<key id>`; errors are never sent as `e=`.

import { createHash, createHmac, pbkdf2, randomBytes, timingSafeEqual } from "node:crypto";
import type { TLSSocket } from "node:tls";

export const SCRAM_MIN_ITERATIONS = 50_000;
export const SCRAM_MAX_ITERATIONS = 5_000_000;
export const SCRAM_DEFAULT_ITERATIONS = 500_000;
const NONCE_BYTES = 32;
const HASH = "sha512";
const KEY_BYTES = 64;
export const CB_NAME = "tls-server-end-point";
const SALT_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789./";

/** A key's SCRAM record as stored (base64 strings, reference §2). */
export interface ScramRecord {
  iterations: number;
  salt: string;
  stored_key: string;
  server_key: string;
}

const hmac = (key: Buffer, msg: string | Buffer): Buffer => createHmac(HASH, key).update(msg).digest();
const h = (data: Buffer): Buffer => createHash(HASH).update(data).digest();
const b64 = (b: Buffer): string => b.toString("base64");

/** Strict standard base64 (with padding) → bytes; null when not base64. */
export function fromB64(s: string): Buffer | null {
  if (!/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(s)) return null;
  return Buffer.from(s, "base64");
}

/** Iterations from a setting, kept inside what the official client accepts. */
export function clampIterations(n: number): number {
  if (!Number.isFinite(n)) return SCRAM_DEFAULT_ITERATIONS;
  return Math.min(SCRAM_MAX_ITERATIONS, Math.max(SCRAM_MIN_ITERATIONS, Math.floor(n)));
}

/** 16 random characters of [A-Za-z0-9./], used as ASCII bytes (as the appliance draws them). */
export function newScramSalt(): Buffer {
  const bytes = randomBytes(16);
  return Buffer.from([...bytes].map((b) => SALT_ALPHABET.charCodeAt(b & 63)));
}

function pbkdf2Async(material: string, salt: Buffer, iterations: number): Promise<Buffer> {
  return new Promise((resolve, reject) => pbkdf2(Buffer.from(material, "utf8"), salt, iterations, KEY_BYTES, HASH, (err, key) => (err ? reject(err) : resolve(key))));
}

/** ClientKey, StoredKey, ServerKey from the salted password. */
function keysOf(salted: Buffer): { clientKey: Buffer; storedKey: Buffer; serverKey: Buffer } {
  const clientKey = hmac(salted, "Client Key");
  return { clientKey, storedKey: h(clientKey), serverKey: hmac(salted, "Server Key") };
}

/**
 * Derive a key's record from its material (the 64 characters after `<id>-`), once, at create or
 * reset: one PBKDF2 on the libuv pool. The client key is returned to be shown once, never stored.
 */
export async function deriveScramRecord(material: string, iterations: number, salt: Buffer = newScramSalt()): Promise<{ record: ScramRecord; clientKey: string }> {
  const { clientKey, storedKey, serverKey } = keysOf(await pbkdf2Async(material, salt, iterations));
  return { record: { iterations, salt: b64(salt), stored_key: b64(storedKey), server_key: b64(serverKey) }, clientKey: b64(clientKey) };
}

// ---- channel binding (RFC 5929 tls-server-end-point) ---------------------------------------------

/** Hash OIDs and signature OIDs → the binding hash (MD5 and SHA-1 become SHA-256). */
const SIG_HASH: Record<string, string> = {
  "1.2.840.113549.1.1.4": "sha256", // md5WithRSAEncryption
  "1.2.840.113549.1.1.5": "sha256", // sha1WithRSAEncryption
  "1.2.840.113549.1.1.14": "sha224",
  "1.2.840.113549.1.1.11": "sha256",
  "1.2.840.113549.1.1.12": "sha384",
  "1.2.840.113549.1.1.13": "sha512",
  "1.2.840.10045.4.1": "sha256", // ecdsa-with-SHA1
  "1.2.840.10045.4.3.1": "sha224",
  "1.2.840.10045.4.3.2": "sha256",
  "1.2.840.10045.4.3.3": "sha384",
  "1.2.840.10045.4.3.4": "sha512",
  "1.2.840.10040.4.3": "sha256", // dsa-with-sha1
  "2.16.840.1.101.3.4.3.1": "sha224", // dsa-with-sha224
  "2.16.840.1.101.3.4.3.2": "sha256", // dsa-with-sha256
};
const HASH_OID: Record<string, string> = {
  "1.3.14.3.2.26": "sha256", // SHA-1 → SHA-256
  "1.2.840.113549.2.5": "sha256", // MD5 → SHA-256
  "2.16.840.1.101.3.4.2.4": "sha224",
  "2.16.840.1.101.3.4.2.1": "sha256",
  "2.16.840.1.101.3.4.2.2": "sha384",
  "2.16.840.1.101.3.4.2.3": "sha512",
};
const RSASSA_PSS = "1.2.840.113549.1.1.10";

interface Tlv {
  tag: number;
  start: number; // first content byte
  end: number; // one past the last content byte
}

/** One DER TLV at `pos` (definite lengths only, as DER requires). */
function tlv(der: Buffer, pos: number, limit = der.length): Tlv {
  if (pos + 2 > limit) throw new Error("truncated DER");
  const tag = der[pos]!;
  let len = der[pos + 1]!;
  let start = pos + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n < 1 || n > 4 || start + n > limit) throw new Error("bad DER length");
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + der[start + i]!;
    start += n;
  }
  if (start + len > limit) throw new Error("truncated DER");
  return { tag, start, end: start + len };
}

function oidText(der: Buffer, t: Tlv): string {
  if (t.tag !== 0x06 || t.end <= t.start) throw new Error("expected an OID");
  const first = der[t.start]!;
  const parts = [Math.min(2, Math.floor(first / 40)), first - 40 * Math.min(2, Math.floor(first / 40))];
  let v = 0;
  for (let i = t.start + 1; i < t.end; i++) {
    v = v * 128 + (der[i]! & 0x7f);
    if (!(der[i]! & 0x80)) {
      parts.push(v);
      v = 0;
    }
  }
  return parts.join(".");
}

/**
 * The hash tls-server-end-point uses for a certificate (DER): its signature algorithm's digest.
 * Node 20's X509Certificate does not expose the algorithm, so it is read from the DER:
 * Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm AlgorithmIdentifier, signature }.
 * null: binding undefined (EdDSA, unknown algorithms).
 */
export function bindingHashOf(der: Buffer): string | null {
  const cert = tlv(der, 0);
  const tbs = tlv(der, cert.start, cert.end);
  const alg = tlv(der, tbs.end, cert.end);
  if (cert.tag !== 0x30 || tbs.tag !== 0x30 || alg.tag !== 0x30) throw new Error("not an X.509 certificate");
  const oidT = tlv(der, alg.start, alg.end);
  const oid = oidText(der, oidT);
  if (oid !== RSASSA_PSS) return SIG_HASH[oid] ?? null;
  // RSASSA-PSS-params ::= SEQUENCE { hashAlgorithm [0] AlgorithmIdentifier DEFAULT sha1, … }
  if (oidT.end >= alg.end) return "sha256";
  const params = tlv(der, oidT.end, alg.end);
  if (params.tag !== 0x30 || params.start >= params.end) return "sha256";
  const first = tlv(der, params.start, params.end);
  if (first.tag !== 0xa0) return "sha256";
  const hashAlg = tlv(der, first.start, first.end);
  return HASH_OID[oidText(der, tlv(der, hashAlg.start, hashAlg.end))] ?? null;
}

/** The tls-server-end-point binding data of a certificate (DER), or null when undefined. */
export function tlsServerEndPoint(der: Buffer): Buffer | null {
  const alg = bindingHashOf(der);
  return alg ? createHash(alg).update(der).digest() : null;
}

/** The first certificate of a PEM text, as DER. */
export function pemToDer(pem: string): Buffer | null {
  const m = /-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/.exec(pem);
  return m ? Buffer.from(m[1]!.replace(/\s+/g, ""), "base64") : null;
}

/** The binding of the certificate a TLS peer presented (client side), or null. */
export function peerChannelBinding(socket: TLSSocket): Buffer | null {
  const raw = socket.getPeerCertificate()?.raw;
  return raw?.length ? tlsServerEndPoint(raw) : null;
}

// ---- message parsing ----------------------------------------------------------------------------

/** Attributes `k=v` in order (values may contain `=`; none contains `,` in this profile). */
function attrs(text: string): [string, string][] | null {
  const out: [string, string][] = [];
  for (const part of text.split(",")) {
    const m = /^([A-Za-z])=(.*)$/s.exec(part);
    if (!m) return null;
    out.push([m[1]!, m[2]!]);
  }
  return out;
}

/** Exactly these attribute names, in this order (e.g. "rsi" for server-first). */
function shapeIs(a: [string, string][] | null, names: string): a is [string, string][] {
  return a !== null && a.map(([k]) => k).join("") === names;
}

export interface ClientFirst {
  /** `n` (unbound) or `p=tls-server-end-point` (bound). */
  gs2: string;
  bound: boolean;
  username: string;
  keyId: number;
  clientNonce: Buffer;
  /** Everything after the gs2 header's `,,`. */
  bare: string;
}

/** Parse client-first (reference §3.2, §3.5 step 2); null when malformed. */
export function parseClientFirst(text: string): ClientFirst | null {
  if (text.length > 1024) return null;
  const i = text.indexOf(",,");
  if (i < 0) return null;
  const gs2 = text.slice(0, i);
  if (gs2 !== "n" && gs2 !== `p=${CB_NAME}`) return null;
  const bare = text.slice(i + 2);
  const a = attrs(bare);
  if (!shapeIs(a, "nr")) return null;
  const m = /^([^,=:]+):(\d{1,10})$/.exec(a[0]![1]);
  if (!m) return null;
  const keyId = Number(m[2]);
  if (keyId < 1 || keyId > 2 ** 31 - 1) return null;
  const nonce = fromB64(a[1]![1]);
  if (!nonce || (nonce.length !== 32 && nonce.length !== 64)) return null;
  return { gs2, bound: gs2 !== "n", username: m[1]!, keyId, clientNonce: nonce, bare };
}

/** What the server keeps between its first answer and the client's final message. */
export interface ScramPending {
  first: ClientFirst;
  /** base64 of clientNonce ‖ serverNonce */
  nonce: string;
  serverFirst: string;
  /** The record checked at the final step; null for a mock (no usable key: the proof always fails). */
  record: ScramRecord | null;
  /** Whatever the caller needs to finish the login (the key and its owner). */
  context: unknown;
  at: number;
}

/** Server-first for `record` (or a mock built from its salt and iterations). */
export function serverFirst(first: ClientFirst, salt: string, iterations: number, serverNonce: Buffer = randomBytes(NONCE_BYTES)): { text: string; nonce: string } {
  const nonce = b64(Buffer.concat([first.clientNonce, serverNonce]));
  return { text: `r=${nonce},s=${salt},i=${iterations}`, nonce };
}

/**
 * A mock record's salt for a key that does not exist (RFC 5802 §5.1): derived from a server
 * secret and the name and id asked for, so repeated asks get the same answer, as a real key's do.
 */
export function mockSalt(secret: Buffer, username: string, keyId: number): string {
  const d = createHmac("sha256", secret).update(`scram-mock:${username}:${keyId}`).digest();
  return b64(Buffer.from([...d.subarray(0, 16)].map((b) => SALT_ALPHABET.charCodeAt(b & 63))));
}

export type FinalCheck = { ok: true; serverFinal: string } | { ok: false; reason: string };

/**
 * Check client-final against the pending exchange (reference §3.5): exactly `c=`, `r=`, `p=`; the
 * combined nonce; `c=` equal to gs2 header ‖ ",," ‖ expected binding; the proof against StoredKey
 * (constant time). `binding`: this connection's tls-server-end-point data (null: none).
 */
export function checkClientFinal(p: ScramPending, text: string, binding: Buffer | null): FinalCheck {
  const a = attrs(text.slice(0, 2048));
  if (!shapeIs(a, "crp")) return { ok: false, reason: "malformed client-final message" };
  const proof = fromB64(a[2]![1]);
  if (!proof || proof.length !== KEY_BYTES) return { ok: false, reason: "malformed client proof" };
  if (a[1]![1] !== p.nonce) return { ok: false, reason: "nonce mismatch" };
  const cb = fromB64(a[0]![1]);
  if (p.first.bound && !binding) return { ok: false, reason: "channel binding requested but the connection has none" };
  const expected = Buffer.concat([Buffer.from(`${p.first.gs2},,`, "ascii"), p.first.bound ? binding! : Buffer.alloc(0)]);
  if (!cb || cb.length !== expected.length || !timingSafeEqual(cb, expected)) return { ok: false, reason: "channel binding mismatch" };
  if (!p.record) return { ok: false, reason: "unknown API key" };
  const storedKey = Buffer.from(p.record.stored_key, "base64");
  const authMessage = `${p.first.bare},${p.serverFirst},c=${a[0]![1]},r=${a[1]![1]}`;
  const signature = hmac(storedKey, authMessage);
  const candidate = Buffer.alloc(KEY_BYTES);
  for (let i = 0; i < KEY_BYTES; i++) candidate[i] = proof[i]! ^ signature[i]!;
  if (storedKey.length !== KEY_BYTES || !timingSafeEqual(h(candidate), storedKey)) return { ok: false, reason: "invalid client proof" };
  return { ok: true, serverFinal: `v=${b64(hmac(Buffer.from(p.record.server_key, "base64"), authMessage))}` };
}

// ---- client half ----------------------------------------------------------------------------------

/** Precomputed key material (reference §2): skips PBKDF2 and the server's salt and iterations. */
export interface PrecomputedKey {
  api_key_id: number;
  client_key: string;
  stored_key: string;
  server_key: string;
}

export interface ScramClientOptions {
  username: string;
  /** `<id>-<material>`, or precomputed material. */
  apiKey: string | PrecomputedKey;
  /** tls-server-end-point data of the server's certificate (peerChannelBinding), or null for unbound. */
  channelBinding: Buffer | null;
  /** Tests: pin the client nonce (32 bytes). */
  clientNonce?: Buffer;
}

/** Sends one `auth.login_ex` argument and resolves with its result. */
export type LoginExSender = (loginData: { mechanism: "SCRAM"; scram_type: string; rfc_str: string }) => Promise<unknown>;

export class ScramLoginError extends Error {
  override name = "ScramLoginError";
}

/**
 * Log in with an API key over SCRAM-SHA-512 (the official client's default). Returns the
 * server's `user_info` once the server's signature checked out; throws ScramLoginError otherwise
 * (the server refused, or could not prove it holds the key's record).
 */
export async function scramClientLogin(send: LoginExSender, opts: ScramClientOptions): Promise<unknown> {
  let keyId: number;
  let material: string | null = null;
  if (typeof opts.apiKey === "string") {
    const m = /^(\d+)-([A-Za-z0-9]+)$/.exec(opts.apiKey.trim());
    if (!m) throw new ScramLoginError("Not a valid raw API key");
    keyId = Number(m[1]);
    material = m[2]!;
  } else keyId = opts.apiKey.api_key_id;
  if (!opts.username || /[,=:]/.test(opts.username)) throw new ScramLoginError("invalid username for SCRAM");
  const gs2 = opts.channelBinding ? `p=${CB_NAME}` : "n";
  const cnonce = opts.clientNonce ?? randomBytes(NONCE_BYTES);
  const bare = `n=${opts.username}:${keyId},r=${b64(cnonce)}`;
  const first = (await send({ mechanism: "SCRAM", scram_type: "CLIENT_FIRST_MESSAGE", rfc_str: `${gs2},,${bare}` })) as { response_type?: string; scram_type?: string; rfc_str?: string };
  if (first?.response_type === "AUTH_ERR") throw new ScramLoginError("Invalid API key");
  if (first?.response_type !== "SCRAM_RESPONSE" || first.scram_type !== "SERVER_FIRST_RESPONSE" || typeof first.rfc_str !== "string") {
    throw new ScramLoginError(`${first?.response_type}: unexpected server response`);
  }
  const sf = attrs(first.rfc_str);
  if (!shapeIs(sf, "rsi")) throw new ScramLoginError("malformed server-first message");
  const nonce = fromB64(sf[0]![1]);
  const salt = fromB64(sf[1]![1]);
  const iterations = Number(sf[2]![1]);
  if (nonce?.length !== 64 || !nonce.subarray(0, NONCE_BYTES).equals(cnonce)) throw new ScramLoginError("server nonce does not extend ours");
  if (!salt || salt.length > 1024 || !/^\d+$/.test(sf[2]![1]) || iterations < SCRAM_MIN_ITERATIONS || iterations > SCRAM_MAX_ITERATIONS) {
    throw new ScramLoginError("server-first salt or iterations out of range");
  }
  let clientKey: Buffer;
  let storedKey: Buffer;
  let serverKey: Buffer;
  if (material !== null) ({ clientKey, storedKey, serverKey } = keysOf(await pbkdf2Async(material, salt, iterations)));
  else {
    const k = opts.apiKey as PrecomputedKey;
    [clientKey, storedKey, serverKey] = [k.client_key, k.stored_key, k.server_key].map((s) => Buffer.from(s, "base64")) as [Buffer, Buffer, Buffer];
  }
  const c = b64(Buffer.concat([Buffer.from(`${gs2},,`, "ascii"), opts.channelBinding ?? Buffer.alloc(0)]));
  const withoutProof = `c=${c},r=${sf[0]![1]}`;
  const authMessage = `${bare},${first.rfc_str},${withoutProof}`;
  const signature = hmac(storedKey, authMessage);
  const proof = Buffer.alloc(KEY_BYTES);
  for (let i = 0; i < KEY_BYTES; i++) proof[i] = clientKey[i]! ^ signature[i]!;
  const fin = (await send({ mechanism: "SCRAM", scram_type: "CLIENT_FINAL_MESSAGE", rfc_str: `${withoutProof},p=${b64(proof)}` })) as {
    response_type?: string;
    scram_type?: string;
    rfc_str?: string;
    user_info?: unknown;
  };
  if (fin?.response_type === "AUTH_ERR") throw new ScramLoginError("Failed to authenticate with API key");
  if (fin?.response_type !== "SCRAM_RESPONSE" || fin.scram_type !== "SERVER_FINAL_RESPONSE") throw new ScramLoginError(`${fin?.response_type}: unexpected server response`);
  const v = typeof fin.rfc_str === "string" && /^v=([^,]+)$/.exec(fin.rfc_str);
  const got = v ? fromB64(v[1]!) : null;
  const want = hmac(serverKey, authMessage);
  if (!got || got.length !== want.length || !timingSafeEqual(got, want)) throw new ScramLoginError("Remote server validation failed! The server does not hold this key's record.");
  return fin.user_info ?? null;
}

// ---- per-connection exchange state (reference §3.4: one pending exchange per connection) ----------

const pendingByConnection = new WeakMap<object, ScramPending>();

/** The connection's pending exchange, removed (a final message clears it whatever the outcome). */
export function takeScramPending(conn: object): ScramPending | undefined {
  const p = pendingByConnection.get(conn);
  pendingByConnection.delete(conn);
  return p;
}

export function setScramPending(conn: object, p: ScramPending): void {
  pendingByConnection.set(conn, p);
}

/** Any other mechanism silently abandons a pending SCRAM exchange. */
export function abandonScram(conn: object): void {
  pendingByConnection.delete(conn);
}
