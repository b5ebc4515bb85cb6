// The fleet subcommands (issue 11 point 9, systems part): `gatehouse system add|list|status` and
// `gatehouse call --system NAME method …` through the proxy, run as a real command against a
// manager server, with a second real Gatehouse server as the managed system.

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { ADMIN_PASSWORD, startServer, uniq, type TestServer } from "./harness.js";
import { gatehouse } from "./gatehouse-command.js";

let ts: TestServer;
let managed: TestServer;
let key: string;
let login: string[];

before(async () => {
  [ts, managed] = await Promise.all([startServer(), startServer()]);
  await ts.adminClient();
  key = (await (await managed.adminClient()).call("api_key.create", { name: "fleet", username: "admin" })).key;
  login = ["--url", ts.url, "--user", "admin", "--password", ADMIN_PASSWORD];
});
after(async () => {
  await ts?.stop();
  await managed?.stop();
});

test("system add (connection tested), list, status, and call --system through the proxy", { timeout: 240_000 }, async () => {
  const name = uniq("nas");
  const bad = await gatehouse(["system", "add", name, managed.url, ...login], { GATEHOUSE_SYSTEM_API_KEY: `${key.split("-")[0]}-${"q".repeat(64)}` });
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /key refused/);
  const add = await gatehouse(["system", "add", name, managed.url, ...login], { GATEHOUSE_SYSTEM_API_KEY: key });
  assert.equal(add.code, 0, add.stderr);
  assert.match(add.stdout, new RegExp(`${name} \\(id \\d+\\): up`));
  const list = await gatehouse(["system", "list", ...login]);
  assert.equal(list.code, 0, list.stderr);
  assert.match(list.stdout, new RegExp(`${name}.*READ_WRITE.*Gatehouse-`));
  const status = await gatehouse(["system", "status", name, ...login]);
  assert.equal(status.code, 0, status.stderr);
  assert.match(status.stdout, /up/);
  const call = await gatehouse(["call", "--system", name, "user.query", '[["username","=","admin"]]', '{"select":["username"]}', ...login]);
  assert.equal(call.code, 0, call.stderr);
  assert.deepEqual(JSON.parse(call.stdout), [{ username: "admin" }]);
  const missing = await gatehouse(["call", "--system", "no-such-system", "user.query", ...login]);
  assert.notEqual(missing.code, 0);
  assert.match(missing.stderr, /no such system/);
});
