// The secret box: how Gatehouse keeps credentials of other systems (fleet API keys, LDAP bind and
// SMTP passwords) in the store. AES-256-GCM (authenticated encryption) with a random 96-bit nonce
// per seal, the purpose (e.g. "fleet.system.api_key") as associated data, so a sealed value moved
// to another field or row of another kind does not open; the envelope carries a version.
//
// The key is 32 random bytes in `<data-dir>/private/secret.key` (0600, made at first start).
// Every process sharing a store must hold the same key: the store keeps the key's fingerprint
// (an HMAC of a fixed label under the key — never the key), and a process whose key does not
// match refuses to start instead of sealing values the others cannot open.

import { createCipheriv, createDecipheriv, createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { closeSync, readFileSync, writeSync } from "node:fs";
import path from "node:path";
import type { Db } from "./db.js";
import { createPrivateFile } from "./private-dir.js";

export const KEY_FILE = "secret.key";
export const KEY_BYTES = 32;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
/** Envelope: `gh-sb1:` + base64url(nonce ‖ ciphertext ‖ tag). */
const ENVELOPE_V1 = "gh-sb1:";
const FINGERPRINT_LABEL = "gatehouse secret-box key fingerprint v1";
/** The `settings` row holding the fingerprint (`{"v":1,"hmac":"<hex>"}`). */
export const FINGERPRINT_SETTING = "secret_box.key_fingerprint";
/** Purposes are short dotted names; anything else is a programming error. */
const PURPOSE = /^[a-z0-9_]+(\.[a-z0-9_]+)+$/;

/** Any failure to open a sealed value: the reason is not told (tampered, wrong purpose, wrong key). */
export class SecretBoxError extends Error {
  override name = "SecretBoxError";
}

/** Raised at startup when this process's key is not the store's. */
export class SecretKeyMismatchError extends Error {
  override name = "SecretKeyMismatchError";
}

export interface SecretBox {
  /** Seal `plaintext` for `purpose`; each call gives a different envelope. */
  seal(purpose: string, plaintext: string): string;
  /** Open an envelope sealed for the same `purpose` with this key; throws SecretBoxError otherwise. */
  open(purpose: string, sealed: string): string;
  /** The key's fingerprint (hex), as kept in the store. */
  readonly fingerprint: string;
}

function checkPurpose(purpose: string): void {
  if (!PURPOSE.test(purpose)) throw new TypeError(`secret-box purpose must be a dotted name, got ${JSON.stringify(purpose)}`);
}

export function keyFingerprint(key: Buffer): string {
  return createHmac("sha256", key).update(FINGERPRINT_LABEL).digest("hex");
}

/** A secret box over a raw 32-byte key (tests use this directly). */
export function secretBoxFromKey(key: Buffer): SecretBox {
  if (key.length !== KEY_BYTES) throw new TypeError(`secret-box key must be ${KEY_BYTES} bytes`);
  const k = Buffer.from(key); // our own copy
  return {
    fingerprint: keyFingerprint(k),
    seal(purpose, plaintext) {
      checkPurpose(purpose);
      const nonce = randomBytes(NONCE_BYTES);
      const c = createCipheriv("aes-256-gcm", k, nonce, { authTagLength: TAG_BYTES });
      c.setAAD(Buffer.from(purpose, "utf8"));
      const body = Buffer.concat([c.update(plaintext, "utf8"), c.final()]);
      return ENVELOPE_V1 + Buffer.concat([nonce, body, c.getAuthTag()]).toString("base64url");
    },
    open(purpose, sealed) {
      checkPurpose(purpose);
      if (typeof sealed !== "string" || !sealed.startsWith(ENVELOPE_V1)) throw new SecretBoxError("not a sealed value");
      const raw = Buffer.from(sealed.slice(ENVELOPE_V1.length), "base64url");
      if (raw.length < NONCE_BYTES + TAG_BYTES) throw new SecretBoxError("sealed value is truncated");
      try {
        const d = createDecipheriv("aes-256-gcm", k, raw.subarray(0, NONCE_BYTES), { authTagLength: TAG_BYTES });
        d.setAAD(Buffer.from(purpose, "utf8"));
        d.setAuthTag(raw.subarray(raw.length - TAG_BYTES));
        return Buffer.concat([d.update(raw.subarray(NONCE_BYTES, raw.length - TAG_BYTES)), d.final()]).toString("utf8");
      } catch {
        throw new SecretBoxError("sealed value does not open (tampered, another purpose or another key)");
      }
    },
  };
}

/** Read the key file, or create it (0600, 32 random bytes) when `mayCreate`. */
function loadKey(file: string, mayCreate: boolean): Buffer | null {
  try {
    const key = readFileSync(file);
    if (key.length !== KEY_BYTES) throw new SecretKeyMismatchError(`${file} is not a secret-box key (${key.length} bytes, expected ${KEY_BYTES})`);
    return key;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
  if (!mayCreate) return null;
  const key = randomBytes(KEY_BYTES);
  const fd = createPrivateFile(file);
  try {
    writeSync(fd, key);
  } finally {
    closeSync(fd);
  }
  return key;
}

async function storedFingerprint(db: Db): Promise<string | null> {
  const row = await db.selectFrom("settings").select("value").where("key", "=", FINGERPRINT_SETTING).executeTakeFirst();
  return row ? (JSON.parse(row.value) as { hmac: string }).hmac : null;
}

function sameHex(a: string, b: string): boolean {
  return a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));
}

/**
 * The process's secret box: the key from `<privateDir>/secret.key`, checked against (or, on a new
 * store, recorded as) the store's fingerprint. Concurrent first starts on one PostgreSQL agree on
 * whichever fingerprint is inserted first; the others compare against it.
 */
export async function openSecretBox(db: Db, privateDir: string): Promise<SecretBox> {
  const file = path.join(privateDir, KEY_FILE);
  let stored = await storedFingerprint(db);
  const key = loadKey(file, stored === null);
  if (key === null) {
    throw new SecretKeyMismatchError(
      `the store's secrets are sealed with a key this process does not have: ${file} is missing. ` +
        `Copy secret.key from the private directory of a server already using this store, then start again.`,
    );
  }
  const mine = keyFingerprint(key);
  if (stored === null) {
    const value = JSON.stringify({ v: 1, hmac: mine });
    await db
      .insertInto("settings")
      .values({ key: FINGERPRINT_SETTING, value })
      .onConflict((oc) => oc.column("key").doNothing())
      .execute();
    stored = await storedFingerprint(db);
  }
  if (stored === null || !sameHex(stored, mine)) {
    throw new SecretKeyMismatchError(
      `secret-box key mismatch: ${file} is not the key this store's secrets are sealed with ` +
        `(its fingerprint ${mine.slice(0, 16)}… differs from the store's ${String(stored).slice(0, 16)}…). ` +
        `Every server sharing a store must use the same key: copy secret.key from a server already using this store, then start again.`,
    );
  }
  return secretBoxFromKey(key);
}
