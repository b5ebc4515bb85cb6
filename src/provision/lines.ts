// The per-entity lines of ./generate.ts written straight into bytes, for the model's block
// renderer (./model.ts). At 100,000 users a render from scratch made some 40 MB of strings
// (template literals, one text per block and file) only to encode them into Buffers and drop
// them: the concatenation, the encoding and the garbage collection of those strings were most of
// the render. Here each field is copied into a growing byte buffer as it is read.
//
// The bytes are exactly those of Buffer.from(generate.ts's line): short ASCII strings are copied
// char by char, anything else is encoded by Buffer's own UTF-8 writer. No
// two user-controlled fields of a line are adjacent (a separator always lies between them), so
// encoding field by field gives the bytes of encoding the whole line (lone surrogates included).
// ./model.test.ts compares the model's files with generateAll's on arbitrary rows.

import { hasPassword, isSmbUser, safeName, sudoGroupLines, sudoUserLines } from "./generate.js";
import type { ProvGroup, ProvPolicy, ProvUser } from "./types.js";

const DAY_MS = 86_400_000;
const COLON = 58;
const NL = 10;
/**
 * The constant runs of an smbpasswd line as bytes, each written by one call (a call per piece
 * cost more than the copy: 25-50 ns each, in every smbpasswd line).
 */
const LM_FIELD = Buffer.from(`:${"X".repeat(32)}:`);
const FLAGS_ENABLED_LCT = Buffer.from(":[U          ]:LCT-");
const FLAGS_DISABLED_LCT = Buffer.from(":[DU         ]:LCT-");
/** Longer strings are encoded by Buffer's writer, shorter ones copied char by char (LineBuffer.text). */
const SHORT = 16;
const LONG = 1 << 16;

/** A packed LineBuffer's slabs (see there). */
const SLAB = 1 << 20;

/**
 * A growing byte buffer that lines are written into; `take` hands out what was written.
 *
 * Reused (the default), `take` hands out a view that the next lines write over: the caller
 * copies it. Packed, nothing is ever written over: lines go into 1 MB slabs one after the other
 * and `take` hands out a view of its slab that stays as it is (a render from scratch keeps
 * every block that way: no copy of each block's bytes, one allocation per MB). A slab then
 * lives while any view of it does.
 */
export class LineBuffer {
  buf: Buffer;
  n = 0;
  /** Packed: where the bytes not yet taken start. */
  private start = 0;
  constructor(
    size = 1 << 16,
    readonly packed = false,
  ) {
    this.buf = Buffer.allocUnsafe(packed ? Math.max(size, SLAB) : size);
  }

  /** Room for `k` more bytes. */
  private reserve(k: number): void {
    if (this.n + k <= this.buf.length) return;
    if (this.packed) {
      // a new slab, the bytes not yet taken moved to its start (the views taken keep the old one)
      const pending = this.n - this.start;
      const next = Buffer.allocUnsafe(Math.max(SLAB, (pending + k) * 2));
      this.buf.copy(next, 0, this.start, this.n);
      this.buf = next;
      this.start = 0;
      this.n = pending;
      return;
    }
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.n + k));
    this.buf.copy(next, 0, 0, this.n);
    this.buf = next;
  }

  /** One ASCII byte. */
  byte(c: number): void {
    this.reserve(1);
    this.buf[this.n++] = c;
  }

  /**
   * `s` as UTF-8 (Buffer.from's bytes). A short string is copied char by char (a call into
   * Buffer's encoder costs some 40 ns, more than copying a user name); a longer one, or anything
   * not ASCII, goes through the encoder (a 120-char hash in ~50 ns, a quarter of the loop's time).
   */
  text(s: string): void {
    const len = s.length;
    // three bytes per UTF-16 unit at most; a long text (builtin_users' member list: ~11 MB at
    // 1,000,000 users) is measured instead of reserving three times its length
    this.reserve(len > LONG ? Buffer.byteLength(s) : len * 3);
    const buf = this.buf;
    let n = this.n;
    if (len > SHORT) {
      this.n = n + buf.write(s, n);
      return;
    }
    for (let i = 0; i < len; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) {
        this.n = n + buf.write(s.substring(i), n);
        return;
      }
      buf[n++] = c;
    }
    this.n = n;
  }

  /** `s` as generate.ts's field() writes it: ':' '\n' '\r' become spaces. */
  field(s: string): void {
    this.text(s.indexOf(":") < 0 && s.indexOf("\n") < 0 && s.indexOf("\r") < 0 ? s : s.replace(/[:\n\r]/g, " "));
  }

  /** `${v}` of a number: digits for the usual non-negative integer, String(v) otherwise. */
  num(v: number): void {
    // int32 arithmetic (`| 0`) below: uids, gids and day counts are far below 2^31
    if (!(v >= 0 && v < 0x80000000 && (v | 0) === v)) {
      this.text(String(v));
      return;
    }
    const digits = v < 100000 ? (v < 100 ? (v < 10 ? 1 : 2) : v < 1000 ? 3 : v < 10000 ? 4 : 5) : v < 10000000 ? (v < 1000000 ? 6 : 7) : v < 100000000 ? 8 : v < 1000000000 ? 9 : 10;
    this.reserve(digits);
    const buf = this.buf;
    let at = this.n + digits;
    this.n = at;
    let x = v;
    do {
      const q = (x / 10) | 0;
      buf[--at] = 48 + x - q * 10;
      x = q;
    } while (x > 0);
  }

  /** An integer 0 ≤ v ≤ 0xffffffff as eight upper-case hex digits (toString(16), upper case, padded with 0). */
  hex8(v: number): void {
    this.reserve(8);
    const buf = this.buf;
    let x = v;
    for (let at = this.n + 7; at >= this.n; at--) {
      const d = x % 16;
      buf[at] = d < 10 ? 48 + d : 55 + d;
      x = Math.floor(x / 16);
    }
    this.n += 8;
  }

  /** Bytes of a short constant, copied one by one (a call into the copier costs more). */
  ascii(bytes: Uint8Array): void {
    const len = bytes.length;
    this.reserve(len);
    const buf = this.buf;
    let n = this.n;
    for (let i = 0; i < len; i++) buf[n++] = bytes[i];
    this.n = n;
  }

  /**
   * `s.toUpperCase()` of a string of hex digits (isNtHash), without the upper-case copy a
   * toUpperCase makes per user.
   */
  hexUpper(s: string): void {
    const len = s.length;
    this.reserve(len);
    const buf = this.buf;
    let n = this.n;
    for (let i = 0; i < len; i++) {
      const c = s.charCodeAt(i);
      buf[n++] = c >= 97 ? c - 32 : c; // a-f to A-F
    }
    this.n = n;
  }

  /**
   * The bytes written since the last take: a view of this buffer, which a reused buffer writes
   * over next (copy it before writing on) and a packed one never does.
   */
  take(): Buffer {
    if (this.packed) {
      const out = this.buf.subarray(this.start, this.n);
      this.start = this.n;
      return out;
    }
    const out = this.buf.subarray(0, this.n);
    this.n = 0;
    return out;
  }
}

