// The dispatcher's fast path and the redacted copies of frozen results.

import { z } from "zod";
import { test } from "node:test";
import assert from "node:assert/strict";
import type { App } from "../app.js";
import { callMethod, handleMessage, redactResult } from "./rpc.js";
import { Connection } from "./connection.js";
import { withTestApp } from "../../test/harness.js";
import { testConnection, testSession } from "../../test/session-fixtures.js";
import { accessFor } from "../access/authorize.js";
import { defineMethod, type MethodDef } from "../api/method.js";
import { Registry } from "../api/registry.js";
import { REDACTED } from "../audit/audit.js";
import { CallError, ValidationErrors } from "./errors.js";
import type { Session } from "../auth/session.js";

const FIELDS = ["unixhash", "smbhash"] as const;
const def = { name: "x.query", secretFields: FIELDS, secretsRole: "ACCOUNT_WRITE" } as unknown as MethodDef;

function session(roles: string[], fullAdmin = false): Session {
  return testSession({ rawRoles: roles, fullAdmin });
}
const reader = session(["READONLY_ADMIN", "ACCOUNT_READ"]);

function deepFreeze<T>(v: T): T {
  if (v && typeof v === "object" && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const x of Object.values(v)) deepFreeze(x);
  }
  return v;
}

test("a frozen result's redacted copy is made once, frozen, and redacts exactly like a fresh copy", () => {
  const entries = deepFreeze([
    { id: 1, username: "a", unixhash: "$6$secret", smbhash: "NT", groups: [1, 2] },
    { id: 2, username: "b", unixhash: "*", groups: [] },
  ]);
  const first = redactResult(def, reader, entries) as any[];
  assert.deepEqual(
    first,
    [
      { id: 1, username: "a", unixhash: REDACTED, smbhash: REDACTED, groups: [1, 2] },
      { id: 2, username: "b", unixhash: REDACTED, groups: [] },
    ],
    "secret fields that are present are replaced; absent ones are not added",
  );
  assert.equal(redactResult(def, reader, entries), first, "the same frozen result gives the same copy");
  assert.ok(Object.isFrozen(first) && first.every((e) => Object.isFrozen(e)), "the shared copy is frozen");
  assert.throws(
    () => {
      first[0].unixhash = "x";
    },
    TypeError,
    "nobody can change the shared copy",
  );
  assert.equal(entries[0]!.unixhash, "$6$secret", "the cached result keeps its secrets");

  const fresh = redactResult(def, reader, structuredClone(entries)) as any[];
  assert.deepEqual(fresh, first, "a non-frozen result gets the same redaction");
  assert.ok(!Object.isFrozen(fresh), "a non-frozen result's copy is the caller's own");
  assert.notEqual(redactResult(def, reader, fresh), fresh, "and is made anew each time");

  const single = deepFreeze({ id: 3, unixhash: "h" });
  assert.deepEqual(redactResult(def, reader, single), { id: 3, unixhash: REDACTED }, "a single entry (get: true)");
  assert.equal(redactResult(def, reader, single), redactResult(def, reader, single), "also memoised");

  const other = { ...def, secretFields: ["username"] } as unknown as MethodDef;
  assert.deepEqual(
    (redactResult(other, reader, entries) as any[]).map((e) => [e.username, e.unixhash]),
    [
      [REDACTED, "$6$secret"],
      [REDACTED, "*"],
    ],
    "another set of secret fields has its own copy",
  );
  assert.equal(redactResult(def, session(["FULL_ADMIN"], true), entries), entries, "FULL_ADMIN sees the result itself");
  assert.equal(redactResult(def, session(["ACCOUNT_WRITE"]), entries), entries, "so does the method's secrets role");
});

test("a frozen array of entries that can still change is redacted anew each time", () => {
  const entry = { id: 1, unixhash: "one" };
  const list = Object.freeze([entry]);
  assert.deepEqual(redactResult(def, reader, list), [{ id: 1, unixhash: REDACTED }]);
  (entry as any).unixhash = undefined;
  delete (entry as any).unixhash;
  (entry as any).username = "changed";
  assert.deepEqual(redactResult(def, reader, list), [{ id: 1, username: "changed" }], "the change shows: no stale copy");
});

