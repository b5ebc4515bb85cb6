// Differential tests of the model's renderer (one pass per block of 256 ids over every file,
// blocks packed into shared slabs on a render from scratch) against the reference: the pure
// generators' generateAll, line by line. Arbitrary field contents — separators, line breaks,
// control characters, non-ASCII, names sshd or sudo cannot list — and ids spread over many blocks.

import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { FILES, generateAll, sshdConfig } from "./generate.js";
import { HostModel } from "./model.js";
import { Slicer } from "./slice.js";
import type { ProvGroup, ProvPolicy, ProvUser, Snapshot } from "./types.js";

const NT = "8846F7EAEE8FB117AD06BDD830B7586C";

/** Strings that are mostly plain, sometimes awkward. */
const text = (plain: string[]) =>
  fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom(...plain) },
    { weight: 2, arbitrary: fc.string({ maxLength: 12 }) },
    { weight: 1, arbitrary: fc.string({ unit: "grapheme", maxLength: 8 }) },
    { weight: 1, arbitrary: fc.constantFrom("", "a:b", "x\ny", "r\rs", "ALL", "ROOT", "sp ace", "com,ma", "tab\t", "é", "名前", "$dollar", "-dash", "@at", "\u007f") },
  );

const name = text(["alice", "bob", "carol", "dave", "eve", "u.s_e-r", "x1", "root"]);
const command = fc.oneof(
  fc.constantFrom("ALL", "/usr/bin/id", "/usr/bin/ls -l", `/usr/bin/echo "a, b" x:y z=1 #c`, "/usr/bin/grep ^x$", "relative", `"/unclosed`, "/usr/bin/x\u0001"),
  fc.string({ maxLength: 10 }),
);
const commands = fc.array(command, { maxLength: 3 });
const policy: fc.Arbitrary<ProvPolicy> = fc.record({
  min_password_age: fc.option(fc.integer({ min: 1, max: 30 }), { nil: null }),
  max_password_age: fc.option(fc.integer({ min: 1, max: 400 }), { nil: null }),
  enable_gpos_stig: fc.boolean(),
});

/**
 * Mostly the usual integers; sometimes what a column read with Number() can also hold (a text
 * uid, a real timestamp): the byte renderer writes digits itself only for the usual ones.
 */
const odd = fc.constantFrom(-1, -0, 1.5, Number.NaN, 2 ** 32, 2 ** 53, 1e21, -1e21);
const num = (max: number) => fc.oneof({ weight: 8, arbitrary: fc.integer({ min: 0, max }) }, { weight: 1, arbitrary: odd });

const userArb = (id: number, groupIds: number[]): fc.Arbitrary<ProvUser> =>
  fc.record({
    id: fc.constant(id),
    uid: num(70_000),
    username: name,
    unixhash: fc.constantFrom(null, "*", "$6$salt$hash", "$6$a:b$c"),
    smbhash: fc.constantFrom(null, "*", NT, NT.toLowerCase(), "XYZ"),
    home: text(["/var/empty", "/mnt/tank/home/x", "/root"]),
    shell: text(["/usr/bin/bash", "/usr/sbin/nologin"]),
    full_name: text(["Alice Liddell", "", "Number 7"]),
    builtin: fc.boolean(),
    smb: fc.boolean(),
    group_id: fc.constantFrom(...groupIds, 999_999),
    password_disabled: fc.boolean(),
    ssh_password_enabled: fc.boolean(),
    sshpubkey: fc.constant(null),
    locked: fc.boolean(),
    sudo_commands: commands,
    sudo_commands_nopasswd: commands,
    last_password_change: fc.option(num(2_000_000_000_000), { nil: null }),
    created_at: num(2_000_000_000_000),
  });

const groupArb = (id: number): fc.Arbitrary<ProvGroup> =>
  fc.record({
    id: fc.constant(id),
    gid: num(70_000),
    name: text(["staff", "ops.team-1", "9lives", "shadow", "wheel", "ALL"]),
    builtin: fc.boolean(),
    sudo_commands: commands,
    sudo_commands_nopasswd: commands,
  });

/** Unique ids spread over several blocks of 256 (dense runs and sparse outliers). */
const ids = (max: number) => fc.uniqueArray(fc.oneof(fc.integer({ min: 1, max: 600 }), fc.integer({ min: 1, max: max })), { minLength: 1, maxLength: 60 });

const snapshotArb: fc.Arbitrary<Snapshot> = fc
  .tuple(ids(5000), ids(3000), policy)
  .chain(([userIds, groupIds, pol]) =>
    fc.tuple(
      fc.tuple(...userIds.map((id) => userArb(id, groupIds))),
      fc.tuple(...groupIds.map((id) => groupArb(id))),
      fc.array(fc.tuple(fc.constantFrom(...groupIds), fc.constantFrom(...userIds)), { maxLength: 80 }),
      fc.constant(pol),
    ),
  )
  .map(([users, groups, pairs, pol]) => {
    const members = new Map<number, number[]>();
    for (const [g, u] of pairs) {
      const list = members.get(g) ?? [];
      if (!list.includes(u)) list.push(u);
      members.set(g, list);
    }
    for (const list of members.values()) list.sort((a, b) => a - b);
    return {
      users: [...users].sort((a, b) => a.id - b.id),
      groups: [...groups].sort((a, b) => a.id - b.id),
      members,
      policy: pol,
    };
  });

