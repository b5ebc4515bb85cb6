// Session swaps share transactions (group commit) without sharing failures; each login's session
// row and its AUTHENTICATION entry commit together.

import { test } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import type { App } from "../app.js";
import type { Connection } from "../server/connection.js";
import { writeAudit } from "../audit/audit.js";
import { freshPgDatabase, withTestApp } from "../../test/harness.js";
import { testConnection, testSession } from "../../test/session-fixtures.js";
import type { Session } from "./session.js";

const STORES = process.env.GATEHOUSE_TEST_PG ? ["sqlite", "postgres"] : ["sqlite"];

/** A stored (not ephemeral) API-key session of root, valid for an hour. */
function userSession(id: string = randomUUID()): Session {
  const now = Date.now();
  const who = { credentials: "API_KEY" as const, credentialsData: { username: "root" }, username: "root", uid: 0, attributes: ["API_KEY"] };
  return testSession({ id, ...who, rawRoles: ["FULL_ADMIN"], fullAdmin: true, webuiAccess: true, createdAt: now, expiresAt: now + 3600_000, ephemeral: undefined });
}

function connection(i: number): Connection {
  return testConnection(`c${i}`, `127.0.0.1:${1000 + i}`);
}

for (const store of STORES) {
  test(`[${store}] concurrent session swaps: each session with its audit entry, previous sessions dropped, one failure stays one`, async () => {
    await withTestApp(store === "postgres" ? await freshPgDatabase() : undefined, async (app) => {
      const db = app.store.db;
      const audit = (conn: Connection, session: Session) => (trx: Parameters<NonNullable<Parameters<App["auth"]["attach"]>[2]>>[0]) =>
        writeAudit(app, { event: "AUTHENTICATION", eventData: { test: true }, success: true, conn, session }, trx);

      let transactions = 0;
      const begin = db.transaction.bind(db);
      (db as { transaction: typeof db.transaction }).transaction = () => {
        transactions++;
        return begin();
      };

      // Twenty logins at once, on twenty connections that each had a session already.
      const conns = Array.from({ length: 20 }, (_, i) => connection(i));
      const first = conns.map(() => userSession());
      await Promise.all(conns.map((c, i) => app.auth.attach(c, first[i]!, audit(c, first[i]!))));
      const second = conns.map(() => userSession());
      transactions = 0;
      await Promise.all(conns.map((c, i) => app.auth.attach(c, second[i]!, audit(c, second[i]!))));
      assert.ok(transactions < conns.length, `logins arriving together share commits (${transactions} transactions for ${conns.length})`);
      conns.forEach((c, i) => assert.equal(c.session, second[i], `connection ${i} holds its new session`));
      const rows = await db
        .selectFrom("sessions")
        .select("id")
        .where(
          "id",
          "in",
          [...first, ...second].map((s) => s.id),
        )
        .execute();
      assert.deepEqual(new Set(rows.map((r) => r.id)), new Set(second.map((s) => s.id)), "exactly the new sessions are stored: the previous ones are gone");
      const entries = await db.selectFrom("audit").select("session").where("event", "=", "AUTHENTICATION").execute();
      for (const s of [...first, ...second]) assert.equal(entries.filter((e) => e.session === s.id).length, 1, "one AUTHENTICATION entry per session");

      // Swaps queued together, one of which cannot be written (its id is taken): that one fails
      // alone, with no audit entry; the others are stored with theirs.
      const taken = second[0]!.id;
      const more = Array.from({ length: 6 }, (_, i) => connection(100 + i));
      const sessions = more.map((_, i) => userSession(i === 3 ? taken : randomUUID()));
      transactions = 0;
      const results = await Promise.allSettled(more.map((c, i) => app.auth.attach(c, sessions[i]!, audit(c, sessions[i]!))));
      assert.ok(transactions > more.length, `the failed shared transaction was retried one swap at a time (${transactions})`);
      results.forEach((r, i) => assert.equal(r.status, i === 3 ? "rejected" : "fulfilled", `swap ${i}`));
      assert.equal(more[3]!.session, null, "the failed login attached nothing");
      for (const [i, s] of sessions.entries()) {
        if (i === 3) continue;
        assert.ok(await db.selectFrom("sessions").select("id").where("id", "=", s.id).executeTakeFirst(), `session ${i} stored`);
        assert.equal(more[i]!.session, s, `connection ${i} holds its session`);
      }
      const after = await db.selectFrom("audit").select("session").where("event", "=", "AUTHENTICATION").where("session", "=", taken).execute();
      assert.equal(after.length, 1, "the failed swap's audit entry was rolled back with it");
      const others = await db
        .selectFrom("audit")
        .select("session")
        .where(
          "session",
          "in",
          sessions.filter((_, i) => i !== 3).map((s) => s.id),
        )
        .execute();
      assert.equal(others.length, 5, "every other swap has its entry");

      // An audit entry that cannot be written fails its login (no session without its entry),
      // and only that one, wherever it is in the shared transaction.
      for (const bad of [0, 2, 4]) {
        const conns3 = Array.from({ length: 5 }, (_, i) => connection(200 + i));
        Object.defineProperty(conns3[bad]!, "remoteAddress", {
          get: () => {
            throw new Error("no address");
          },
        });
        const s3 = conns3.map(() => userSession());
        const r3 = await Promise.allSettled(conns3.map((c, i) => app.auth.attach(c, s3[i]!, audit(c, s3[i]!))));
        r3.forEach((r, i) => assert.equal(r.status, i === bad ? "rejected" : "fulfilled", `audit failure at ${bad}: swap ${i}`));
        const stored3 = await db
          .selectFrom("sessions")
          .select("id")
          .where(
            "id",
            "in",
            s3.map((s) => s.id),
          )
          .execute();
        assert.deepEqual(new Set(stored3.map((r) => r.id)), new Set(s3.filter((_, i) => i !== bad).map((s) => s.id)), `audit failure at ${bad}: the others are stored, not that one`);
      }

      // Several logins at once on ONE connection: the connection ends with the last session, and
      // only that one is stored (none is left behind without a connection).
      const one = connection(300);
      const s0 = userSession();
      await app.auth.attach(one, s0, audit(one, s0));
      const burst = Array.from({ length: 5 }, () => userSession());
      await Promise.all(burst.map((s) => app.auth.attach(one, s, audit(one, s))));
      assert.equal(one.session, burst[4], "the last login's session is the connection's");
      const kept = await db
        .selectFrom("sessions")
        .select("id")
        .where(
          "id",
          "in",
          [s0, ...burst].map((s) => s.id),
        )
        .execute();
      assert.deepEqual(
        kept.map((r) => r.id),
        [burst[4]!.id],
        "only the connection's session is stored",
      );
    });
  });
}