/** passwdLine(u, gid) into `w`. */
export function writePasswd(w: LineBuffer, u: ProvUser, gid: number): void {
  w.text(u.username);
  w.text(":x:");
  w.num(u.uid);
  w.byte(COLON);
  w.num(gid);
  w.byte(COLON);
  w.field(u.full_name);
  w.byte(COLON);
  w.field(u.home);
  w.byte(COLON);
  w.field(u.shell);
  w.byte(NL);
}

/** shadowLine(u, policy) into `w` (see there for the fields). */
export function writeShadow(w: LineBuffer, u: ProvUser, policy: ProvPolicy): void {
  const pw = hasPassword(u);
  w.text(u.username);
  w.byte(COLON);
  if (u.locked) w.byte(33); // !
  if (pw) w.field(u.unixhash!);
  else w.byte(42); // *
  w.byte(COLON);
  if (u.last_password_change != null) w.num(Math.max(0, Math.floor(u.last_password_change / DAY_MS)));
  w.byte(COLON);
  const ages = pw && !u.builtin && u.uid !== 0;
  w.num(ages && policy.min_password_age ? policy.min_password_age : 0);
  w.byte(COLON);
  w.num(ages && policy.max_password_age ? policy.max_password_age : 99999);
  w.text(u.locked ? ":7::1:\n" : ":7:::\n");
}

/** smbpasswdLine(u, policy) into `w`, for a user isSmbUser says has an entry. */
export function writeSmbpasswd(w: LineBuffer, u: ProvUser): void {
  w.text(u.username);
  w.byte(COLON);
  w.num(u.uid);
  w.ascii(LM_FIELD);
  w.hexUpper(u.smbhash!);
  w.ascii(u.locked ? FLAGS_DISABLED_LCT : FLAGS_ENABLED_LCT);
  const when = Math.max(0, Math.min(Math.floor((u.last_password_change ?? u.created_at ?? 0) / 1000), 0xffffffff));
  if (when === Math.floor(when)) w.hex8(when);
  else w.text(when.toString(16).toUpperCase().padStart(8, "0")); // NaN
  w.text(":\n");
}

/** The lines of one user in every user file (generate.ts' passwd, shadow, smbpasswd and sudoers lines). */
export interface UserLineBuffers {
  passwd: LineBuffer;
  shadow: LineBuffer;
  smbpasswd: LineBuffer;
  sudoers: LineBuffer;
}

/** Every user file's line(s) of `u`; `gid` is its primary group's. */
export function writeUser(out: UserLineBuffers, u: ProvUser, gid: number, policy: ProvPolicy): void {
  if (safeName(u.username)) {
    writePasswd(out.passwd, u, gid);
    writeShadow(out.shadow, u, policy);
    if (isSmbUser(u, policy)) writeSmbpasswd(out.smbpasswd, u);
  }
  if (u.sudo_commands.length || u.sudo_commands_nopasswd.length) out.sudoers.text(sudoUserLines(u));
}

/** groupLine and gshadowLine of `g` into `group` and `gshadow`, its sudoers lines into `sudoers`. */
export function writeGroup(group: LineBuffer, gshadow: LineBuffer, sudoers: LineBuffer, g: ProvGroup, members: string, admins: string): void {
  if (safeName(g.name)) {
    group.text(g.name);
    group.text(":x:");
    group.num(g.gid);
    group.byte(COLON);
    group.text(members);
    group.byte(NL);
    gshadow.text(g.name);
    gshadow.text(":!:");
    gshadow.text(admins);
    gshadow.byte(COLON);
    gshadow.text(members);
    gshadow.byte(NL);
  }
  if (g.sudo_commands.length || g.sudo_commands_nopasswd.length) sudoers.text(sudoGroupLines(g));
}
