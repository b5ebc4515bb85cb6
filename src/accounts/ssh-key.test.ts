import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { spawnSync } from "node:child_process";
import { generateKeyPairSync, type KeyObject } from "node:crypto";
import { ValidationErrors, ERRNO } from "../server/errors.js";
import { fingerprint, parseSshPublicKeys, validateSshPubkey } from "./ssh-key.js";

// ---- OpenSSH wire encoding, for keys ssh-keygen cannot make here (security keys, broken ones) ----

function sshString(data: Buffer | string): Buffer {
  const body = typeof data === "string" ? Buffer.from(data) : data;
  const len = Buffer.alloc(4);
  len.writeUInt32BE(body.length);
  return Buffer.concat([len, body]);
}

function mpint(magnitude: Buffer): Buffer {
  let m = magnitude;
  while (m.length > 0 && m[0] === 0) m = m.subarray(1);
  return sshString(m.length > 0 && m[0] & 0x80 ? Buffer.concat([Buffer.from([0]), m]) : m);
}

const b64u = (s: string) => Buffer.from(s, "base64url");

function encodePublicKey(key: KeyObject, type: string): Buffer {
  const jwk = key.export({ format: "jwk" });
  switch (type) {
    case "ssh-ed25519":
      return Buffer.concat([sshString(type), sshString(b64u(jwk.x!))]);
    case "sk-ssh-ed25519@openssh.com":
      return Buffer.concat([sshString(type), sshString(b64u(jwk.x!)), sshString("ssh:")]);
    case "ssh-rsa":
      return Buffer.concat([sshString(type), mpint(b64u(jwk.e!)), mpint(b64u(jwk.n!))]);
    default: {
      const curve = type.startsWith("sk-") ? "nistp256" : type.slice("ecdsa-sha2-".length);
      const point = Buffer.concat([Buffer.from([4]), b64u(jwk.x!), b64u(jwk.y!)]);
      const parts = [sshString(type), sshString(curve), sshString(point)];
      if (type.startsWith("sk-")) parts.push(sshString("ssh:"));
      return Buffer.concat(parts);
    }
  }
}

function nodeKey(type: string): KeyObject {
  if (type.includes("ed25519")) return generateKeyPairSync("ed25519").publicKey;
  if (type === "ssh-rsa") return generateKeyPairSync("rsa", { modulusLength: 2048 }).publicKey;
  const crv = type.includes("384") ? "P-384" : type.includes("521") ? "P-521" : "P-256";
  return generateKeyPairSync("ec", { namedCurve: crv }).publicKey;
}

const line = (type: string, blob: Buffer, comment = "") => `${type} ${blob.toString("base64")}${comment ? " " + comment : ""}`;

// ---- keys from the host's ssh-keygen (or node:crypto when it is missing) ----

const hasSshKeygen = spawnSync("ssh-keygen", ["-?"]).error === undefined;
let dir: string;
const keys: Record<string, { line: string; fp: string | null; bits: number }> = {};

function sshKeygenFingerprint(pubLine: string): string | null {
  if (!hasSshKeygen) return null;
  const file = path.join(dir, `fp-${Object.keys(keys).length}-${Math.random()}.pub`);
  writeFileSync(file, pubLine + "\n");
  const out = spawnSync("ssh-keygen", ["-l", "-E", "sha256", "-f", file], { encoding: "utf8" });
  assert.equal(out.status, 0, out.stderr);
  return out.stdout.split(" ")[1];
}

before(() => {
  dir = mkdtempSync(path.join(tmpdir(), "gh-sshkey-"));
  const specs: [string, string[], number][] = [
    ["ssh-ed25519", ["-t", "ed25519"], 256],
    ["ssh-rsa", ["-t", "rsa", "-b", "2048"], 2048],
    ["ecdsa-sha2-nistp256", ["-t", "ecdsa", "-b", "256"], 256],
    ["ecdsa-sha2-nistp384", ["-t", "ecdsa", "-b", "384"], 384],
    ["ecdsa-sha2-nistp521", ["-t", "ecdsa", "-b", "521"], 521],
    ["ssh-dss", ["-t", "dsa"], 1024],
  ];
  for (const [type, args, bits] of specs) {
    let pub: string | null = null;
    if (hasSshKeygen) {
      const file = path.join(dir, type);
      const out = spawnSync("ssh-keygen", ["-q", ...args, "-N", "", "-C", `${type}@test`, "-f", file], { encoding: "utf8" });
      if (out.status === 0) pub = readFileSync(file + ".pub", "utf8").trim();
    }
    if (pub === null) {
      if (type === "ssh-dss") continue; // node:crypto cannot make DSA keys in OpenSSL 3 builds reliably
      pub = line(type, encodePublicKey(nodeKey(type), type), `${type}@test`);
    }
    keys[type] = { line: pub, fp: sshKeygenFingerprint(pub), bits };
  }
  for (const type of ["sk-ssh-ed25519@openssh.com", "sk-ecdsa-sha2-nistp256@openssh.com"]) {
    const pub = line(type, encodePublicKey(nodeKey(type), type), "fido");
    keys[type] = { line: pub, fp: sshKeygenFingerprint(pub), bits: 256 };
  }
});

