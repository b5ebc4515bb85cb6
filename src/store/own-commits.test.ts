import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { changeOf, encodeChange, type ChangeEvent } from "./change-event.js";
import { CommitTracker, OwnCommitLog } from "./own-commits.js";
import { openStore } from "./db.js";
import { commitChange, recordChange } from "./changes.js";

const RECORD = 'insert into "changes" ("payload", "at") values (?, ?)';

function tracked(): { t: CommitTracker; described: ChangeEvent[]; undescribed: () => number } {
  const described: ChangeEvent[] = [];
  let n = 0;
  const t = new CommitTracker({ described: (ev) => described.push(ev), undescribed: () => n++ });
  return { t, described, undescribed: () => n };
}

test("a transaction's watched writes are described by the event it recorded, told at its commit", () => {
  const { t, described, undescribed } = tracked();
  const ev = changeOf({ users: [4], groups: [9] });
  t.ran("begin", []);
  t.write();
  t.ran(RECORD, [encodeChange(ev), 1]);
  assert.equal(described.length, 0, "nothing before the commit");
  t.ran("commit", []);
  assert.deepEqual(described, [ev]);
  assert.equal(undescribed(), 0);
  // Two events recorded in one transaction: described by both.
  t.ran("begin", []);
  t.write();
  t.ran(RECORD, [encodeChange(changeOf({ users: [1] })), 2]);
  t.ran(RECORD, [encodeChange(changeOf({ privileges: [2] })), 3]);
  t.ran("COMMIT", []);
  assert.deepEqual(described[1]!.users, [1]);
  assert.deepEqual(described[1]!.privileges, [2]);
});

test("writes nothing describes are told as unknown: outside a transaction, no event, rollbacks", () => {
  const { t, described, undescribed } = tracked();
  t.write(); // autocommit
  assert.equal(undescribed(), 1);
  t.ran("begin", []);
  t.write();
  t.ran("commit", []); // no event recorded
  assert.equal(undescribed(), 2);
  t.ran("begin", []);
  t.write();
  t.ran(RECORD, [encodeChange(changeOf({ users: [1] })), 1]);
  t.ran('rollback to "sp1"', []); // part undone: the event may not match what stays
  t.ran("commit", []);
  assert.equal(undescribed(), 3);
  t.ran("begin", []);
  t.write();
  t.ran(RECORD, [encodeChange(changeOf({ users: [1] })), 1]);
  t.ran("rollback", []);
  assert.equal(undescribed(), 4);
  // A recorded event without a transaction (its writes were autocommits, told one by one).
  t.ran(RECORD, [encodeChange(changeOf({ users: [1] })), 1]);
  // A transaction without watched writes tells nothing.
  t.ran("begin", []);
  t.ran(RECORD, [encodeChange(changeOf({ users: [1] })), 1]);
  t.ran("commit", []);
  assert.equal(described.length, 0);
  assert.equal(undescribed(), 4);
});

test("the log keeps the last commits in order and says when older ones are gone", () => {
  const log = new OwnCommitLog();
  assert.deepEqual(log.since(0), []);
  for (let i = 0; i < 1030; i++) log.described(changeOf({ users: [i] }));
  assert.equal(log.current(), 1030);
  assert.equal(log.since(0), null, "more than kept since then");
  assert.equal(log.since(5), null);
  assert.deepEqual(
    log.since(1027)!.map((e) => e.users[0]),
    [1027, 1028, 1029],
  );
  assert.deepEqual(log.since(1030), []);
  assert.equal(log.since(1031), null, "a view from elsewhere");
});

for (const kind of ["sqlite", "postgres"] as const) {
  test(`a real ${kind} store: own described commits keep the view's stamp and are listed; other writes move it`, {
    skip: kind === "postgres" && !process.env.GATEHOUSE_TEST_PG && "GATEHOUSE_TEST_PG is not set",
  }, async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "gatehouse-own-commits-"));
    const store = await openStore({ dataDir: dir, url: kind === "postgres" ? process.env.GATEHOUSE_TEST_PG : null });
    try {
      const feed = store.changes;
      const v0 = feed.view();
      assert.notEqual(v0.stamp, null);
      const ev = changeOf({ groups: [1] });
      await commitChange({ store, changed: () => {} }, ev, (trx) => trx.updateTable("groups").set({ name: "renamed" }).where("id", "=", -1).execute());
      const v1 = feed.view();
      assert.equal(v1.stamp, v0.stamp, "a described commit does not move the view's stamp");
      assert.equal(v1.seq, v0.seq + 1);
      assert.deepEqual(feed.ownSince(v0.seq), [ev]);
      // A write with no event in its transaction, and an autocommit write: both move the stamp.
      await store.db.transaction().execute((trx) => trx.updateTable("groups").set({ name: "again" }).where("id", "=", -1).execute());
      const v2 = feed.view();
      assert.notEqual(v2.stamp, v1.stamp);
      assert.equal(v2.seq, v1.seq);
      await store.db.updateTable("users").set({ locked: 1 }).where("id", "=", -1).execute();
      assert.notEqual(feed.view().stamp, v2.stamp);
      // An event recorded outside a transaction describes nothing.
      const v3 = feed.view();
      await recordChange(store.db, changeOf({ users: [1] }));
      assert.deepEqual(feed.view(), v3);
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
