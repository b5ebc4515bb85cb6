// Name, full-name and email validators for users and groups, with the reference's exact messages
// (reference §1.3 and §2.2; upstream `api/base/types/user.py` and `api/base/validators/base.py`),
// plus the username suggestion of seed 001.
//
// Lengths and "first character" are counted in Unicode code points, as Python's `len(str)` and
// `str[0]` do, so a name made of astral characters gets the same message as upstream.

import type { ValidationErrors } from "../server/errors.js";
import type { ErrorCode } from "../server/error-codes.js";

const ASCII_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
const DIGITS = "0123456789";

/** Characters allowed anywhere in a user or group name (upstream DEFAULT_VALID_CHARS, in its order). */
export const NAME_VALID_CHARS = ASCII_LETTERS + DIGITS + "_" + "-" + ".";
/** Allowed first characters of a username (upstream DEFAULT_VALID_START). */
export const USERNAME_VALID_START = ASCII_LETTERS + "_";
/** Allowed first characters of a group name (upstream GROUP_VALID_START). */
export const GROUP_VALID_START = ASCII_LETTERS + DIGITS + "_" + ".";
/** Upstream DEFAULT_MAX_LENGTH: UT_NAMESIZE, beyond which utmp accounting breaks. */
export const USERNAME_MAX_LENGTH = 32;
/** RFC 5321 path limit minus the enclosing "<>". */
export const EMAIL_MAX_LENGTH = 254;
/** groupadd(8): "Groupnames may only be up to 32 characters long" (shadow-utils GROUP_NAME_MAX_LENGTH). */
export const GROUP_NAME_MAX_LENGTH = 32;
/** A full name (GECOS) longer than this is not a name (the reference has no bound). */
export const FULL_NAME_MAX_LENGTH = 256;

/**
 * Characters that cannot be rendered faithfully in a host file or a UI: C0/C1 controls and DEL
 * (NUL ends a C string, CR/LF end a record), line/paragraph separators, bidirectional overrides and
 * isolates (they make a name display as another), and lone surrogates (not encodable as UTF-8).
 */
const UNRENDERABLE = /[\p{Cc}\u2028\u2029\u202a-\u202e\u2066-\u2069]|\p{Cs}/u;

/** The first unrenderable character of `value`, or null. */
export function unrenderableChar(value: string): string | null {
  const m = UNRENDERABLE.exec(value);
  return m ? m[0] : null;
}

/**
 * Common bound for a free-text field: no unrenderable character and at most `max` code points.
 * Returns true when the value is acceptable; otherwise one message on `attr`.
 */
export function checkText(errors: ValidationErrors, attr: string, value: string, max: number): boolean {
  const bad = unrenderableChar(value);
  if (bad !== null) {
    errors.add(attr, `Control and formatting characters are not allowed (found ${pyRepr(bad)}).`, "name.control_characters");
    return false;
  }
  if (countCodePoints(value, max + 1) > max) {
    errors.add(attr, `Cannot exceed ${max} characters in length.`, "name.too_long");
    return false;
  }
  return true;
}

/** Code points in `value`, counting no further than `stop`. */
function countCodePoints(value: string, stop: number): number {
  let n = 0;
  for (const _ of value) if (++n >= stop) break;
  return n;
}

/**
 * Python's `repr()` of a str. Upstream messages interpolate values with `!r`, so clients see
 * e.g. `Cannot start with "'-'"` and `No paths matching '/usr/bin/x*' exist`; we reproduce the
 * quoting and escaping rules exactly.
 */
export function pyRepr(value: string): string {
  const quote = value.includes("'") && !value.includes('"') ? '"' : "'";
  let out = quote;
  for (const ch of value) {
    const cp = ch.codePointAt(0)!;
    if (ch === quote || ch === "\\") out += "\\" + ch;
    else if (ch === "\t") out += "\\t";
    else if (ch === "\n") out += "\\n";
    else if (ch === "\r") out += "\\r";
    else if (isPyPrintable(ch)) out += ch;
    else if (cp < 0x100) out += "\\x" + cp.toString(16).padStart(2, "0");
    else if (cp < 0x10000) out += "\\u" + cp.toString(16).padStart(4, "0");
    else out += "\\U" + cp.toString(16).padStart(8, "0");
  }
  return out + quote;
}

// Python's str.isprintable(): everything except "Other" and "Separator" categories, but the
// ASCII space is printable.
const NON_PRINTABLE = /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}\p{Zs}]/u;
function isPyPrintable(ch: string): boolean {
  return ch === " " || !NON_PRINTABLE.test(ch);
}

/**
 * Upstream `validate_name`: first failing rule wins (it raises), so at most one message is added.
 * Returns true when the name is valid.
 */
function validateName(errors: ValidationErrors, attr: string, value: string, validStart: string | null, maxLength: number | null): boolean {
  const chars = [...value];
  let problem: [message: string, code: ErrorCode] | null = null;
  if (chars.length === 0) problem = ["Must be at least 1 character in length", "name.empty"];
  else if (maxLength !== null && chars.length > maxLength)
    problem = [`Cannot exceed ${maxLength} charaters in length`, "name.too_long"]; // sic, upstream typo
  else if (validStart !== null && !validStart.includes(chars[0])) problem = [`Cannot start with "${pyRepr(chars[0])}"`, "name.invalid_start"];
  else if (!chars.every((c) => c.length === 1 && NAME_VALID_CHARS.includes(c))) problem = [`Valid characters are: ${pyRepr([...NAME_VALID_CHARS].join(", "))}`, "name.invalid_characters"];
  if (problem === null) return true;
  errors.add(attr, ...problem);
  return false;
}