after(() => rmSync(dir, { recursive: true, force: true }));

test("every supported key type parses, with ssh-keygen's size and fingerprint", () => {
  assert.ok(Object.keys(keys).length >= 7);
  for (const [type, k] of Object.entries(keys)) {
    const { keys: parsed, errors } = parseSshPublicKeys(k.line);
    assert.deepEqual(errors, [], type);
    assert.equal(parsed.length, 1);
    assert.equal(parsed[0].type, type);
    assert.equal(parsed[0].bits, k.bits, type);
    assert.equal(parsed[0].line, 1);
    assert.equal(parsed[0].options, null);
    if (k.fp) assert.equal(fingerprint(parsed[0]), k.fp, type);
    assert.match(fingerprint(parsed[0].blob), /^SHA256:[A-Za-z0-9+/]{43}$/);
  }
});

test("several keys, blank lines, comments, CRLF and an options prefix", () => {
  const ed = keys["ssh-ed25519"].line;
  const rsa = keys["ssh-rsa"].line;
  const text = `# laptop\r\n${ed}\r\n\r\n   \n  # work\nno-pty,command="echo a b \\"c\\"",from="10.0.0.0/8" ${rsa}\n`;
  const { keys: parsed, errors } = parseSshPublicKeys(text);
  assert.deepEqual(errors, []);
  assert.equal(parsed.length, 2);
  assert.equal(parsed[0].line, 2);
  assert.equal(parsed[0].comment, "ssh-ed25519@test");
  assert.equal(parsed[1].line, 6);
  assert.equal(parsed[1].type, "ssh-rsa");
  assert.equal(parsed[1].options, 'no-pty,command="echo a b \\"c\\"",from="10.0.0.0/8"');
  assert.equal(parsed[1].comment, "ssh-rsa@test");
  // A simple flag option without quotes.
  assert.deepEqual(parseSshPublicKeys(`restrict ${ed}`).errors, []);
  // Comments may contain spaces; a key without comment is fine.
  const [type, body] = ed.split(" ");
  assert.equal(parseSshPublicKeys(`${type} ${body} Jane Doe <jane@x>`).keys[0].comment, "Jane Doe <jane@x>");
  assert.equal(parseSshPublicKeys(`${type} ${body}`).keys[0].comment, "");
  assert.equal(parseSshPublicKeys(`${type} ${body.replace(/=+$/, "")}`).errors.length, 0); // padding optional
});

test("malformed keys are rejected with a line-numbered reason", () => {
  const ed = keys["ssh-ed25519"].line;
  const [edType, edBody] = ed.split(" ");
  const edBlob = Buffer.from(edBody, "base64");
  const rsaBody = keys["ssh-rsa"].line.split(" ")[1];
  const ecBlob = Buffer.from(keys["ecdsa-sha2-nistp256"].line.split(" ")[1], "base64");
  const small = generateKeyPairSync("rsa", { modulusLength: 512 }).publicKey;

  const cases: [string, string][] = [
    [`ssh-foo ${edBody}`, 'Line 1: unsupported key type "ssh-foo"'],
    [`no-pty ssh-foo ${edBody} c`, 'Line 1: unsupported key type "ssh-foo"'],
    ["-----BEGIN OPENSSH PRIVATE KEY-----", 'Line 1: unsupported key type "-----BEGIN"'],
    [`${edBody}`, `Line 1: unsupported key type ${JSON.stringify(edBody)}`],
    [edType, 'Line 1: missing key data after "ssh-ed25519"'],
    [`${edType} AAAA!!!!`, "Line 1: key data is not valid base64"],
    [`${edType} ${edBody.slice(0, 21)}`, "Line 1: key data is not valid base64"],
    [`${edType} ${edBody.slice(0, 20)}`, "Line 1: malformed ssh-ed25519 key data"], // truncated after the type
    [`ssh-rsa ${edBody}`, 'Line 1: key data does not match the declared type "ssh-rsa"'],
    [`${edType} ${rsaBody}`, 'Line 1: key data does not match the declared type "ssh-ed25519"'],
    [line(edType, edBlob.subarray(0, edBlob.length - 4)), "Line 1: malformed ssh-ed25519 key data"],
    [line(edType, Buffer.concat([edBlob, Buffer.from([0, 0, 0, 0])])), "Line 1: malformed ssh-ed25519 key data"],
    [line(edType, Buffer.from([0, 0, 0, 200, 1])), "Line 1: malformed ssh-ed25519 key data"],
    [line("ssh-rsa", encodePublicKey(small, "ssh-rsa")), "Line 1: RSA key is too short (512 bits; at least 1024 required)"],
    [line("ssh-rsa", Buffer.concat([sshString("ssh-rsa"), sshString(Buffer.from([0x81])), mpint(Buffer.alloc(256, 0xff))])), "Line 1: malformed ssh-rsa key data"],
    [line("ecdsa-sha2-nistp384", Buffer.concat([sshString("ecdsa-sha2-nistp384"), ecBlob.subarray(sshString("ecdsa-sha2-nistp256").length)])), "Line 1: malformed ecdsa-sha2-nistp384 key data"],
    [
      line("ecdsa-sha2-nistp256", Buffer.concat([sshString("ecdsa-sha2-nistp256"), sshString("nistp256"), sshString(Buffer.concat([Buffer.from([4]), Buffer.alloc(64, 7)]))])),
      "Line 1: malformed ecdsa-sha2-nistp256 key data",
    ],
    [`command="oops ${ed}`, "Line 1: unterminated quoted string in key options"],
    [`#ok\n\n${ed}\nssh-ed25519`, 'Line 4: missing key data after "ssh-ed25519"'],
  ];
  for (const [text, message] of cases) {
    const { keys: parsed, errors } = parseSshPublicKeys(text);
    assert.deepEqual(errors, [message], text);
    assert.equal(parsed.length, text.includes("\n") ? 1 : 0, text);
  }
});

