// Audit entries written as one group (writeAuditGroup): one multi-row INSERT; when it fails, the
// same rows one by one, so a bad entry loses only itself and no entry is written twice. On both
// stores. (The fleet proxy's call audit, which journals entries first: test/fleet-call-audit.test.ts.)

import { after, before, it } from "node:test";
import assert from "node:assert/strict";
import { forEachStore, startServer, type TestServer } from "./harness.js";
import { writeAuditGroup, type AuditInput } from "../src/audit/audit.js";
import { sqliteHandleOf } from "../src/store/db.js";

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
});
