// `gatehouse team …` and `gatehouse access explain USER SYSTEM` (issue 11 point 9, fleet access
// part) against a running server: the real command line, as an operator types it.

import { after, before, it } from "node:test";
import assert from "node:assert/strict";
import { startAsAdmin, makeUser, randomName, type TestUser } from "./auth-helpers.js";
import type { TestServer } from "./harness.js";
import type { RpcClient } from "../src/cli/client.js";
import { addSystem } from "./fleet-access-helpers.js";
import { gatehouse } from "./gatehouse-command.js";

let ts: TestServer;
let a: RpcClient;
let admin: TestUser;
let login: string[];

before(async () => {
  ({ ts, admin, a } = await startAsAdmin("sqlite"));
  login = ["--url", ts.url, "--user", admin.username, "--password", admin.password];
});
after(async () => {
  await a.close();
  await ts.stop();
});

it("team add / grant / add-member, then access explain says why", async () => {
  const sysName = randomName("web");
  await addSystem(ts, sysName);
  const u = await makeUser(ts);
  const team = randomName("ops");
  let r = await gatehouse(["team", "add", team, "--member", u.username, "--system", `${sysName}=READ`, ...login]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`${team} \\(id \\d+\\)`));
  r = await gatehouse(["access", "explain", u.username, sysName, ...login]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`${u.username} has READ on ${sysName}: decided at level 3`));
  r = await gatehouse(["team", "grant", team, sysName, "--access", "READ_WRITE", ...login]);
  assert.equal(r.code, 0, r.stderr);
  r = await gatehouse(["access", "explain", u.username, sysName, "--json", ...login]);
  assert.equal(JSON.parse(r.stdout).access, "READ_WRITE");
  r = await gatehouse(["team", "list", ...login]);
  assert.match(r.stdout, new RegExp(team));
  r = await gatehouse(["team", "remove-member", team, u.username, ...login]);
  assert.equal(r.code, 0, r.stderr);
  r = await gatehouse(["access", "explain", u.username, sysName, ...login]);
  assert.match(r.stdout, /has no access/);
  r = await gatehouse(["team", "grant", team, "no-such-system", ...login]);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /does not exist/);
  r = await gatehouse(["team", "delete", team, ...login]);
  assert.equal(r.code, 0, r.stderr);
});
