// The fleet proxy's call audit (src/fleet/call-audit.ts, docs/security/fleet-proxy-bypass.md): a
// proxied call's entry is durable (in the call journal) before the call is sent; the outcome is
// recorded after the answer, folded into the audit table with the entry or by an UPDATE; nothing
// is lost or doubled across a SIGKILL and a restart on the same data dir. On both stores.

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { forEachStore, startServer, type TestServer } from "./harness.js";
import { startServerProcess } from "./process-harness.js";
import { startManagedSystem, type ManagedSystem } from "./fleet-helpers.js";
import { auditRows, foldAuditRows, type AuditInput } from "../src/audit/audit.js";
import { CallAudit } from "../src/fleet/call-audit.js";
import { CallJournal } from "../src/fleet/call-journal.js";

/** Every row (audit_id first) in the journal files of `dir`. */
function journalRows(dir: string): unknown[][] {
  let names: string[] = [];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names.flatMap((n) =>
    readFileSync(path.join(dir, n), "utf8")
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l) as unknown[]),
  );
}

forEachStore("fleet call audit", (store) => {
  let ts: TestServer;
  let dir: string;
  before(async () => {
    ts = await startServer({ store });
  });
  // Every journal dir made, removed at the end even when a test failed before its own cleanup.
  const dirs: string[] = [];
  after(async () => {
    await ts.stop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });
  const journalDir = () => {
    dir = mkdtempSync(path.join(os.tmpdir(), "gh-journal-"));
    dirs.push(dir);
    return dir;
  };
  const fresh = () => new CallAudit(ts.app, new CallJournal(journalDir()));
  const cleanup = async (audit: CallAudit) => {
    await audit.close();
    rmSync(dir, { recursive: true, force: true });
  };
  const input = (tag: string, i: number, extra: Record<string, unknown> = {}): AuditInput => ({
    event: "METHOD_CALL",
    eventData: { method: "test.journal", tag, i, ...extra },
    success: false,
    conn: null,
    session: null,
    username: "journaler",
  });
  const rowsOf = (tag: string) => ts.app.store.db.selectFrom("audit").selectAll().where("event_data", "like", `%"tag":"${tag}"%`).orderBy("id").execute();

  test("an entry is in the journal when enter answers (before the call may be sent: at once for a call alone); folded with its outcome", async () => {
    const audit = fresh();
    const tag = `enter-${Date.now()}`;
    const entered = audit.enter(input(tag, 0));
    assert.ok(!(entered instanceof Promise), "a call alone is journaled at once");
    const e = await entered;
    assert.ok(
      journalRows(dir).some((r) => r[0] === e.row[0]),
      "journaled before enter answered",
    );
    assert.equal(JSON.parse(e.row[9]).answered, false, "journaled as sent, not answered");
    // No event data given: the entry's own, without "answered": false.
    audit.finish(e, true);
    await audit.flush();
    const rows = await rowsOf(tag);
    assert.equal(rows.length, 1);
    assert.deepEqual([Number(rows[0]!.success), JSON.parse(String(rows[0]!.event_data))], [1, { method: "test.journal", tag, i: 0 }]);
    assert.equal(rows[0]!.audit_id, e.row[0]);
    // Lines may stay in the journal after their fold (it is emptied once large): each is in the table (a restart skips it).
    for (const r of journalRows(dir)) assert.equal((await ts.app.store.db.selectFrom("audit").select("id").where("audit_id", "=", String(r[0])).execute()).length, 1);
    await cleanup(audit);
  });

  test("a call alone is written at once; the entries of a turn entered while it is out share one journal write, each resolved only once written", async () => {
    const audit = fresh();
    const tag = `turn-${Date.now()}`;
    const journal = (audit as unknown as { journal: CallJournal }).journal;
    const append = journal.append.bind(journal);
    let writes = 0;
    journal.append = (text: string) => {
      writes++;
      append(text);
    };
    const entries = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        Promise.resolve(audit.enter(input(tag, i))).then((e) => {
          assert.ok(
            journalRows(dir).some((r) => r[0] === e.row[0]),
            `entry ${i} journaled before it resolved`,
          );
          return e;
        }),
      ),
    );
    assert.equal(writes, 2, "the first alone at once, one write for the other 19 of the turn");
    entries.forEach((e, i) => audit.finish(e, i % 2 === 0, { method: "test.journal", tag, i }));
    await audit.flush();
    const rows = await rowsOf(tag);
    assert.equal(rows.length, 20);
    assert.equal(new Set(rows.map((r) => r.audit_id)).size, 20);
    for (const r of rows) assert.equal(Number(r.success), JSON.parse(String(r.event_data)).i % 2 === 0 ? 1 : 0);
    await cleanup(audit);
  });

  test('an entry folded before its answer says "answered": false; the outcome follows by an UPDATE of that row', async () => {
    const audit = fresh();
    const tag = `open-${Date.now()}`;
    const e = await audit.enter(input(tag, 0));
    await audit.flush();
    const [open] = await rowsOf(tag);
    assert.deepEqual([Number(open!.success), JSON.parse(String(open!.event_data)).answered], [0, false], "sent, not answered yet");
    audit.finish(e, false, { method: "test.journal", tag, i: 0, failed: true });
    await audit.flush();
    const rows = await rowsOf(tag);
    assert.equal(rows.length, 1);
    assert.equal(rows[0]!.id, open!.id);
    assert.deepEqual([Number(rows[0]!.success), JSON.parse(String(rows[0]!.event_data))], [0, { method: "test.journal", tag, i: 0, failed: true }]);
    await cleanup(audit);
  });

  test("a fold while a transaction is open on the store is not part of it (its rollback loses no entry)", async () => {
    const audit = fresh();
    const tag = `tx-${Date.now()}`;
    const e = await audit.enter(input(tag, 0));
    audit.finish(e, true, { method: "test.journal", tag, i: 0 });
    let folding: Promise<void> | undefined;
    await ts.app.store.db
      .transaction()
      .execute(async (trx) => {
        await trx.selectFrom("audit").select("id").limit(1).execute();
        folding = audit.flush();
        throw new Error("roll back");
      })
      .catch(() => {});
    await folding;
    assert.equal((await rowsOf(tag)).length, 1, "the entry committed on its own, not rolled back with the transaction");
    await cleanup(audit);
  });

  test("a journal left by a stopped writer is folded at start: entries already in the table are skipped, a line cut short is ignored", async () => {
    const tag = `left-${Date.now()}`;
    journalDir();
    const rows = auditRows([0, 1, 2].map((i) => input(tag, i, { answered: false })));
    // A writer that stopped after journaling three entries, the first of them folded already.
    const dead = new CallJournal(dir);
    dead.append(rows.map((r) => `${JSON.stringify(r)}\n`).join(""));
    dead.close();
    const [file] = readdirSync(dir);
    writeFileSync(path.join(dir, file!), `${readFileSync(path.join(dir, file!), "utf8")}["cut short`);
    await foldAuditRows(ts.app, [rows[0]!], []);
    const audit = new CallAudit(ts.app, new CallJournal(dir));
    await audit.recovered;
    const found = await rowsOf(tag);
    assert.deepEqual(found.map((r) => r.audit_id).sort(), rows.map((r) => r[0]).sort(), "each entry exactly once");
    assert.deepEqual(readdirSync(dir), [], "the leftover journal is gone once folded");
    await cleanup(audit);
  });

  test("SIGKILL after proxied calls: a manager started on the same data dir has every call's entry, once each", { timeout: 180_000 }, async () => {
    const sys: ManagedSystem = await startManagedSystem();
    const dataDir = mkdtempSync(path.join(os.tmpdir(), "gh-journal-proc-"));
    dirs.push(dataDir);
    // No fold before the kill: the entries are only in the journal when the process dies.
    const env = { GATEHOUSE_FLEET_AUDIT_FOLD_MS: "3600000" };
    const first = await startServerProcess({ store, dataDir, env });
    let second: Awaited<ReturnType<typeof startServerProcess>> | undefined;
    try {
      const admin = await first.adminClient();
      const s = await admin.call("fleet.system.create", { name: `crash-${Date.now()}`, url: sys.proc.url, api_key: sys.apiKey });
      for (let i = 0; i < 5; i++) assert.equal(await admin.call("fleet.call", s.id, "core.ping", []), "pong");
      await Promise.all(Array.from({ length: 5 }, () => admin.call("fleet.call", s.id, "user.query", [[["username", "=", "admin"]]])));
      process.kill(first.pid, "SIGKILL");
      await first.stop();
      second = await startServerProcess({ store, dataDir, databaseUrl: first.databaseUrl, env });
      const admin2 = await second.adminClient();
      const entries = (await admin2.call("audit.query", { "query-filters": [["event", "=", "METHOD_CALL"]], "query-options": { limit: 1000 } })) as {
        audit_id: string;
        event_data: { method: string; params: unknown[]; answered?: boolean };
      }[];
      const calls = entries.filter((e) => e.event_data.method === "fleet.call");
      assert.equal(calls.length, 10, "every proxied call of the killed process is in the log");
      assert.equal(new Set(calls.map((c) => c.audit_id)).size, 10, "none twice");
      assert.deepEqual(calls.map((c) => c.event_data.params[1]).sort(), [...Array(5).fill("core.ping"), ...Array(5).fill("user.query")]);
      // Their outcomes were only in the killed process's memory: the entries say so.
      assert.ok(calls.every((c) => c.event_data.answered === false));
    } finally {
      await second?.stop();
      await first.stop();
      await sys.proc.stop();
      rmSync(sys.dataDir, { recursive: true, force: true });
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
