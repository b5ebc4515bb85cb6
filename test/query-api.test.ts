// Every query-filter operator and query-option of reference §8.5, through user.query and
// group.query on a real server, on SQLite and PostgreSQL.

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { forEachStore, rpcError, startServer, uniq, type TestServer } from "./harness.js";
import type { RpcClient } from "../src/cli/client.js";

forEachStore("query filters and options", (store) => {
  let ts: TestServer;
  let a: RpcClient;
  const p = uniq("q");
  const names = [`${p}alice`, `${p}bob`, `${p}carol`, `${p}dave`, `${p}Eve`];
  const scope = ["username", "^", p];
  const q = async (filters: unknown[], options: Record<string, unknown> = {}) => a.call<any>("user.query", [scope, ...filters], options);
  const usernames = (rows: any[]) => rows.map((r) => r.username.slice(p.length)).sort();

  before(async () => {
    ts = await startServer({ store });
    a = await ts.adminClient();
    const specs = [
      { full_name: "Alice Anders", email: "alice@example.test", locked: false, uid: 5001 },
      { full_name: "Bob Brown", email: null, locked: true, uid: 5002 },
      { full_name: "Carol Chen", email: "carol@example.test", locked: false, uid: 5003 },
      { full_name: "Dave Doe", email: "dave@other.test", locked: false, uid: 5004 },
      { full_name: "Eve Evans", email: null, locked: false, uid: 5005 },
    ];
    for (let i = 0; i < names.length; i++) {
      await a.call("user.create", { username: names[i], password: "Qq-pass-1234", group_create: true, smb: false, ...specs[i] });
    }
  });
  after(async () => {
    await ts.stop();
  });

  test("= != > >= < <=", async () => {
    assert.deepEqual(usernames(await q([["uid", "=", 5002]])), ["bob"]);
    assert.deepEqual(usernames(await q([["uid", "!=", 5002]])), ["Eve", "alice", "carol", "dave"]);
    assert.deepEqual(usernames(await q([["uid", ">", 5003]])), ["Eve", "dave"]);
    assert.deepEqual(usernames(await q([["uid", ">=", 5003]])), ["Eve", "carol", "dave"]);
    assert.deepEqual(usernames(await q([["uid", "<", 5002]])), ["alice"]);
    assert.deepEqual(usernames(await q([["uid", "<=", 5002]])), ["alice", "bob"]);
    assert.deepEqual(usernames(await q([["email", "=", null]])), ["Eve", "bob"]);
    assert.deepEqual(usernames(await q([["email", "!=", null]])), ["alice", "carol", "dave"]);
    assert.deepEqual(usernames(await q([["locked", "=", true]])), ["bob"]);
  });

  test("~ is an anchored regex; (?i) makes it case-insensitive; null counts as empty", async () => {
    assert.deepEqual(usernames(await q([["full_name", "~", "Ca"]])), ["carol"]);
    assert.deepEqual(usernames(await q([["full_name", "~", "ca"]])), []);
    assert.deepEqual(usernames(await q([["full_name", "~", "(?i)ca"]])), ["carol"]);
    assert.deepEqual(usernames(await q([["full_name", "~", "Chen"]])), [], "anchored at the start");
    assert.deepEqual(usernames(await q([["full_name", "~", ".*Chen"]])), ["carol"]);
    assert.deepEqual(usernames(await q([["full_name", "~", "(A|B)[a-z]+ [AB]"]])), ["alice", "bob"]);
    assert.deepEqual(usernames(await q([["email", "~", "^$"]])), ["Eve", "bob"]);
  });

  test("in nin rin rnin", async () => {
    assert.deepEqual(usernames(await q([["uid", "in", [5001, 5005, 9999]]])), ["Eve", "alice"]);
    assert.deepEqual(usernames(await q([["uid", "nin", [5001, 5005]]])), ["bob", "carol", "dave"]);
    assert.deepEqual(usernames(await q([["full_name", "rin", "ro"]])), ["bob", "carol"]);
    assert.deepEqual(usernames(await q([["full_name", "rnin", "e"]])), ["bob"]);
    assert.deepEqual(usernames(await q([["email", "rin", "other"]])), ["dave"], "null never matches rin");
  });

  test("^ !^ $ !$ with null never matching", async () => {
    assert.deepEqual(usernames(await q([["full_name", "^", "Da"]])), ["dave"]);
    assert.deepEqual(usernames(await q([["full_name", "!^", "Da"]])), ["Eve", "alice", "bob", "carol"]);
    assert.deepEqual(usernames(await q([["email", "$", "example.test"]])), ["alice", "carol"]);
    assert.deepEqual(usernames(await q([["email", "!$", "example.test"]])), ["dave"]);
  });

  test("C prefix: case-insensitive", async () => {
    assert.deepEqual(usernames(await q([["full_name", "C=", "alice anders"]])), ["alice"]);
    assert.deepEqual(usernames(await q([["full_name", "C^", "eve"]])), ["Eve"]);
    assert.deepEqual(usernames(await q([["full_name", "C~", "BOB"]])), ["bob"]);
    assert.deepEqual(usernames(await q([["email", "C$", "EXAMPLE.TEST"]])), ["alice", "carol"]);
  });

  test("nested OR with AND groups", async () => {
    const rows = await q([
      [
        "OR",
        [
          [["locked", "=", true]],
          [
            ["uid", ">", 5003],
            ["email", "!=", null],
          ],
          ["full_name", "^", "Al"],
        ],
      ],
    ]);
    assert.deepEqual(usernames(rows), ["alice", "bob", "dave"]);
  });

  test("dotted paths, numeric index and * over lists, .$date", async () => {
    const [alice] = await q([["uid", "=", 5001]]);
    assert.deepEqual(usernames(await q([["group.bsdgrp_gid", "=", alice.group.bsdgrp_gid]])), ["alice"]);
    assert.deepEqual(usernames(await q([["group.bsdgrp_group", "=", names[0]]])), ["alice"]);
    const gid = await a.call<number>("group.create", { name: uniq("qg"), smb: false });
    await a.call("user.update", alice.id, { groups: [gid] });
    assert.deepEqual(usernames(await q([["groups.0", "=", gid]])), ["alice"]);
    assert.deepEqual(usernames(await q([["groups.*", "=", gid]])), ["alice"]);
    const groups = await a.call<any[]>("group.query", [
      ["id", "=", gid],
      ["users.*", "=", alice.id],
    ]);
    assert.equal(groups.length, 1);
    const future = new Date(Date.now() + 86400000).toISOString();
    assert.equal((await q([["last_password_change.$date", "<", future]])).length, 5);
    assert.equal((await q([["last_password_change.$date", ">", future]])).length, 0);
  });

  test("order_by: ascending, descending, nulls_first / nulls_last, several keys", async () => {
    assert.deepEqual(
      (await q([], { order_by: ["uid"] })).map((r: any) => r.uid),
      [5001, 5002, 5003, 5004, 5005],
    );
    assert.deepEqual(
      (await q([], { order_by: ["-uid"] })).map((r: any) => r.uid),
      [5005, 5004, 5003, 5002, 5001],
    );
    const nullsLast = (await q([], { order_by: ["nulls_last:email", "uid"] })).map((r: any) => r.uid);
    assert.deepEqual(nullsLast, [5001, 5003, 5004, 5002, 5005]);
    const nullsFirst = (await q([], { order_by: ["nulls_first:email", "uid"] })).map((r: any) => r.uid);
    assert.deepEqual(nullsFirst, [5002, 5005, 5001, 5003, 5004]);
    const multi = (await q([], { order_by: ["locked", "-uid"] })).map((r: any) => r.uid);
    assert.deepEqual(multi, [5005, 5004, 5003, 5001, 5002]);
  });

  test("paging with filters left for memory (computed fields, case-insensitive regex) equals slicing the full result", async () => {
    for (const filters of [
      [["immutable", "=", false]],
      [["full_name", "C~", "(?i)[a-e]"]],
      [
        ["roles", "=", []],
        ["full_name", "~", "(?i).*e"],
      ],
    ]) {
      const all = (await q(filters, { order_by: ["-uid"] })).map((r: any) => r.uid);
      assert.ok(all.length >= 3, JSON.stringify(filters));
      for (const [offset, limit] of [
        [0, 1],
        [1, 2],
        [2, 10],
      ]) {
        const page = (await q(filters, { order_by: ["-uid"], offset, limit })).map((r: any) => r.uid);
        assert.deepEqual(page, all.slice(offset, offset + limit), JSON.stringify({ filters, offset, limit }));
      }
      const first = await q(filters, { order_by: ["-uid"], get: true });
      assert.equal(first.uid, all[0]);
    }
  });

  test("select with dotted paths and aliases", async () => {
    const rows = await q([["uid", "=", 5001]], { select: ["username", ["full_name", "name"], "group.bsdgrp_gid"] });
    assert.deepEqual(Object.keys(rows[0]).sort(), ["group", "name", "username"]);
    assert.equal(rows[0].name, "Alice Anders");
    assert.equal(typeof rows[0].group.bsdgrp_gid, "number");
  });

  test("count, get, limit, offset", async () => {
    assert.equal(await q([], { count: true }), 5);
    assert.equal(await q([["locked", "=", false]], { count: true }), 4);
    const one = await q([["uid", "=", 5003]], { get: true });
    assert.equal(one.full_name, "Carol Chen");
    const miss = await rpcError(q([["uid", "=", 1]], { get: true }));
    assert.equal(miss.code, -32001);
    const page = await q([], { order_by: ["uid"], limit: 2, offset: 1 });
    assert.deepEqual(
      page.map((r: any) => r.uid),
      [5002, 5003],
    );
    assert.deepEqual(
      (await q([], { order_by: ["uid"], offset: 4 })).map((r: any) => r.uid),
      [5005],
    );
  });

  test("bad filters and options are validation errors naming the argument", async () => {
    for (const [filters, options] of [
      [[["uid", "<>", 1]], {}],
      [[["uid", "="]], {}],
      [[["full_name", "~", "(unclosed"]], {}],
      [[["no_such_field", "=", 1]], {}],
      [[], { limit: 10001 }],
      [[], { offset: -1 }],
      [[], { bogus: true }],
      [[["uid", "in", 5]], {}],
    ] as const) {
      const e = await rpcError(a.call("user.query", filters, options));
      assert.equal(e.code, -32602, JSON.stringify([filters, options]));
      assert.ok(e.extra.length >= 1 && typeof e.extra[0]![0] === "string");
    }
  });
});
