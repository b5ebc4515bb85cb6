// Password hashing against the host's own crypt(3): python3's crypt module (libxcrypt) checks
// what we produce, and mkpasswd (Debian `whois`) produces what we must accept.
// Run: node --import tsx --test src/auth/password-hash.test.ts

import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { md4 } from "hash-wasm";
import { _setBackendForTests, hashBackend, hashPassword, MAX_PASSWORD_BYTES, ntHash, randomPassword, verifyPassword, type HashBackend } from "./password-hash.js";

const ADDON = fileURLToPath(new URL("../../native/build/Release/gatehouse_crypt.node", import.meta.url));
const HAVE_ADDON = existsSync(ADDON);
const NO_ADDON = HAVE_ADDON ? false : "native addon not built (npx node-gyp rebuild -C native)";

const NON_ASCII = "pässwörd ✓ 密码 🔐";
const SALT = "[A-Za-z0-9./]";
const SHA512_OUT = "[A-Za-z0-9./]{86}";

/** Python's crypt module (the host libxcrypt) as an oracle. Input travels as JSON on stdin so
 *  non-ASCII passwords are not at the mercy of argv/locale decoding. stderr (the 3.11
 *  DeprecationWarning) is ignored. */
function py(script: string, input: unknown): string {
  return execFileSync("python3", ["-W", "ignore", "-c", script], {
    input: JSON.stringify(input),
    encoding: "utf8",
    stdio: ["pipe", "pipe", "ignore"],
  }).trim();
}

function hostVerifies(password: string, hash: string): boolean {
  return py("import crypt, json, sys; pw, h = json.load(sys.stdin); print(crypt.crypt(pw, h) == h)", [password, hash]) === "True";
}

function hostCrypt(password: string, setting: string): string | null {
  const out = py("import crypt, json, sys; pw, s = json.load(sys.stdin); print(crypt.crypt(pw, s))", [password, setting]);
  return out === "None" || out === "" ? null : out;
}

const HAVE_MKPASSWD = spawnSync("mkpasswd", ["--version"], { stdio: "ignore" }).error === undefined;

/** `mkpasswd -s` reads the password from stdin (safe for non-ASCII). */
function mkpasswd(password: string, ...args: string[]): string {
  return execFileSync("mkpasswd", ["-s", ...args], { input: password, encoding: "utf8" }).trim();
}

/** Switch backend for the duration of fn, then restore. */
async function withBackend(which: HashBackend, fn: () => Promise<void>): Promise<void> {
  const before = hashBackend();
  _setBackendForTests(which);
  try {
    await fn();
  } finally {
    _setBackendForTests(before);
  }
}

test("the native backend is active when the addon is built", { skip: NO_ADDON }, () => {
  assert.equal(hashBackend(), "native");
});

test("hash format: $6$rounds=N$<16 salt chars>$…, rounds= omitted at 5000", async () => {
  assert.match(await hashPassword("pw", 10000), new RegExp(`^\\$6\\$rounds=10000\\$${SALT}{16}\\$${SHA512_OUT}$`));
  assert.match(await hashPassword("pw", 5000), new RegExp(`^\\$6\\$${SALT}{16}\\$${SHA512_OUT}$`));
  assert.match(await hashPassword("pw"), /^\$6\$rounds=656000\$/);
  // Fresh salt each time.
  assert.notEqual(await hashPassword("pw", 5000), await hashPassword("pw", 5000));
});

test("hashes verify with the host's crypt (ASCII, non-ASCII; 5000 and 10000 rounds)", async () => {
  for (const pw of ["correct horse battery staple", NON_ASCII]) {
    for (const rounds of [5000, 10000]) {
      const h = await hashPassword(pw, rounds);
      assert.ok(hostVerifies(pw, h), `host crypt rejects ${h} for ${JSON.stringify(pw)}`);
      assert.ok(!hostVerifies(pw + "x", h));
      assert.equal(await verifyPassword(pw, h), true);
      assert.equal(await verifyPassword(pw + "x", h), false);
    }
  }
});

test("hashing runs off the event loop", async () => {
  // If the hash were computed synchronously, the promise would settle (a microtask) before any
  // setImmediate callback got a chance to run.
  let ranMeanwhile = false;
  setImmediate(() => (ranMeanwhile = true));
  await hashPassword("pw", 200_000);
  assert.equal(ranMeanwhile, true);
});

test("hashes made by mkpasswd / the host verify", async (t) => {
  const pw = "Sup3r secret";
  const cases: [string, string][] = [];
  if (HAVE_MKPASSWD) {
    cases.push(["mkpasswd sha-512 -R 7777", mkpasswd(pw, "-m", "sha-512", "-R", "7777")]);
    cases.push(["mkpasswd sha-512", mkpasswd(pw, "-m", "sha-512")]);
    cases.push(["mkpasswd sha-256", mkpasswd(pw, "-m", "sha-256")]);
    cases.push(["mkpasswd sha-512 non-ASCII", mkpasswd(NON_ASCII, "-m", "sha-512", "-R", "7777")]);
  } else {
    t.diagnostic("mkpasswd missing; using python3 crypt for $6$/$5$");
    cases.push(["python sha-512 7777", hostCrypt(pw, "$6$rounds=7777$abcdefghABCDEFGH")!]);
    cases.push(["python sha-256", hostCrypt(pw, "$5$abcdefghABCDEFGH")!]);
    cases.push(["python sha-512 non-ASCII", hostCrypt(NON_ASCII, "$6$rounds=7777$abcdefgh")!]);
  }
  for (const [what, h] of cases) {
    const password = what.includes("non-ASCII") ? NON_ASCII : pw;
    assert.match(h, /^\$[56]\$/, what);
    assert.equal(await verifyPassword(password, h), true, what);
    assert.equal(await verifyPassword(password.slice(0, -1), h), false, what);
  }
});

