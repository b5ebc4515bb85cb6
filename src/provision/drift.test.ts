// packageAccounts picks the system-id lines out without splitting every line, and needs only the
// store accounts sharing a name or id with them (candidateKeys): both must give the answer of the
// plain reading — every line split, every account known — on arbitrary passwd and group texts.

import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { candidateKeys, packageAccounts, systemCandidates, type KnownAccounts, type SystemAccounts } from "./drift.js";

const NAME = /^[a-z_][a-z0-9_.-]{0,31}\$?$/i;
const PRIVILEGED = new Set(["root", "sudo", "wheel", "admin", "shadow", "builtin_administrators", "truenas_readonly_administrators", "truenas_sharing_administrators"]);
const isSystemId = (id: number) => Number.isInteger(id) && id >= 1 && id < 1000;

/** The plain reading: every line split, every known account in the sets. */
function reference(passwd: string, group: string, known: KnownAccounts): SystemAccounts {
  const lines = (text: string, n: number) =>
    text
      .split("\n")
      .filter((l) => l && !l.startsWith("#") && !l.startsWith("+") && !l.startsWith("-"))
      .map((l) => l.split(":"))
      .filter((f) => f.length >= n);
  const userNames = new Set(known.users.map((u) => u.name));
  const uids = new Set(known.users.map((u) => u.id));
  const groupNames = new Set(known.groups.map((g) => g.name));
  const gidName = new Map(known.groups.map((g) => [g.id, g.name]));
  const groups: SystemAccounts["groups"] = [];
  for (const f of lines(group, 4)) {
    const gid = Number(f[2]);
    if (!isSystemId(gid) || !NAME.test(f[0]) || groupNames.has(f[0]) || gidName.has(gid) || PRIVILEGED.has(f[0])) continue;
    groups.push({ name: f[0], gid });
    groupNames.add(f[0]);
    gidName.set(gid, f[0]);
  }
  const users: SystemAccounts["users"] = [];
  for (const f of lines(passwd, 7)) {
    const uid = Number(f[2]);
    const gid = Number(f[3]);
    if (!isSystemId(uid) || !NAME.test(f[0]) || userNames.has(f[0]) || uids.has(uid)) continue;
    const primary = gidName.get(gid);
    if (primary === undefined || PRIVILEGED.has(primary) || gid === 0) continue;
    users.push({ name: f[0], uid, gid, gecos: f[4], home: f[5] || "/nonexistent", shell: f[6] || "/usr/sbin/nologin" });
    userNames.add(f[0]);
    uids.add(uid);
  }
  return { users, groups };
}

const name = fc.constantFrom("daemon", "pkg", "root", "sudo", "www-data", "x", "", "#c", "+nis", "-nis", "bad name", "user1");
const id = fc.oneof(fc.integer({ min: 0, max: 1200 }).map(String), fc.constantFrom("", "0012", "1e2", " 12", "0x10", "999", "1000", "100001", "abc", "12.0"));
const passwdLine = fc
  .tuple(name, id, id, fc.constantFrom("", "Gecos,,,"), fc.constantFrom("", "/var/lib/x"), fc.constantFrom("", "/bin/sh"))
  .map((f) => `${f[0]}:x:${f[1]}:${f[2]}:${f[3]}:${f[4]}:${f[5]}`);
const groupLine = fc.tuple(name, id).map((f) => `${f[0]}:x:${f[1]}:`);
const text = (line: fc.Arbitrary<string>) =>
  fc.array(fc.oneof({ weight: 8, arbitrary: line }, { weight: 1, arbitrary: fc.constantFrom("", "short:x", "a:b:c") }), { maxLength: 12 }).map((ls) => ls.join("\n"));
const knownArb: fc.Arbitrary<KnownAccounts> = fc.record({
  users: fc.array(fc.record({ name, id: fc.integer({ min: 0, max: 1200 }) }), { maxLength: 6 }),
  groups: fc.array(fc.record({ name, id: fc.integer({ min: 0, max: 1200 }) }), { maxLength: 6 }),
});

test("package accounts from the system-id lines and the accounts sharing their names or ids equal the plain reading", () => {
  fc.assert(
    fc.property(text(passwdLine), text(groupLine), knownArb, (passwd, group, known) => {
      const want = reference(passwd, group, known);
      assert.deepEqual(packageAccounts(passwd, group, known), want);
      // only the accounts candidateKeys names are needed
      const keys = candidateKeys(systemCandidates(passwd, group));
      const among: KnownAccounts = {
        users: known.users.filter((u) => keys.userNames.has(u.name) || keys.uids.has(u.id)),
        groups: known.groups.filter((g) => keys.groupNames.has(g.name) || keys.gids.has(g.id)),
      };
      assert.deepEqual(packageAccounts(passwd, group, among), want);
    }),
    { numRuns: 2000 },
  );
});
