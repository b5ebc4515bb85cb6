// OpenSSH public key validation for the `sshpubkey` field (SPEC.md: "validated (type and base64
// body parse as an OpenSSH public key; several keys, one per line, allowed)").
//
// The field ends up verbatim in authorized_keys, so we accept that file's syntax: blank lines,
// `#` comments, and an optional options prefix (`no-pty,command="…" ssh-ed25519 AAAA… comment`).
// A key is only accepted when its base64 body is the wire encoding sshd would parse: the embedded
// type name equals the declared one and the type's fields are all present with nothing left over.
// That catches the usual paste accidents (truncated body, private key, mixed-up type) up front
// instead of leaving a silently ignored line in authorized_keys.

import { createHash, createPublicKey } from "node:crypto";
import type { ValidationErrors } from "../server/errors.js";

export const SSH_KEY_TYPES = [
  "ssh-rsa",
  "ssh-ed25519",
  "ecdsa-sha2-nistp256",
  "ecdsa-sha2-nistp384",
  "ecdsa-sha2-nistp521",
  "sk-ssh-ed25519@openssh.com",
  "sk-ecdsa-sha2-nistp256@openssh.com",
  "ssh-dss",
] as const;
export type SshKeyType = (typeof SSH_KEY_TYPES)[number];

/** sshd refuses shorter RSA moduli (SSH_RSA_MINIMUM_MODULUS_SIZE), so such a key could never log in. */
export const RSA_MIN_BITS = 1024;

export interface ParsedKey {
  /** 1-based line number in the submitted text. */
  line: number;
  /** The authorized_keys options prefix as written, or null. */
  options: string | null;
  type: SshKeyType;
  /** The base64 body as written. */
  base64: string;
  /** The decoded wire-format key. */
  blob: Buffer;
  /** Everything after the body ("" when absent). */
  comment: string;
  /** Key size as `ssh-keygen -l` prints it. */
  bits: number;
}

export interface ParseResult {
  keys: ParsedKey[];
  /** One message per rejected line, e.g. `Line 2: unsupported key type "ssh-foo"`. */
  errors: string[];
}

function isKeyType(t: string): t is SshKeyType {
  return (SSH_KEY_TYPES as readonly string[]).includes(t);
}

/** Thrown by the blob reader; turned into a per-line message. */
class KeyFormatError extends Error {}

/** Reads SSH wire primitives (RFC 4251 §5) from a key blob. */
class WireReader {
  private pos = 0;
  constructor(private readonly buf: Buffer) {}

  string(): Buffer {
    if (this.pos + 4 > this.buf.length) throw new KeyFormatError();
    const len = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    if (this.pos + len > this.buf.length) throw new KeyFormatError();
    const out = this.buf.subarray(this.pos, this.pos + len);
    this.pos += len;
    return out;
  }

  /** A non-negative mpint; returns its magnitude without leading zero bytes. */
  mpint(): Buffer {
    const raw = this.string();
    if (raw.length > 0 && raw[0] & 0x80) throw new KeyFormatError(); // negative
    let start = 0;
    while (start < raw.length && raw[start] === 0) start++;
    return raw.subarray(start);
  }

  end(): void {
    if (this.pos !== this.buf.length) throw new KeyFormatError(); // trailing data
  }
}

function bitLength(magnitude: Buffer): number {
  if (magnitude.length === 0) return 0;
  return (magnitude.length - 1) * 8 + (32 - Math.clz32(magnitude[0]));
}

const EC_CURVES: Record<string, { crv: string; coord: number; bits: number }> = {
  nistp256: { crv: "P-256", coord: 32, bits: 256 },
  nistp384: { crv: "P-384", coord: 48, bits: 384 },
  nistp521: { crv: "P-521", coord: 66, bits: 521 },
};

/** Checks an uncompressed EC point really lies on the curve (OpenSSL rejects it otherwise). */
function checkEcPoint(curveName: string, point: Buffer): number {
  const curve = EC_CURVES[curveName];
  if (!curve || point.length !== 1 + 2 * curve.coord || point[0] !== 0x04) throw new KeyFormatError();
  const x = point.subarray(1, 1 + curve.coord).toString("base64url");
  const y = point.subarray(1 + curve.coord).toString("base64url");
  try {
    createPublicKey({ key: { kty: "EC", crv: curve.crv, x, y }, format: "jwk" });
  } catch {
    throw new KeyFormatError();
  }
  return curve.bits;
}