/** Local username: 1–32 chars of `[A-Za-z0-9_.-]`, starting with a letter or `_`. */
export function validateUsername(errors: ValidationErrors, attr: string, value: string): boolean {
  return validateName(errors, attr, value, USERNAME_VALID_START, USERNAME_MAX_LENGTH);
}

/**
 * Group name: `[A-Za-z0-9_.-]`, starting with a letter, digit, `_` or `.` (§2.2), and — shadow-utils'
 * `is_valid_name` rules, which the reference does not apply — at most 32 characters, neither `.`
 * nor `..` (they name directories, not groups) nor all digits (read as a gid by chgrp, find, sudo).
 */
export function validateGroupName(errors: ValidationErrors, attr: string, value: string): boolean {
  if (!validateName(errors, attr, value, GROUP_VALID_START, GROUP_NAME_MAX_LENGTH)) return false;
  let problem: [message: string, code: ErrorCode] | null = null;
  if (value === "." || value === "..") problem = [`${pyRepr(value)} is not a valid group name`, "name.reserved"];
  else if (/^[0-9]+$/.test(value)) problem = ["A group name may not consist of digits only (it would be read as a GID)", "name.digits_only"];
  if (problem === null) return true;
  errors.add(attr, ...problem);
  return false;
}

/**
 * Full name (GECOS): non-empty (the model's NonEmptyString message), and neither `:` (the passwd
 * field separator) nor a newline (the record separator). Each forbidden character present gets its
 * own message, as upstream.
 */
export function validateFullName(errors: ValidationErrors, attr: string, value: string): boolean {
  if (value.length === 0) {
    errors.add(attr, "String should have at least 1 character", "name.full_name_empty");
    return false;
  }
  let ok = true;
  for (const ch of [":", "\n"]) {
    if (value.includes(ch)) {
      errors.add(attr, `The ${pyRepr(ch)} character is not allowed.`, "name.full_name_character");
      ok = false;
    }
  }
  // Beyond the reference: every other control character (NUL, CR, …) and a length bound.
  if (ok) ok = checkText(errors, attr, value, FULL_NAME_MAX_LENGTH);
  return ok;
}

/**
 * WHATWG HTML "valid e-mail address" (input type=email): a deliberate, syntax-only subset of
 * RFC 5322 — dot-atom local part characters, `@`, then dot-separated LDH labels of 1–63 characters.
 */
const WHATWG_EMAIL = /^[a-zA-Z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$/;

/**
 * Email (upstream `email_validator`): the upstream messages for the length and a missing part, then
 * the WHATWG syntax (syntax only: the only real check is sending mail). Null and "" are accepted (the entry normalises "" to null). Splits on the right-most `@`.
 */
export function validateEmail(errors: ValidationErrors, attr: string, value: string | null | undefined): boolean {
  if (!value) return true;
  let message: string | null = null;
  const at = value.lastIndexOf("@");
  if ([...value].length > EMAIL_MAX_LENGTH) message = `Maximum length is ${EMAIL_MAX_LENGTH} characters.`;
  else if (at === -1) message = "Missing '@' symbol.";
  else if (at === 0) message = "Missing local part of email string (part before the '@').";
  else if (at === value.length - 1) message = "Missing domain part of email string (part after the '@').";
  // Beyond the reference (which checks only the '@'): the WHATWG address syntax.
  else if (!WHATWG_EMAIL.test(value)) message = "Not a valid email address.";
  if (message === null) return true;
  errors.add(attr, message, "name.email_invalid");
  return false;
}

// Letters that NFKD does not decompose into ASCII but have a conventional transliteration.
const TRANSLITERATE: Record<string, string> = {
  ß: "ss",
  æ: "ae",
  œ: "oe",
  ø: "o",
  đ: "d",
  ð: "d",
  þ: "th",
  ł: "l",
  ı: "i",
  ħ: "h",
  ŋ: "n",
  ĸ: "k",
};

/** Lower-case ASCII letters and digits of one word ("Ólafsdóttir" → "olafsdottir", "O'Brien" → "obrien"). */
function foldWord(word: string): string {
  const lowered = word.toLowerCase();
  let out = "";
  for (const ch of lowered) out += TRANSLITERATE[ch] ?? ch;
  return out.normalize("NFKD").replace(/[^a-z0-9]/g, "");
}

/**
 * Seed 001: "A simplified Username is suggested from the Full Name". We use the common
 * first-initial + last-name style ("John Smith" → "jsmith"; a single word is used whole;
 * "Smith, John" is read as last, first). The result is always a valid username: ASCII-folded,
 * starting with a letter (prefixed "user" otherwise), at most 32 characters, and made unique with
 * a numeric suffix (2, 3, …) while `taken(name)` says the name is in use.
 */
export function suggestUsername(fullName: string, taken: (name: string) => boolean = () => false): string {
  let text = fullName.trim();
  // "Last, First [Middle]" — a single comma is the directory-listing order.
  const commaParts = text.split(",");
  if (commaParts.length === 2 && commaParts[0].trim() && commaParts[1].trim()) {
    text = `${commaParts[1].trim()} ${commaParts[0].trim()}`;
  }
  const words = text
    .split(/[\s,]+/u)
    .map(foldWord)
    .filter((w) => w.length > 0);

  let base: string;
  if (words.length === 0) base = "user";
  else if (words.length === 1) base = words[0];
  else base = words[0][0] + words[words.length - 1];
  if (!/^[a-z_]/.test(base)) base = "user" + base;
  base = base.slice(0, USERNAME_MAX_LENGTH);

  if (!taken(base)) return base;
  for (let n = 2; ; n++) {
    const suffix = String(n);
    const candidate = base.slice(0, USERNAME_MAX_LENGTH - suffix.length) + suffix;
    if (!taken(candidate)) return candidate;
  }
}
