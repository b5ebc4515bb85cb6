import { test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, statSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { keyFingerprint, openSecretBox, secretBoxFromKey, SecretBoxError, SecretKeyMismatchError, KEY_FILE } from "./secret-box.js";
import { openStore } from "./db.js";
import { preparePrivateDir } from "./private-dir.js";

const PURPOSE = "fleet.system.api_key";

test("a sealed value opens with the same key and purpose, and each seal differs (random nonce)", () => {
  const box = secretBoxFromKey(randomBytes(32));
  const a = box.seal(PURPOSE, "s3cret-ключ");
  const b = box.seal(PURPOSE, "s3cret-ключ");
  assert.notEqual(a, b);
  assert.match(a, /^gh-sb1:/);
  assert.ok(!a.includes("s3cret"));
  assert.equal(box.open(PURPOSE, a), "s3cret-ключ");
  assert.equal(box.open(PURPOSE, box.seal(PURPOSE, "")), "");
});

test("a tampered sealed value does not open (every byte flipped in turn)", () => {
  const box = secretBoxFromKey(randomBytes(32));
  const sealed = box.seal(PURPOSE, "bind-password");
  const raw = Buffer.from(sealed.slice("gh-sb1:".length), "base64url");
  for (let i = 0; i < raw.length; i++) {
    const t = Buffer.from(raw);
    t[i] ^= 0x01;
    assert.throws(() => box.open(PURPOSE, "gh-sb1:" + t.toString("base64url")), SecretBoxError, `byte ${i}`);
  }
  assert.throws(() => box.open(PURPOSE, "gh-sb1:" + raw.subarray(0, 20).toString("base64url")), SecretBoxError);
  assert.throws(() => box.open(PURPOSE, "gh-sb2:" + raw.toString("base64url")), SecretBoxError);
  assert.throws(() => box.open(PURPOSE, "bind-password"), SecretBoxError);
});

test("a value sealed for one purpose does not open as another (associated data)", () => {
  const box = secretBoxFromKey(randomBytes(32));
  const sealed = box.seal("ldap.bind_password", "pw");
  assert.throws(() => box.open("smtp.password", sealed), SecretBoxError);
  assert.throws(() => box.seal("no purpose", "x"), TypeError);
});

test("a value sealed under one key does not open under another", () => {
  const sealed = secretBoxFromKey(randomBytes(32)).seal(PURPOSE, "k");
  assert.throws(() => secretBoxFromKey(randomBytes(32)).open(PURPOSE, sealed), SecretBoxError);
});

test("the fingerprint is an HMAC of a label, never the key itself", () => {
  const key = randomBytes(32);
  const fp = keyFingerprint(key);
  assert.match(fp, /^[0-9a-f]{64}$/);
  assert.ok(!fp.includes(key.toString("hex")));
  assert.notEqual(fp, keyFingerprint(randomBytes(32)));
});

test("the key file is made 0600 at first start; another key file is refused by the same store", async () => {
  const a = mkdtempSync(path.join(os.tmpdir(), "gh-sb-"));
  const b = mkdtempSync(path.join(os.tmpdir(), "gh-sb-"));
  const umask = process.umask(0);
  try {
    const log = { warn() {} };
    const privA = preparePrivateDir(a, log);
    const store = await openStore({ dataDir: a });
    try {
      const box = await openSecretBox(store.db, privA);
      assert.equal(statSync(path.join(privA, KEY_FILE)).mode & 0o777, 0o600);
      assert.equal(readFileSync(path.join(privA, KEY_FILE)).length, 32);
      // Same key again: fine. Another key (another data dir's): refused.
      assert.equal((await openSecretBox(store.db, privA)).fingerprint, box.fingerprint);
      const privB = preparePrivateDir(b, log);
      writeFileSync(path.join(privB, KEY_FILE), randomBytes(32), { mode: 0o600 });
      await assert.rejects(openSecretBox(store.db, privB), SecretKeyMismatchError);
      // No key file at all while the store has a fingerprint: refused, never silently made.
      const privC = path.join(b, "other");
      await assert.rejects(openSecretBox(store.db, privC), /missing/);
    } finally {
      await store.close();
    }
  } finally {
    process.umask(umask);
    rmSync(a, { recursive: true, force: true });
    rmSync(b, { recursive: true, force: true });
  }
});
