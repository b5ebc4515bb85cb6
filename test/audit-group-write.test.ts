// Audit entries written as one group (writeAuditGroup, used by the fleet proxy's grouped writer):
// one multi-row INSERT; when it fails, the same rows one by one, so a bad entry loses only itself
// and no entry is written twice. On both stores.

import { after, before, it } from "node:test";
import assert from "node:assert/strict";
import { forEachStore, startServer, type TestServer } from "./harness.js";
import { writeAuditGroup, type AuditInput } from "../src/audit/audit.js";
import { sqliteHandleOf } from "../src/store/db.js";
import { GroupedAuditWriter } from "../src/fleet/call-audit.js";

forEachStore("audit group write", (store) => {
  let ts: TestServer;
  before(async () => {
    ts = await startServer({ store });
  });
  after(() => ts.stop());

  const entry = (tag: string, i: number): AuditInput => ({ event: "METHOD_CALL", eventData: { method: "test.group", tag, i }, success: i % 2 === 0, conn: null, session: null, username: "grouper" });
  const rowsOf = (tag: string) => ts.app.store.db.selectFrom("audit").selectAll().where("event_data", "like", `%"tag":"${tag}"%`).orderBy("id").execute();

  it("writes every entry of a group, unchanged, with one INSERT", async () => {
    const tag = `ok-${Date.now()}`;
    const db = ts.app.store.db;
    // SQLite: a group is written on the store's connection directly (insertAuditRowsNow), without
    // Kysely: every statement run on that connection (Kysely's too) is counted there instead.
    const raw = sqliteHandleOf(db);
    const original = db.executeQuery.bind(db);
    const inserts: number[] = [];
    db.executeQuery = ((q: { sql: string; parameters: readonly unknown[] }) => {
      if (!raw && /^insert into "audit"/i.test(q.sql)) inserts.push(q.parameters.length);
      return original(q as never);
    }) as typeof db.executeQuery;
    const statement = raw ? (Object.getPrototypeOf(raw.prepare("select 1")) as { run: (...a: unknown[]) => unknown }) : null;
    const run = statement?.run;
    if (statement && run) {
      statement.run = function (this: { source: string }, ...args: unknown[]) {
        if (/^insert into "audit"/i.test(this.source)) inserts.push(args.flat().length);
        return run.apply(this, args);
      };
    }
    try {
      await writeAuditGroup(
        ts.app,
        Array.from({ length: 5 }, (_, i) => entry(tag, i)),
      );
    } finally {
      db.executeQuery = original;
      if (statement && run) statement.run = run;
    }
    assert.deepEqual(inserts, [5 * 11], "one INSERT of five rows");
    const rows = await rowsOf(tag);
    assert.deepEqual(
      rows.map((r) => JSON.parse(String(r.event_data)).i),
      [0, 1, 2, 3, 4],
    );
    for (const r of rows) {
      assert.equal(r.username, "grouper");
      assert.equal(r.event, "METHOD_CALL");
      assert.equal(Number(r.success), JSON.parse(String(r.event_data)).i % 2 === 0 ? 1 : 0);
    }
    assert.equal(new Set(rows.map((r) => r.audit_id)).size, 5);
  });

  it("a bad entry loses only itself: the others are written once each", async () => {
    const tag = `bad-${Date.now()}`;
    const inputs = Array.from({ length: 4 }, (_, i) => entry(tag, i));
    // event is NOT NULL: this row makes the multi-row INSERT fail as a whole.
    inputs[2] = { ...inputs[2]!, event: null as unknown as string };
    await writeAuditGroup(ts.app, inputs);
    const rows = await rowsOf(tag);
    assert.deepEqual(
      rows.map((r) => JSON.parse(String(r.event_data)).i),
      [0, 1, 3],
    );
    assert.equal(new Set(rows.map((r) => r.audit_id)).size, 3);
  });

  it("the grouped writer: entries of one turn answer only once committed, each once", async () => {
    const tag = `turn-${Date.now()}`;
    const w = new GroupedAuditWriter(ts.app);
    // (undefined: written and committed before write returned — the first, alone, on SQLite)
    const writes = Array.from({ length: 20 }, (_, i) => Promise.resolve(w.write(entry(tag, i))).then(() => rowsOf(tag)));
    const seen = await Promise.all(writes);
    // Every write resolved after its own entry was in the store.
    seen.forEach((rows, i) =>
      assert.ok(
        rows.some((r) => JSON.parse(String(r.event_data)).i === i),
        `entry ${i} committed before its write resolved`,
      ),
    );
    const rows = await rowsOf(tag);
    assert.equal(rows.length, 20);
    assert.equal(new Set(rows.map((r) => JSON.parse(String(r.event_data)).i)).size, 20);
  });

  it("the grouped writer: an entry written while a transaction is open is not part of it", async () => {
    const tag = `tx-${Date.now()}`;
    const w = new GroupedAuditWriter(ts.app);
    let written: Promise<void> | undefined;
    await ts.app.store.db
      .transaction()
      .execute(async (trx) => {
        await trx.selectFrom("audit").select("id").limit(1).execute();
        written = w.write(entry(tag, 0));
        throw new Error("roll back");
      })
      .catch(() => {});
    await written;
    assert.equal((await rowsOf(tag)).length, 1, "the entry committed on its own, not rolled back with the transaction");
  });

  it("the grouped writer: an entry written as a lone call is sent, then its outcome before the answer", async () => {
    const tag = `ahead-${Date.now()}`;
    const w = new GroupedAuditWriter(ts.app);
    w.begin();
    const id = w.ahead({ ...entry(tag, 1), eventData: { method: "test.group", tag, i: 1, answered: false } });
    if (store === "sqlite") {
      assert.equal(typeof id, "number");
      const [sent] = await rowsOf(tag);
      assert.deepEqual([Number(sent!.success), JSON.parse(String(sent!.event_data)).answered], [0, false], "sent, not answered yet");
      await w.settle(id!, true, { method: "test.group", tag, i: 1 });
      const rows = await rowsOf(tag);
      assert.equal(rows.length, 1);
      assert.deepEqual([Number(rows[0]!.success), JSON.parse(String(rows[0]!.event_data))], [1, { method: "test.group", tag, i: 1 }]);
    } else {
      // PostgreSQL: nothing written ahead; the entry is written after the answer, in its group.
      assert.equal(id, null);
      await w.write(entry(tag, 0));
      assert.equal((await rowsOf(tag)).length, 1);
    }
    // Another call in flight: nothing is written ahead (entries go in groups).
    w.begin();
    w.begin();
    assert.equal(w.ahead(entry(tag, 2)), null);
  });
});
