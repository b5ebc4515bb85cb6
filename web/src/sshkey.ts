// Client-side check of pasted OpenSSH public keys (one per line): `[options] type base64 [comment]`,
// where the base64 body decodes to a blob that starts with the same key type string. The server
// validates again; this only gives quick feedback in the form.

const TYPES = new Set([
  "ssh-rsa",
  "ssh-dss",
  "ssh-ed25519",
  "ssh-ed448",
  "ecdsa-sha2-nistp256",
  "ecdsa-sha2-nistp384",
  "ecdsa-sha2-nistp521",
  "sk-ssh-ed25519@openssh.com",
  "sk-ecdsa-sha2-nistp256@openssh.com",
  "ssh-rsa-cert-v01@openssh.com",
  "ssh-ed25519-cert-v01@openssh.com",
  "ecdsa-sha2-nistp256-cert-v01@openssh.com",
]);

export interface KeyCheck {
  ok: boolean;
  keys: { type: string; comment: string }[];
  errors: string[];
}

function b64decode(s: string): Uint8Array | null {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(s) || s.length % 4 !== 0) return null;
  try {
    const bin = atob(s);
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  } catch {
    return null;
  }
}

export function checkSshKeys(text: string): KeyCheck {
  const keys: KeyCheck["keys"] = [];
  const errors: string[] = [];
  const rows = text.split(/\r?\n/);
  rows.forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith("#")) return;
    const parts = line.split(/\s+/);
    // Skip leading options (e.g. from="…",no-pty) up to the first known type.
    const at = parts.findIndex((p) => TYPES.has(p));
    if (at < 0) {
      errors.push(`Line ${i + 1}: unknown key type "${parts[0].slice(0, 40)}"`);
      return;
    }
    const type = parts[at];
    const body = parts[at + 1];
    if (!body) {
      errors.push(`Line ${i + 1}: the key data is missing`);
      return;
    }
    const blob = b64decode(body);
    if (!blob || blob.length < 4) {
      errors.push(`Line ${i + 1}: the key data is not valid base64`);
      return;
    }
    const len = (blob[0] << 24) | (blob[1] << 16) | (blob[2] << 8) | blob[3];
    const inner = new TextDecoder().decode(blob.slice(4, 4 + len));
    if (len <= 0 || len > 64 || inner !== type) {
      errors.push(`Line ${i + 1}: the key data does not match its type ${type}`);
      return;
    }
    keys.push({ type, comment: parts.slice(at + 2).join(" ") });
  });
  if (!keys.length && !errors.length) errors.push("No key found");
  return { ok: errors.length === 0, keys, errors };
}
