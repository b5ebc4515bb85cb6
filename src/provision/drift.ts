// Drift found by a running server (issue 13 point 8): what an edit made behind the writer's back
// changed in a host account file, and which of the accounts it added are a package's system
// accounts to adopt rather than revert. Pure functions over file texts; the provisioner reads
// the files, and its context's hooks audit the drift and write the adopted accounts.

import type { FileId } from "./generate.js";
import { drain } from "./slice.js";

export interface DriftFound {
  /** The file, relative to the host root (`etc/passwd`). */
  file: string;
  reason: "missing" | "content" | "mode" | "owner";
  /**
   * Names of the entries (first field of passwd, group, shadow, gshadow, smbpasswd lines) that
   * differ between the edited file and the store; never a hash or another field's value. For
   * sudoers and the sshd snippet: `+N lines` / `-N lines`.
   */
  entries: string[];
}

export interface KnownAccounts {
  users: { name: string; id: number }[];
  groups: { name: string; id: number }[];
}

export interface SystemUser {
  name: string;
  uid: number;
  gid: number;
  gecos: string;
  home: string;
  shell: string;
}

export interface SystemGroup {
  name: string;
  gid: number;
}

export interface SystemAccounts {
  users: SystemUser[];
  groups: SystemGroup[];
}

const MAX_ENTRIES = 100;
const COLON_FILES = new Set<FileId>(["passwd", "group", "shadow", "gshadow", "smbpasswd"]);

/** Entry names that differ between `disk` and `want` (see DriftFound.entries). */
export function driftedEntries(id: FileId, disk: string, want: string): string[] {
  const a = new Set(disk.split("\n").filter(Boolean));
  const b = new Set(want.split("\n").filter(Boolean));
  const onlyDisk = [...a].filter((l) => !b.has(l));
  const onlyWant = [...b].filter((l) => !a.has(l));
  if (!COLON_FILES.has(id)) {
    const out: string[] = [];
    if (onlyDisk.length) out.push(`+${onlyDisk.length} lines`);
    if (onlyWant.length) out.push(`-${onlyWant.length} lines`);
    return out;
  }
  const names = new Set<string>();
  for (const l of [...onlyDisk, ...onlyWant]) {
    if (names.size >= MAX_ENTRIES) break;
    // a line's first field, bounded: an edit must not put arbitrary text in the audit log
    names.add(l.split(":")[0].slice(0, 64));
  }
  return [...names];
}

/** A name useradd would accept for a system account. */
const NAME = /^[a-z_][a-z0-9_.-]{0,31}\$?$/i;

/**
 * Primary groups an adopted account may never have: a package's system account in root's, an
 * administrator's or the shadow group would be a privilege Gatehouse did not grant. Such an
 * entry is reverted like any other edit.
 */
const PRIVILEGED_GROUPS = new Set(["root", "sudo", "wheel", "admin", "shadow", "builtin_administrators", "truenas_readonly_administrators", "truenas_sharing_administrators"]);

const isSystemId = (id: number) => Number.isInteger(id) && id >= 1 && id < 1000;

