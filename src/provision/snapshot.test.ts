// SQLite's full read (readSnapshot) packs what it asks the driver for — flags in one integer,
// common values as null, memberships aggregated per group and chunk — and must still give what
// the plain per-row reads (readUsers, readGroups, readMemberships) make of the same rows.

import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { openStore, sqliteHandleOf } from "../store/db.js";
import { readGroups, readMemberships, readSnapshot, readUsers } from "./snapshot.js";

const BOOL = [0, 1, "true"] as const;

test("the SQLite full read gives what the plain per-row reads give", async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "gh-snapshot-test-"));
  const store = await openStore({ dataDir: dir });
  try {
    const raw = sqliteHandleOf(store.db)!;
    const addGroup = raw.prepare(`insert into groups (gid, name, builtin, sudo_commands, sudo_commands_nopasswd, admins) values (?, ?, ?, ?, ?, ?) returning id`).pluck();
    const addUser = raw
      .prepare(
        `insert into users (uid, username, unixhash, smbhash, home, shell, full_name, builtin, smb, group_id, password_disabled, ssh_password_enabled, sshpubkey, locked, sudo_commands, sudo_commands_nopasswd, last_password_change, created_at)
         values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) returning id`,
      )
      .pluck();
    const addMember = raw.prepare(`insert into memberships (group_id, user_id) values (?, ?)`);
    const lists = ["[]", '["/usr/bin/id"]', "", "not json", '["/bin/a","/bin/b"]'];
    raw.transaction(() => {
      const groupIds: number[] = [];
      for (let i = 0; i < 40; i++) {
        groupIds.push(addGroup.get(50_000 + i, `g${i}`, BOOL[i % 3], lists[i % 5], lists[(i + 2) % 5], i % 4 === 0 ? "[]" : i % 4 === 1 ? "[1,2]" : i % 4 === 2 ? "junk" : "[]") as number);
      }
      // plain groups (most of them: a user's own group), with names the packed text must keep whole
      for (const [gid, name] of [
        [-5, "neg"],
        [70_000, "a,b"],
        [70_001, "*star"],
        [70_002, "grün,1,2"],
        [70_003, "x"],
      ] as const) {
        groupIds.push(addGroup.get(gid, name, 0, "[]", "[]", "[]") as number);
      }
      groupIds.push(addGroup.get("abc", "textgid", 0, "[]", "[]", "[]") as number);
      for (let i = 0; i < 3000; i++) addGroup.get(80_000 + i, `p${i}`, 0, "[]", "[]", "[]");
      const userIds: number[] = [];
      for (let i = 0; i < 20_000; i++) {
        const k = i % 32; // every combination of the five flags
        userIds.push(
          addUser.get(
            60_000 + i,
            `u${i}`,
            i % 7 === 0 ? null : `$6$x$${i}`,
            i % 5 === 0 ? null : "8846F7EAEE8FB117AD06BDD830B7586C",
            i % 3 === 0 ? "/var/empty" : `/home/u${i}`,
            i % 2 ? "/usr/bin/bash" : "/bin/sh",
            `User ${i} ☃`,
            BOOL[k & 1 ? 1 : 0],
            BOOL[k & 2 ? 2 : 0],
            groupIds[i % groupIds.length],
            k & 4 ? 1 : 0,
            BOOL[k & 8 ? 1 : 0],
            i % 11 === 0 ? `ssh-ed25519 AAAA${i}` : null,
            k & 16 ? "true" : 0,
            lists[i % 5],
            lists[(i + 1) % 5],
            i % 13 === 0 ? null : 1_700_000_000_000 + i,
            1_600_000_000_000 + i,
          ) as number,
        );
      }
      // users the packed text cannot carry (read again in full) or must take care with
      const odd: [unknown, string, string | Buffer, string, unknown, unknown][] = [
        [90_000, "sep\x1fname", "/var/empty", "/bin/sh", 1, 2],
        [90_001, "rowsep", "/home/a\x1eb", "/bin/sh", 1, 2],
        [90_002, "textuid", "/var/empty2", "/bin/shx", 1, 2],
        ["90003x", "textuid2", "/var/emptyx", "/bin/sh", 1, 2],
        [-90_004, "neguid", "/var/empty", "", 1.5, -7],
        [90_005, "", "", "/usr/bin/bash", null, 0],
        // the rare columns' JSON must give back any text exactly; a blob cannot go into it
        [90_006, "quotes", '/home/"q"\\\t\u00e9\ud83d\ude00\x7f', "/bin/sh", 1, 2],
        [90_007, "blobhome", Buffer.from("/home/blob"), "/bin/sh", 1, 2],
      ];
      for (const [uid, name, home, shell, lpc, created] of odd) {
        userIds.push(addUser.get(uid, name, "$6$h", null, home, shell, `${name} full\nname`, 0, 1, groupIds[0], 0, 0, null, 0, "[]", "[]", lpc, created) as number);
      }
      // more members than one chunk of the aggregated read, in one group and spread over others
      for (const u of userIds) addMember.run(groupIds[0], u);
      for (let i = 0; i < userIds.length; i += 3) addMember.run(groupIds[1 + (i % 30)], userIds[i]);
    })();

    const snap = await readSnapshot(store.db, store.dialect);
    const userIds = snap.users.map((u) => u.id);
    const groupIds = snap.groups.map((g) => g.id);
    const byId = <T extends { id: number }>(xs: T[]) => [...xs].sort((a, b) => a.id - b.id);
    assert.deepEqual(snap.users, byId(await readUsers(store.db, { ids: userIds })));
    assert.deepEqual(snap.groups, byId(await readGroups(store.db, groupIds)));
    const want = new Map<number, number[]>();
    for (const m of await readMemberships(store.db, { groupIds })) {
      const ids = want.get(m.group_id) ?? [];
      ids.push(m.user_id);
      want.set(m.group_id, ids);
    }
    for (const ids of want.values()) ids.sort((a, b) => a - b);
    assert.deepEqual(new Map([...snap.members].sort((a, b) => a[0] - b[0])), new Map([...want].sort((a, b) => a[0] - b[0])));
    assert.equal(snap.members.get(groupIds.find((id) => snap.groups.find((g) => g.id === id)?.name === "g0")!)?.length, 20_008);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
