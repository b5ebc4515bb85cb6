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

test("[sqlite] a login's swap with its entry commits at once when nothing else is being written, and otherwise waits its turn", async () => {
  await withTestApp(undefined, async (app) => {
    const db = app.store.db;
    const entry = (conn: Connection, session: Session) => ({ event: "AUTHENTICATION", eventData: { test: true }, success: true, conn, session });
    const stored = async (s: Session) => !!(await db.selectFrom("sessions").select("id").where("id", "=", s.id).executeTakeFirst());
    const entries = async (s: Session) => (await db.selectFrom("audit").select("session").where("session", "=", s.id).execute()).length;
    let transactions = 0;
    const begin = db.transaction.bind(db);
    (db as { transaction: typeof db.transaction }).transaction = () => {
      transactions++;
      return begin();
    };

    // Alone: written in this very turn, in no Kysely transaction; the previous session's row goes.
    const conn = connection(400);
    const s1 = userSession();
    const s2 = userSession();
    await app.auth.attachWithEntry(conn, s1, entry(conn, s1));
    const written = app.auth.attachWithEntry(conn, s2, entry(conn, s2));
    assert.equal(conn.session, s2, "attached before any other turn of the loop");
    await written;
    assert.equal(transactions, 0, "no queued transaction");
    assert.equal(await stored(s1), false, "the previous session's row is gone");
    assert.ok(await stored(s2), "the new session is stored");
    assert.equal(await entries(s2), 1, "with its AUTHENTICATION entry");

    // An entry that cannot be made fails the login: nothing of it is stored (the usual way answers the failure).
    const bad = connection(401);
    const s3 = userSession();
    await app.auth.attachWithEntry(bad, s3, entry(bad, s3));
    Object.defineProperty(bad, "remoteAddress", {
      get: () => {
        throw new Error("no address");
      },
    });
    const s4 = userSession();
    await assert.rejects(app.auth.attachWithEntry(bad, s4, entry(bad, s4)), /no address/);
    assert.equal(await stored(s4), false, "the failed login's session is not stored");
    assert.equal(await entries(s4), 0, "nor its entry");

    // A transaction open on the store's connection: the swap waits for it (queued), never joins it.
    const c5 = connection(402);
    const s5 = userSession();
    let swapDone = false;
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let swapping: Promise<unknown> | undefined;
    const open = db.transaction().execute(async (trx) => {
      await trx.selectFrom("sessions").select("id").execute();
      swapping = app.auth.attachWithEntry(c5, s5, entry(c5, s5)).then(() => (swapDone = true));
      await held;
      assert.equal(swapDone, false, "not written inside another transaction");
    });
    setTimeout(release, 20);
    await open;
    await swapping;
    assert.ok(swapDone && (await stored(s5)) && (await entries(s5)) === 1, "written after it, with its entry");

    // Queued swaps keep their order: a login behind a queued one of the same connection goes after it.
    const c6 = connection(403);
    const [a, b] = [userSession(), userSession()];
    await Promise.all([app.auth.attach(c6, a, (trx) => writeAudit(app, entry(c6, a), trx)), app.auth.attachWithEntry(c6, b, entry(c6, b))]);
    assert.equal(c6.session, b);
    assert.equal(await stored(a), false, "the earlier login's session was replaced");
    assert.ok(await stored(b));
  });
});