function assertSameAsGenerators(m: HostModel, s: Snapshot, label: string): void {
  const want = generateAll(s);
  const got = m.renderAll();
  for (const f of FILES) {
    assert.equal(Buffer.concat(got[f.id]).toString("utf8"), want[f.id], `${label}: ${f.id}`);
    // bytes too (not only after decoding): non-ASCII is written as UTF-8
    assert.ok(Buffer.concat(got[f.id]).equals(Buffer.from(want[f.id])), `${label}: ${f.id} bytes`);
  }
}

test("a model built from scratch renders exactly generateAll's bytes, for arbitrary rows", () => {
  fc.assert(
    fc.property(snapshotArb, (s) => {
      assertSameAsGenerators(HostModel.fromSnapshot(s), s, "from scratch");
    }),
    { numRuns: 300 },
  );
});

test("re-rendering a warm model (policy change, then any other snapshot) keeps the bytes identical", () => {
  fc.assert(
    fc.property(snapshotArb, snapshotArb, policy, (a, b, pol) => {
      const m = HostModel.fromSnapshot(a);
      m.renderAll();
      // every user block re-rendered (not packed: the old blocks exist), unchanged ones kept
      m.setPolicy(pol);
      assertSameAsGenerators(m, { ...a, policy: pol }, "policy");
      // every row may differ: blocks appear, vanish and change
      m.reconcile(b);
      assertSameAsGenerators(m, b, "reconciled");
      m.reconcile(a);
      assertSameAsGenerators(m, a, "and back");
    }),
    { numRuns: 150 },
  );
});

test("built, reconciled and rendered in turns (pausing at every step), a model renders the same bytes", async () => {
  await fc.assert(
    fc.asyncProperty(snapshotArb, snapshotArb, async (a, b) => {
      const slicer = new Slicer(0); // every step is a turn of its own: the event loop runs between all of them
      const m = await HostModel.build(a, slicer);
      await m.renderSliced(slicer);
      assertSameAsGenerators(m, a, "built in turns");
      await m.reconcileSliced(b, slicer);
      await m.renderSliced(slicer);
      assertSameAsGenerators(m, b, "reconciled in turns");
    }),
    { numRuns: 60 },
  );
});

test("a large model: unchanged blocks keep their Buffer objects across a re-render", () => {
  const users: ProvUser[] = [];
  for (let i = 1; i <= 3000; i++) {
    users.push({
      id: i,
      uid: 10_000 + i,
      username: `user${i}`,
      unixhash: "$6$x$y",
      smbhash: NT,
      home: "/var/empty",
      shell: "/usr/bin/bash",
      full_name: `User ${i}`,
      builtin: false,
      smb: true,
      group_id: 1,
      password_disabled: false,
      ssh_password_enabled: i % 3 === 0,
      sshpubkey: null,
      locked: i % 97 === 0,
      sudo_commands: [],
      sudo_commands_nopasswd: [],
      last_password_change: 86_400_000 * i,
      created_at: 0,
    });
  }
  const groups: ProvGroup[] = [{ id: 1, gid: 100, name: "users", builtin: true, sudo_commands: [], sudo_commands_nopasswd: [] }];
  const s: Snapshot = { users, groups, members: new Map([[1, users.map((u) => u.id)]]), policy: { min_password_age: null, max_password_age: null, enable_gpos_stig: false } };
  const m = HostModel.fromSnapshot(s);
  const before = m.renderAll();
  assertSameAsGenerators(m, s, "initial");
  const changed = { ...users[1999], locked: true };
  m.applyUsers([2000], [changed], [{ group_id: 1, user_id: 2000 }]);
  const after = m.renderAll();
  for (const f of ["passwd", "sudoers"] as const) {
    assert.equal(after[f].filter((b, i) => b !== before[f][i]).length, 0, `${f}: no block changed`);
  }
  for (const f of ["shadow", "smbpasswd"] as const) {
    assert.equal(after[f].filter((b, i) => b !== before[f][i]).length, 1, `${f}: one block changed`);
  }
  assert.notEqual(after.sshd[0], before.sshd[0], "sshd rebuilt (a user became locked)");
  const next = { ...s, users: users.map((u) => (u.id === 2000 ? changed : u)) };
  assert.equal(Buffer.concat(after.sshd).toString(), sshdConfig(next.users), "sshd content");
  assertSameAsGenerators(m, next, "after the change");
});
