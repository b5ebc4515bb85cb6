// Escaping of user input placed in LDAP filters (RFC 4515 §3) and distinguished names (RFC 4514
// §2.4), and DN normalisation for matching groups by full DN. Every value a user types (a login
// name) goes through these before it reaches the directory: `*`, `)(uid=*`, `\00` or
// `,cn=admin` stay literal characters of one value and never change the query's shape.

/** A value for an LDAP search filter: `\ * ( )` and NUL (and other control bytes) as `\xx`. */
export function escapeFilterValue(value: string): string {
  let out = "";
  for (const ch of value) {
    const code = ch.codePointAt(0)!;
    if (ch === "\\" || ch === "*" || ch === "(" || ch === ")" || code < 0x20 || code === 0x7f) {
      out += `\\${code.toString(16).padStart(2, "0")}`;
    } else {
      out += ch;
    }
  }
  return out;
}

/** A value for one RDN of a DN: `\ , + " < > ; =`, a leading `#` or space and a trailing space escaped; NUL as `\00`. */
export function escapeDnValue(value: string): string {
  let out = "";
  const chars = [...value];
  chars.forEach((ch, i) => {
    const code = ch.codePointAt(0)!;
    if (code === 0) out += "\\00";
    else if (code < 0x20 || code === 0x7f) out += `\\${code.toString(16).padStart(2, "0")}`;
    else if ('\\,+"<>;='.includes(ch)) out += `\\${ch}`;
    else if ((i === 0 && (ch === "#" || ch === " ")) || (i === chars.length - 1 && ch === " ")) out += `\\${ch}`;
    else out += ch;
  });
  return out;
}

/** An attribute type name as used in a filter or RDN (the server fields user_id_field, group_id_field). */
export const ATTRIBUTE_NAME = /^[A-Za-z][A-Za-z0-9-]{0,63}$/;

/**
 * Split a DN into its RDNs at unescaped commas (an escaped `\,` stays inside its value).
 * Returns null for a DN with a dangling escape.
 */
function splitRdns(dn: string): string[] | null {
  const parts: string[] = [];
  let cur = "";
  for (let i = 0; i < dn.length; i++) {
    const ch = dn[i];
    if (ch === "\\") {
      if (i + 1 >= dn.length) return null;
      cur += ch + dn[i + 1];
      i++;
    } else if (ch === "," || ch === ";") {
      parts.push(cur);
      cur = "";
    } else {
      cur += ch;
    }
  }
  parts.push(cur);
  return parts;
}

/** Decode RFC 4514 escapes (`\,` and `\2c`) of one value, to compare values written differently. */
function unescapeValue(v: string): string {
  const bytes: number[] = [];
  const enc = new TextEncoder();
  for (let i = 0; i < v.length; i++) {
    if (v[i] === "\\" && /^[0-9a-fA-F]{2}$/.test(v.slice(i + 1, i + 3))) {
      bytes.push(Number.parseInt(v.slice(i + 1, i + 3), 16));
      i += 2;
    } else if (v[i] === "\\" && i + 1 < v.length) {
      bytes.push(...enc.encode(v[i + 1]));
      i++;
    } else {
      bytes.push(...enc.encode(v[i]));
    }
  }
  return new TextDecoder().decode(new Uint8Array(bytes));
}

/**
 * A DN in a canonical form for equality: attribute types and values lower-cased (directory
 * names and group names compare case-insensitively), spaces around separators dropped, escapes
 * decoded and re-applied one way. Groups are matched by their whole DN this way — never by the
 * first RDN alone, so `cn=staff,ou=elsewhere` is not `cn=staff,ou=groups`.
 */
export function normalizeDn(dn: string): string {
  const rdns = splitRdns(dn.trim());
  if (!rdns) return dn.trim().toLowerCase();
  return rdns
    .map((rdn) =>
      rdn
        .split(/(?<!\\)\+/)
        .map((ava) => {
          const eq = ava.indexOf("=");
          if (eq < 0) return ava.trim().toLowerCase();
          return `${ava.slice(0, eq).trim().toLowerCase()}=${escapeDnValue(unescapeValue(ava.slice(eq + 1).trim()).toLowerCase())}`;
        })
        .sort()
        .join("+"),
    )
    .join(",");
}