/** Parse the type-specific fields after the embedded type name; returns the key size. */
function parseBody(type: SshKeyType, r: WireReader): number {
  let bits: number;
  switch (type) {
    case "ssh-rsa": {
      const e = r.mpint();
      const n = r.mpint();
      if (e.length === 0 || n.length === 0) throw new KeyFormatError();
      bits = bitLength(n);
      break;
    }
    case "ssh-dss": {
      const p = r.mpint();
      const q = r.mpint();
      const g = r.mpint();
      const y = r.mpint();
      if (!p.length || !q.length || !g.length || !y.length) throw new KeyFormatError();
      bits = bitLength(p);
      break;
    }
    case "ssh-ed25519":
    case "sk-ssh-ed25519@openssh.com": {
      if (r.string().length !== 32) throw new KeyFormatError();
      bits = 256;
      break;
    }
    case "ecdsa-sha2-nistp256":
    case "ecdsa-sha2-nistp384":
    case "ecdsa-sha2-nistp521":
    case "sk-ecdsa-sha2-nistp256@openssh.com": {
      const curveName = r.string().toString("latin1");
      const expected = type.startsWith("sk-") ? "nistp256" : type.slice("ecdsa-sha2-".length);
      if (curveName !== expected) throw new KeyFormatError();
      bits = checkEcPoint(curveName, r.string());
      break;
    }
  }
  // Security keys also carry the FIDO application string (usually "ssh:").
  if (type.startsWith("sk-")) r.string();
  r.end();
  return bits;
}

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/** Strictly decode base64: only canonical encodings (padding optional) are accepted. */
function decodeBase64(text: string): Buffer | null {
  if (!BASE64.test(text) || text.replace(/=+$/, "").length % 4 === 1) return null;
  const buf = Buffer.from(text, "base64");
  if (buf.toString("base64").replace(/=+$/, "") !== text.replace(/=+$/, "")) return null;
  return buf;
}

/**
 * Split an authorized_keys options prefix off `line`. Options end at the first whitespace outside
 * double quotes; `\"` inside quotes does not close them (sshd's rule).
 */
function splitOptions(line: string): { options: string; rest: string } | { error: string } {
  let inQuotes = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === "\\" && inQuotes && line[i + 1] === '"') i++;
    else if (c === '"') inQuotes = !inQuotes;
    else if (!inQuotes && (c === " " || c === "\t")) return { options: line.slice(0, i), rest: line.slice(i).trimStart() };
  }
  if (inQuotes) return { error: "unterminated quoted string in key options" };
  return { options: line, rest: "" };
}

/**
 * authorized_keys options sshd knows (sshd(8) "AUTHORIZED_KEYS FILE FORMAT"): flags, and options
 * taking a double-quoted value. sshd refuses a line with any other option, so a key written with
 * one would silently never log in.
 */
const KEY_FLAGS = new Set([
  "agent-forwarding",
  "cert-authority",
  "no-agent-forwarding",
  "no-port-forwarding",
  "no-pty",
  "no-user-rc",
  "no-X11-forwarding",
  "port-forwarding",
  "pty",
  "restrict",
  "user-rc",
  "X11-forwarding",
  "no-touch-required",
  "touch-required",
  "verify-required",
]);
const KEY_VALUED = new Set(["command", "environment", "expiry-time", "from", "permitlisten", "permitopen", "principals", "tunnel"]);
/** Bounds on one options prefix: sshd has none, a line of authorized_keys should. */
export const MAX_KEY_OPTIONS = 32;
export const MAX_KEY_OPTIONS_LENGTH = 4096;

/**
 * The value of a valued option, in the forms sshd accepts (sshd(8)); one it cannot parse makes
 * sshd ignore the whole key line. `command` and `principals` take any text.
 */
function checkOptionValue(name: string, value: string): string | null {
  switch (name) {
    case "environment":
      return /^[A-Za-z_][A-Za-z0-9_]*=/.test(value) ? null : "must be NAME=value";
    case "expiry-time":
      return /^\d{8}(\d{4}(\d{2})?)?Z?$/.test(value) ? null : "must be YYYYMMDD[HHMM[SS]][Z]";
    case "from":
      return /^[^\s,]+(,[^\s,]+)*$/.test(value) ? null : "must be a comma-separated list of host patterns";
    case "permitopen":
    case "permitlisten":
      return /^(\[[^\]\s]+\]|[^\s:]+)?:?(\d{1,5}|\*)$/.test(value) ? null : "must be [host:]port";
    case "tunnel":
      return /^\d{1,10}$/.test(value) ? null : "must be a tunnel device number";
    case "command":
      return null;
    default:
      return value.length ? null : "needs a value";
  }
}