/** text[from, to) is plain decimal digits without a leading zero, above 999 (most ids): no slice. */
function plainBigNumber(text: string, from: number, to: number): boolean {
  if (to - from <= 3 || text.charCodeAt(from) === 48) return false;
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

/**
 * The entries of a passwd or group text whose id (third field) is a system id, split into
 * fields; every other line is passed over without splitting it (at 1,000,000 users the files
 * hold a million lines, of which a few dozen are system accounts).
 */
function* systemLines(text: string, fields: number, out: string[][]): Generator<void, string[][]> {
  let n = 0;
  for (let start = 0; start < text.length; ) {
    if ((++n & 4095) === 0) yield;
    let end = text.indexOf("\n", start);
    if (end < 0) end = text.length;
    const c = text.charCodeAt(start);
    // comments and NIS compat entries (#, +, -) are not accounts
    if (end > start && c !== 35 && c !== 43 && c !== 45) {
      const a = text.indexOf(":", start);
      const b = a < 0 || a >= end ? -1 : text.indexOf(":", a + 1);
      if (b >= 0 && b < end) {
        let e = text.indexOf(":", b + 1);
        if (e < 0 || e > end) e = end;
        if (!plainBigNumber(text, b + 1, e) && isSystemId(Number(text.slice(b + 1, e)))) {
          const f = text.slice(start, end).split(":");
          if (f.length >= fields) out.push(f);
        }
      }
    }
    start = end + 1;
  }
  return out;
}

/** The system-id entries of the host's passwd and group: what could be a package's accounts. */
export interface SystemCandidates {
  users: string[][];
  groups: string[][];
}

export function systemCandidates(passwd: string, group: string): SystemCandidates {
  return drain(systemCandidateSteps(passwd, group));
}

/** systemCandidates as steps of a few thousand lines (see ./slice.ts): a million lines take a while. */
export function* systemCandidateSteps(passwd: string, group: string): Generator<void, SystemCandidates> {
  return { users: yield* systemLines(passwd, 7, []), groups: yield* systemLines(group, 4, []) };
}

/**
 * The names and ids packageAccounts looks up for `c`: only store accounts matching one of them
 * can change its answer, so only those need reading (not every account in the store).
 */
export interface CandidateKeys {
  userNames: Set<string>;
  uids: Set<number>;
  groupNames: Set<string>;
  gids: Set<number>;
}

export function candidateKeys(c: SystemCandidates): CandidateKeys {
  const keys: CandidateKeys = { userNames: new Set(), uids: new Set(), groupNames: new Set(), gids: new Set() };
  for (const f of c.users) {
    keys.userNames.add(f[0]);
    keys.uids.add(Number(f[2]));
    keys.gids.add(Number(f[3]));
  }
  for (const f of c.groups) {
    keys.groupNames.add(f[0]);
    keys.gids.add(Number(f[2]));
  }
  return keys;
}

/**
 * The system accounts (ids 1–999) in the host's passwd and group that the store knows by
 * neither name nor id: what a package's maintainer script added with `adduser --system`.
 * Users whose primary group is unknown (and not added alongside) or privileged are left out.
 */
export function packageAccounts(passwd: string, group: string, known: KnownAccounts): SystemAccounts {
  return packageAccountsOf(systemCandidates(passwd, group), known);
}

/** packageAccounts over candidates already picked out; `known` needs only their candidateKeys. */
export function packageAccountsOf(c: SystemCandidates, known: KnownAccounts): SystemAccounts {
  const userNames = new Set(known.users.map((u) => u.name));
  const uids = new Set(known.users.map((u) => u.id));
  const groupNames = new Set(known.groups.map((g) => g.name));
  const gidName = new Map(known.groups.map((g) => [g.id, g.name]));
  const groups: SystemGroup[] = [];
  for (const f of c.groups) {
    const gid = Number(f[2]);
    if (!isSystemId(gid) || !NAME.test(f[0]) || groupNames.has(f[0]) || gidName.has(gid)) continue;
    if (PRIVILEGED_GROUPS.has(f[0])) continue;
    groups.push({ name: f[0], gid });
    groupNames.add(f[0]);
    gidName.set(gid, f[0]);
  }
  const users: SystemUser[] = [];
  for (const f of c.users) {
    const uid = Number(f[2]);
    const gid = Number(f[3]);
    if (!isSystemId(uid) || !NAME.test(f[0]) || userNames.has(f[0]) || uids.has(uid)) continue;
    const primary = gidName.get(gid);
    if (primary === undefined || PRIVILEGED_GROUPS.has(primary) || gid === 0) continue;
    users.push({ name: f[0], uid, gid, gecos: f[4], home: f[5] || "/nonexistent", shell: f[6] || "/usr/sbin/nologin" });
    userNames.add(f[0]);
    uids.add(uid);
  }
  return { users, groups };
}