test("validateSshPubkey adds one error per bad line on the field", () => {
  const attr = "user_update.sshpubkey";
  const ed = keys["ssh-ed25519"].line;
  for (const empty of [null, undefined, ""]) {
    const errors = new ValidationErrors();
    assert.deepEqual(validateSshPubkey(errors, attr, empty), []);
    assert.equal(errors.size, 0);
  }
  const ok = new ValidationErrors();
  assert.equal(validateSshPubkey(ok, attr, `${ed}\n${keys["ssh-rsa"].line}`).length, 2);
  assert.equal(ok.size, 0);

  const errors = new ValidationErrors();
  const parsed = validateSshPubkey(errors, attr, `nonsense\n${ed}\nssh-rsa AAAA`);
  assert.equal(parsed.length, 1);
  assert.deepEqual(errors.errors, [
    [attr, 'Invalid SSH public key. Line 1: unsupported key type "nonsense"', ERRNO.EINVAL],
    [attr, "Invalid SSH public key. Line 3: malformed ssh-rsa key data", ERRNO.EINVAL],
  ]);
});

test("authorized_keys options: only sshd's, well-formed and bounded; no control characters in a line", () => {
  const { publicKey } = generateKeyPairSync("ed25519");
  const raw = publicKey.export({ format: "der", type: "spki" }).subarray(-32);
  const blob = Buffer.concat([Buffer.from([0, 0, 0, 11]), Buffer.from("ssh-ed25519"), Buffer.from([0, 0, 0, 32]), raw]);
  const key = `ssh-ed25519 ${blob.toString("base64")} me@host`;
  const ok = (opts: string) => parseSshPublicKeys(`${opts} ${key}`).errors;
  assert.deepEqual(ok(`no-pty,command="/usr/bin/rsync --server \\"x\\"",from="10.0.0.0/8"`), []);
  assert.deepEqual(ok("restrict,pty"), []);
  assert.match(ok("no-ptyy")[0], /unsupported key type|unknown key option/);
  assert.match(ok(`bogus="x",no-pty`)[0], /unknown key option "bogus"/);
  assert.match(ok(`no-pty="x"`)[0], /takes no value/);
  assert.match(ok(`command=/bin/sh`)[0], /double quotes/);
  assert.match(ok(`command`)[0], /needs a value/);
  assert.match(ok(`no-pty,`)[0], /end with a comma/);
  assert.match(parseSshPublicKeys(`${key}\u0000evil`).errors[0], /control character U\+0000/);
  assert.match(parseSshPublicKeys(`${key}\rcommand="x" ${key}`).errors[0], /control character U\+000D/);
  assert.deepEqual(parseSshPublicKeys(`${key}\r\n${key}\n`).errors, []); // CRLF line ends are fine
});

test("authorized_keys option values in the forms sshd parses", () => {
  const { publicKey } = generateKeyPairSync("ed25519");
  const raw = publicKey.export({ format: "der", type: "spki" }).subarray(-32);
  const blob = Buffer.concat([Buffer.from([0, 0, 0, 11]), Buffer.from("ssh-ed25519"), Buffer.from([0, 0, 0, 32]), raw]);
  const key = `ssh-ed25519 ${blob.toString("base64")}`;
  const errs = (opts: string) => parseSshPublicKeys(`${opts} ${key}`).errors;
  for (const ok of [
    `environment="A_1=x y"`,
    `expiry-time="20301231"`,
    `expiry-time="203012312359Z"`,
    `from="10.0.0.0/8,!*.bad,host?.example.com"`,
    `permitopen="localhost:8080"`,
    `permitopen="[::1]:22"`,
    `permitlisten="8080"`,
    `permitopen="*:*"`,
    `tunnel="0"`,
    `principals="a,b"`,
    `command=""`,
  ]) {
    assert.deepEqual(errs(ok), [], ok);
  }
  for (const bad of [`environment="=x"`, `expiry-time="tomorrow"`, `from="a b"`, `from=""`, `permitopen="host:port"`, `tunnel="tun0"`, `principals=""`]) {
    assert.equal(errs(bad).length, 1, bad);
  }
});