test("yescrypt ($y$) verifies on the native backend", { skip: NO_ADDON }, async (t) => {
  const pw = "yes please";
  let h: string | null = null;
  if (HAVE_MKPASSWD) h = mkpasswd(pw, "-m", "yescrypt");
  // Python 3.11 has no METHOD_YESCRYPT, but libxcrypt accepts a hand-made yescrypt setting.
  h ??= hostCrypt(pw, "$y$j9T$F5Jx5fExrKuPp53xLKQ..1");
  if (!h?.startsWith("$y$")) {
    t.skip("no way to make a $y$ hash on this host (no mkpasswd, host crypt lacks yescrypt)");
    return;
  }
  assert.equal(await verifyPassword(pw, h), true);
  assert.equal(await verifyPassword("yes please!", h), false);
});

test("non-hashes and unsupported schemes are false, never an exception", async () => {
  const good = await hashPassword("pw", 5000);
  for (const stored of [
    null,
    "",
    "*",
    "!",
    "!" + good, // locked account: the real hash behind "!" must not match
    "x",
    "abJnggxhB/yWI", // DES crypt ("pw" with salt "ab"): a scheme we do not accept
    "$1$abcdefgh$XXXXXXXXXXXXXXXXXXXXXX", // md5crypt
    "$2b$10$abcdefghijklmnopqrstuuABCDEFGHIJKLMNOPQRSTUVWXYZ01234", // bcrypt
    "$6$",
    "$6$onlysalt",
    "$6$rounds=abc$salt$hash",
    "$6$rounds=10$salt$hash",
    "$y$garbage$garbage",
  ]) {
    assert.equal(await verifyPassword("pw", stored), false, String(stored));
  }
  assert.equal(await verifyPassword("pw", good), true);
  assert.equal(await verifyPassword("p\0w", good), false);
});

test("bad input to hashPassword is rejected", async () => {
  await assert.rejects(hashPassword("pw", 999), RangeError);
  await assert.rejects(hashPassword("pw", 1_000_000_000), RangeError);
  await assert.rejects(hashPassword("pw", 5000.5), RangeError);
  await assert.rejects(hashPassword("a\0b", 5000), RangeError);
  await assert.rejects(hashPassword("x".repeat(MAX_PASSWORD_BYTES + 1), 5000), RangeError);
  await assert.rejects(hashPassword(42 as unknown as string, 5000), TypeError);
  // The limit counts UTF-8 bytes, and the longest allowed password still round-trips.
  const longest = "é".repeat(Math.floor(MAX_PASSWORD_BYTES / 2)) + "x";
  const h = await hashPassword(longest, 5000);
  assert.ok(hostVerifies(longest, h));
  assert.equal(await verifyPassword(longest, h), true);
});

test("NT hash: uppercase hex MD4 of UTF-16LE", async () => {
  assert.equal(await ntHash("password"), "8846F7EAEE8FB117AD06BDD830B7586C");
  assert.equal(await ntHash(""), "31D6CFE0D16AE931B73C59D7E0C089C0");
  // Non-ASCII must be real UTF-16LE code units (what Samba does), not widened UTF-8 bytes:
  // "€" is U+20AC → bytes AC 20.
  assert.equal(await ntHash("€"), (await md4(Uint8Array.of(0xac, 0x20))).toUpperCase());
  if (HAVE_MKPASSWD) {
    // mkpasswd's "nt" method prints $3$$<lowercase hex>. It is an oracle for ASCII only:
    // libxcrypt widens each UTF-8 *byte* to 16 bits instead of encoding UTF-16.
    const ascii = "Sup3r secret!";
    assert.equal(`$3$$${(await ntHash(ascii)).toLowerCase()}`, mkpasswd(ascii, "-m", "nt"));
  }
});

test("randomPassword: alphanumeric, default length 20", () => {
  assert.match(randomPassword(), /^[A-Za-z0-9]{20}$/);
  assert.match(randomPassword(64), /^[A-Za-z0-9]{64}$/);
  assert.notEqual(randomPassword(), randomPassword());
  assert.throws(() => randomPassword(0), RangeError);
});

test("unixcrypt fallback agrees with native", { skip: NO_ADDON }, async () => {
  const pw = NON_ASCII;
  const fromNative = await hashPassword(pw, 5000);
  const fromNative10k = await hashPassword(pw, 10000);
  const sha256 = hostCrypt(pw, "$5$rounds=6000$saltsaltsaltsalt")!;
  const yes = hostCrypt(pw, "$y$j9T$F5Jx5fExrKuPp53xLKQ..1");

  await withBackend("unixcrypt", async () => {
    assert.equal(hashBackend(), "unixcrypt");
    // Several at once: more tasks than workers, so the pool queues.
    const made = await Promise.all([5000, 10000, 5000, 10000, 5000].map((r) => hashPassword(pw, r)));
    for (const h of made) assert.ok(hostVerifies(pw, h), h);

    assert.equal(await verifyPassword(pw, fromNative), true);
    assert.equal(await verifyPassword(pw, fromNative10k), true);
    assert.equal(await verifyPassword(pw, sha256), true);
    assert.equal(await verifyPassword("nope", fromNative), false);
    if (yes?.startsWith("$y$")) assert.equal(await verifyPassword(pw, yes), false, "$y$ needs native");
    assert.equal(await verifyPassword("pw", "$6$rounds=abc$salt$hash"), false);

    await withBackend("native", async () => {
      for (const h of made) assert.equal(await verifyPassword(pw, h), true, h);
    });
  });
  assert.equal(hashBackend(), "native");
});
