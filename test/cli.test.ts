// The `gatehouse` command against a real running server: `call` (JSON out, errors on stderr with
// a non-zero exit), the user and group subcommands (tables and --json), and the three ways to log
// in (--user/--password, --api-key, GATEHOUSE_API_KEY). The server runs in this process, so the
// CLI is always run asynchronously (a synchronous spawn would stop the server it talks to).

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { startAsAdmin, type TestUser } from "./auth-helpers.js";
import type { TestServer } from "./harness.js";
import type { RpcClient } from "../src/cli/client.js";
import { gatehouse } from "./gatehouse-command.js";

describe("gatehouse command line against a running server", () => {
  let ts: TestServer;
  let admin: TestUser;
  let a: RpcClient;
  let login: string[];

  before(async () => {
    ({ ts, admin, a } = await startAsAdmin("sqlite"));
    login = ["--url", ts.url, "--user", admin.username, "--password", admin.password];
  });
  after(async () => {
    await a.close();
    await ts.stop();
  });

  test("call prints the JSON result; an unauthenticated method needs no login", async () => {
    const ping = await gatehouse(["call", "core.ping", "--url", ts.url]);
    assert.equal(ping.code, 0, ping.stderr);
    assert.equal(JSON.parse(ping.stdout), "pong");
    const q = await gatehouse(["call", "user.query", JSON.stringify([["username", "=", admin.username]]), ...login]);
    assert.equal(q.code, 0, q.stderr);
    const rows = JSON.parse(q.stdout) as { username: string; uid: number }[];
    assert.deepEqual(
      rows.map((u) => u.username),
      [admin.username],
      "the admin's entry",
    );
  });

  test("call: an error goes to stderr with the field, and the exit status is not zero", async () => {
    const r = await gatehouse(["call", "user.create", JSON.stringify({ username: "bad name!", full_name: "X", password_disabled: true, group_create: true }), ...login]);
    assert.notEqual(r.code, 0, "non-zero exit");
    assert.equal(r.stdout, "", "nothing on stdout");
    assert.match(r.stderr, /username/, `the field is named: ${r.stderr}`);
    const anon = await gatehouse(["call", "user.query", "--url", ts.url]);
    assert.notEqual(anon.code, 0, "a method that needs a login fails without one");
    assert.match(anon.stderr, /ENOTAUTHENTICATED|authenticat/i, anon.stderr);
  });

  test("user add / list / show / edit / delete, as tables and as JSON", async () => {
    const add = await gatehouse(["user", "add", "clialice", "--full-name", "Alice Cli", "--new-password", "Cli-pass-12345", "--no-smb", "--json", ...login]);
    assert.equal(add.code, 0, add.stderr);
    const created = JSON.parse(add.stdout) as { id: number; username: string; full_name: string };
    assert.equal(created.username, "clialice");
    assert.equal(created.full_name, "Alice Cli");

    const list = await gatehouse(["user", "list", ...login]);
    assert.equal(list.code, 0, list.stderr);
    const header = list.stdout.split("\n")[0]!;
    assert.match(header, /ID\s+USERNAME\s+UID\s+GROUP\s+FULL NAME/, "a table with a header");
    assert.ok(
      list.stdout.split("\n").some((l) => /\bclialice\b/.test(l) && l.includes("Alice Cli")),
      `the new user is listed:\n${list.stdout}`,
    );

    const listJson = await gatehouse(["user", "list", "--json", ...login]);
    assert.ok(
      (JSON.parse(listJson.stdout) as { username: string }[]).some((u) => u.username === "clialice"),
      "listed as JSON too",
    );

    const edit = await gatehouse(["user", "edit", "clialice", "--full-name", "Alice Renamed", ...login]);
    assert.equal(edit.code, 0, edit.stderr);
    const show = await gatehouse(["user", "show", "clialice", "--json", ...login]);
    assert.equal((JSON.parse(show.stdout) as { full_name: string }).full_name, "Alice Renamed", "the edit is stored");
    const [viaApi] = await a.call<{ full_name: string }[]>("user.query", [["username", "=", "clialice"]]);
    assert.equal(viaApi!.full_name, "Alice Renamed", "and seen through the API");

    const del = await gatehouse(["user", "delete", "clialice", ...login]);
    assert.equal(del.code, 0, del.stderr);
    assert.deepEqual(await a.call("user.query", [["username", "=", "clialice"]]), [], "deleted");
  });

  test("group add and list", async () => {
    const add = await gatehouse(["group", "add", "cligroup", "--json", ...login]);
    assert.equal(add.code, 0, add.stderr);
    assert.equal((JSON.parse(add.stdout) as { name: string }).name, "cligroup");
    const list = await gatehouse(["group", "list", ...login]);
    assert.match(list.stdout.split("\n")[0]!, /ID\s+NAME\s+GID/, "a table with a header");
    assert.ok(list.stdout.includes("cligroup"), `the group is listed:\n${list.stdout}`);
  });

  test("log in with --api-key or GATEHOUSE_API_KEY; a wrong key fails", async () => {
    const { key } = await a.call<{ key: string }>("api_key.create", { name: "cli-test", username: admin.username });
    const me = ["call", "auth.me", "--url", ts.url];
    const byFlag = await gatehouse([...me, "--api-key", key]);
    assert.equal(byFlag.code, 0, byFlag.stderr);
    assert.equal((JSON.parse(byFlag.stdout) as { pw_name: string }).pw_name, admin.username);
    const byEnv = await gatehouse(me, { GATEHOUSE_API_KEY: key });
    assert.equal(byEnv.code, 0, byEnv.stderr);
    assert.equal((JSON.parse(byEnv.stdout) as { pw_name: string }).pw_name, admin.username);
    const wrong = await gatehouse([...me, "--api-key", `${key.split("-")[0]}-${"x".repeat(64)}`]);
    assert.notEqual(wrong.code, 0, "a wrong key is refused");
    assert.match(wrong.stderr, /AUTH_ERR/, wrong.stderr);
  });
});