test("user.query through the dispatcher: redacted for a reader, the same frozen copy while cached, fresh after a change", async () => {
  await withTestApp(undefined, async (app) => {
    const root = testConnection("r", "127.0.0.1:1");
    root.session = app.auth.internalSession();
    await callMethod(app, root, "user.create", [{ username: "rpcu", full_name: "R", password: "Rpc-pass-12345", group_create: true, smb: true }], 1);
    const conn = testConnection("c", "127.0.0.1:2");
    const acc = accessFor(app.registry, ["READONLY_ADMIN"], false);
    conn.session = { ...reader, roles: acc.roles, allowedMethods: acc.allowedMethods, fullAdmin: false };
    const q = () => callMethod(app, conn, "user.query", [[["username", "=", "rpcu"]]], 1) as Promise<any[]>;

    const [u] = await q();
    assert.equal(u.unixhash, REDACTED, "unixhash redacted");
    assert.equal(u.smbhash, REDACTED, "smbhash redacted");
    const [full] = (await callMethod(app, root, "user.query", [[["username", "=", "rpcu"]]], 1)) as any[];
    assert.match(full.unixhash, /^\$6\$/, "the server itself sees the hash");
    // The cache keeps an answer from a question's second asking on (src/store/query-cache.ts).
    const [kept] = await q();
    assert.equal((await q())[0], kept, "a cached result gives the same redacted copy");
    assert.equal(kept.unixhash, REDACTED, "the kept copy is redacted");

    await callMethod(app, root, "user.update", [u.id, { full_name: "Changed" }], 1);
    const [after] = await q();
    assert.equal(after.full_name, "Changed", "a write shows through");
    assert.equal(after.unixhash, REDACTED, "still redacted");
  });
});

test("dispatcher: every outcome is a promise (never a synchronous throw), errors as before", async () => {
  await withTestApp(undefined, async (app) => {
    const conn = testConnection("c", "127.0.0.1:2");
    const call = (m: string, ...p: unknown[]) => {
      let result: Promise<unknown>;
      assert.doesNotThrow(() => {
        result = callMethod(app, conn, m, p, 1);
      }, `${m} must not throw synchronously`);
      return result!;
    };
    await assert.rejects(call("no.such_method"), (e: any) => e.code === -32601, "unknown method");
    await assert.rejects(call("user.query"), (e: any) => e instanceof CallError && e.errname === "ENOTAUTHENTICATED", "no session");

    const acc = accessFor(app.registry, ["READONLY_ADMIN"], false);
    conn.session = { ...reader, roles: acc.roles, allowedMethods: acc.allowedMethods };
    await assert.rejects(call("user.query", "not a list"), (e: any) => e instanceof ValidationErrors, "invalid arguments");
    await assert.rejects(call("user.create", { username: "x" }), (e: any) => e instanceof CallError && e.errname === "EACCES", "not authorized");

    // A handler that throws synchronously, and one that returns a plain value.
    const boom = defineMethod({
      name: "test.boom",
      description: "",
      args: [],
      returns: z.never(),
      roles: ["READONLY_ADMIN"],
      handler: () => {
        throw new CallError("boom", "core.invalid_argument");
      },
    });
    const plain = defineMethod({
      name: "test.plain",
      description: "",
      args: [],
      returns: z.object({ s: z.string(), t: z.number() }),
      roles: ["READONLY_ADMIN"],
      secretFields: ["s"],
      handler: () => ({ s: "secret", t: 1 }),
    });
    const withTestMethods = Object.create(app, { registry: { value: new Registry([boom, plain]) } }) as App;
    const allowed = new Set(["test.boom", "test.plain"]);
    const conn2 = testConnection("d", "127.0.0.1:3");
    conn2.session = { ...reader, roles: new Set(["READONLY_ADMIN"]), allowedMethods: allowed };
    const boomCall = callMethod(withTestMethods, conn2, "test.boom", [], 1);
    await assert.rejects(boomCall, (e: any) => e instanceof CallError && /boom/.test(e.message), "a synchronous throw becomes a rejection");
    assert.deepEqual(await callMethod(withTestMethods, conn2, "test.plain", [], 1), { s: REDACTED, t: 1 }, "a plain value is redacted too");

    // A session terminated elsewhere is noticed (at most a second later) before the call runs.
    conn.session = { ...conn.session!, expiresAt: Date.now() - 1 };
    await assert.rejects(call("user.query"), (e: any) => e instanceof CallError && e.errname === "ENOTAUTHENTICATED", "an expired session is dropped first");
    assert.equal(conn.session, null, "and the connection has no session any more");
  });
});

test("answers: the only call in flight is answered alone (sent at once), calls answered while others are out are not", async () => {
  await withTestApp(undefined, async (app) => {
    const sent: { id: unknown; alone: boolean }[] = [];
    const conn = new Connection(
      "c",
      "127.0.0.1:2",
      "127.0.0.1",
      false,
      "WEBSOCKET",
      (text, alone) => sent.push({ id: JSON.parse(text).id, alone }),
      () => {},
    );
    conn.session = app.auth.internalSession();
    await handleMessage(app, conn, JSON.stringify({ jsonrpc: "2.0", id: 1, method: "core.ping" }));
    await handleMessage(app, conn, JSON.stringify({ jsonrpc: "2.0", id: 2, method: "no.such_method" }));
    assert.deepEqual(
      sent,
      [
        { id: 1, alone: true },
        { id: 2, alone: true },
      ],
      "a result and an error, each the only call in flight",
    );
    sent.length = 0;
    await Promise.all([1, 2, 3].map((id) => handleMessage(app, conn, JSON.stringify({ jsonrpc: "2.0", id, method: "core.ping" }))));
    assert.deepEqual(
      sent.map((s) => s.alone),
      [false, false, true],
      "three at once: the first two answered while others were out, the last one alone",
    );
  });
});