/** Check an options prefix option by option; returns a message or null. */
export function checkKeyOptions(options: string): string | null {
  if (options.length > MAX_KEY_OPTIONS_LENGTH) return `key options exceed ${MAX_KEY_OPTIONS_LENGTH} characters`;
  let i = 0;
  let count = 0;
  while (i < options.length) {
    if (++count > MAX_KEY_OPTIONS) return `more than ${MAX_KEY_OPTIONS} key options`;
    const m = /^[A-Za-z0-9-]+/.exec(options.slice(i));
    if (!m) return `malformed key options near ${JSON.stringify(options.slice(i, i + 20))}`;
    const name = m[0];
    i += name.length;
    const lower = name.toLowerCase();
    const flag = [...KEY_FLAGS].some((f) => f.toLowerCase() === lower);
    const valued = KEY_VALUED.has(lower);
    if (!flag && !valued) return `unknown key option ${JSON.stringify(name)}`;
    if (options[i] === "=") {
      if (!valued) return `key option ${JSON.stringify(name)} takes no value`;
      if (options[i + 1] !== '"') return `the value of key option ${JSON.stringify(name)} must be in double quotes`;
      let j = i + 2;
      while (j < options.length && options[j] !== '"') j += options[j] === "\\" && options[j + 1] === '"' ? 2 : 1;
      if (j >= options.length) return "unterminated quoted string in key options";
      const bad = checkOptionValue(lower, options.slice(i + 2, j).replace(/\\"/g, '"'));
      if (bad !== null) return `key option ${JSON.stringify(name)}: ${bad}`;
      i = j + 1;
    } else if (valued) {
      return `key option ${JSON.stringify(name)} needs a value`;
    }
    if (i < options.length) {
      if (options[i] !== ",") return `malformed key options near ${JSON.stringify(options.slice(i, i + 20))}`;
      i++;
      if (i === options.length) return "key options end with a comma";
    }
  }
  return null;
}

/** Control characters other than the tab (a separator sshd accepts) cannot be written to authorized_keys. */
const KEY_LINE_CONTROL = /[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]/;

function parseLine(text: string, lineNo: number): ParsedKey | string {
  const fail = (msg: string) => `Line ${lineNo}: ${msg}`;
  const control = KEY_LINE_CONTROL.exec(text);
  if (control) return fail(`control character U+${control[0].codePointAt(0)!.toString(16).padStart(4, "0").toUpperCase()} is not allowed`);
  let options: string | null = null;
  let rest = text;
  const first = text.split(/[ \t]+/, 1)[0];
  if (!isKeyType(first)) {
    const split = splitOptions(text);
    if ("error" in split) return fail(split.error);
    const next = split.rest.split(/[ \t]+/, 1)[0];
    if (!isKeyType(next)) {
      // Name the word the user most likely meant as the type: the one before the key body.
      const words = text.split(/[ \t]+/);
      const bodyAt = words.findIndex((w, i) => i > 0 && /^[A-Za-z0-9+/]{16,}={0,2}$/.test(w));
      const claimed = bodyAt > 0 ? words[bodyAt - 1] : first;
      return fail(`unsupported key type ${JSON.stringify(claimed)}`);
    }
    options = split.options;
    rest = split.rest;
    const bad = checkKeyOptions(options);
    if (bad !== null) return fail(bad);
  }
  const [typeWord, base64 = "", ...commentWords] = rest.split(/[ \t]+/);
  const type = typeWord as SshKeyType;
  if (base64 === "") return fail(`missing key data after "${type}"`);
  const blob = decodeBase64(base64);
  if (blob === null) return fail("key data is not valid base64");
  const r = new WireReader(blob);
  let embedded: string;
  try {
    embedded = r.string().toString("latin1");
  } catch {
    return fail(`malformed ${type} key data`);
  }
  if (embedded !== type) return fail(`key data does not match the declared type "${type}"`);
  let bits: number;
  try {
    bits = parseBody(type, r);
  } catch {
    return fail(`malformed ${type} key data`);
  }
  if (type === "ssh-rsa" && bits < RSA_MIN_BITS) {
    return fail(`RSA key is too short (${bits} bits; at least ${RSA_MIN_BITS} required)`);
  }
  return { line: lineNo, options, type, base64, blob, comment: commentWords.join(" "), bits };
}

/** Parse authorized_keys-style text: every non-blank, non-`#` line must be a valid public key. */
export function parseSshPublicKeys(text: string): ParseResult {
  const keys: ParsedKey[] = [];
  const errors: string[] = [];
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) return;
    const parsed = parseLine(line, index + 1);
    if (typeof parsed === "string") errors.push(parsed);
    else keys.push(parsed);
  });
  return { keys, errors };
}

/**
 * Validate the `sshpubkey` field; null/empty means "no keys" and is valid. Each bad line adds one
 * error on `attr`. Returns the parsed keys.
 */
export function validateSshPubkey(errors: ValidationErrors, attr: string, text: string | null | undefined): ParsedKey[] {
  if (!text) return [];
  const result = parseSshPublicKeys(text);
  for (const message of result.errors) errors.add(attr, `Invalid SSH public key. ${message}`, "ssh_key.invalid");
  return result.keys;
}

/** `SHA256:<unpadded base64>` of the key blob, as `ssh-keygen -l` prints it. */
export function fingerprint(key: ParsedKey | Uint8Array): string {
  const blob = key instanceof Uint8Array ? key : key.blob;
  return "SHA256:" + createHash("sha256").update(blob).digest("base64").replace(/=+$/, "");
}
