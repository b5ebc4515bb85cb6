// Results are declared and checked (issue 10, point 5): every method declares a result schema,
// the test servers check every result against it (GATEHOUSE_CHECK_RESULTS=1), and core.get_methods
// publishes it as JSON Schema with field descriptions.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { z } from "zod";
import { buildRegistry, Registry } from "../src/api/registry.js";
import { defineMethod } from "../src/api/method.js";
import { isRoleName } from "../src/access/roles.js";
import { callMethod } from "../src/server/rpc.js";
import { resultChecksEnabled } from "../src/server/result-check.js";
import type { App } from "../src/app.js";
import type { Session } from "../src/auth/session.js";
import { startServer } from "./harness.js";
import { testConnection, testSession } from "./session-fixtures.js";

test("every method declares a result schema, a description and typed roles", () => {
  const problems: string[] = [];
  for (const def of buildRegistry().all()) {
    if (!(def.returns instanceof z.ZodType)) problems.push(`${def.name}: no result schema (returns)`);
    if (!def.description.trim()) problems.push(`${def.name}: no description`);
    for (const role of def.roles) if (!isRoleName(role)) problems.push(`${def.name}: unknown role ${role}`);
  }
  assert.deepEqual(problems, []);
});

function reader(): Session {
  return testSession({ rawRoles: ["READONLY_ADMIN"], allowedMethods: new Set(["test.drift", "test.fine"]) });
}

describe("result checks", () => {
  test("a result that does not match its schema is a loud EFAULT naming the method and the path", async () => {
    const ts = await startServer();
    try {
      assert.equal(resultChecksEnabled(), true, "the test harness turns result checks on");
      const returns = z.object({ items: z.array(z.object({ name: z.string() })) });
      const drift = defineMethod({ name: "test.drift", description: "d", args: [], returns, roles: ["READONLY_ADMIN"], handler: () => ({ items: [{ name: 7 }] }) });
      const fine = defineMethod({ name: "test.fine", description: "f", args: [], returns, roles: ["READONLY_ADMIN"], handler: () => ({ items: [{ name: "x" }] }) });
      const app = Object.create(ts.app, { registry: { value: new Registry([drift, fine]) } }) as App;
      const conn = testConnection("c", "127.0.0.1:2");
      conn.session = reader();
      assert.deepEqual(await callMethod(app, conn, "test.fine", [], 1), { items: [{ name: "x" }] });
      await assert.rejects(callMethod(app, conn, "test.drift", [], 2), (e: any) => {
        assert.equal(e.errname, "EFAULT");
        assert.match(e.message, /test\.drift: result does not match its declared schema/);
        assert.match(e.message, /result\.items\.0\.name/);
        return true;
      });
    } finally {
      await ts.stop();
    }
  });

  test("core.get_methods publishes argument and result schemas with field descriptions", async () => {
    const ts = await startServer();
    try {
      const admin = await ts.adminClient();
      const methods = await admin.call<Record<string, any>>("core.get_methods");
      const query = methods["user.query"];
      assert.equal(query.owner, "any");
      assert.equal(query.accepts[0]._name_, "filters");
      const entry = query.returns.$defs.UserEntry;
      assert.match(entry.properties.username.description, /Login name/);
      assert.deepEqual(entry.properties.last_password_change.anyOf[0].required, ["$date"], "times are {$date} on the wire");
      assert.equal(methods["user.create"].accepts[0]._name_, "user_create");
      assert.ok(methods["user.create"].accepts[0].properties.username, "argument schema published");
      assert.deepEqual(methods["user.delete"].returns.type, "integer");
    } finally {
      await ts.stop();
    }
  });
});
