// A key replayed right after it stopped being valid (issue 13: API-key logins reuse what an earlier
// login of the same key read, src/auth/api-key-login-cache.ts): an attacker holding a key keeps
// signing in with it, hoping the server answers from what it remembers. Revoked, reset, expired
// with no write in between, owner locked or stripped of privileges, revoked by another connection
// to the same store (another process, the CLI) — the very next login fails. A wrong secret for a
// key id the server remembers is refused: the given key is still hashed and compared every time.

import { after, before, it } from "node:test";
import assert from "node:assert/strict";
import Database from "better-sqlite3";
import pg from "pg";
import { forEachStore } from "../harness.js";
import { makeUser, randomName, startAsAdmin, type TestUser } from "../auth-helpers.js";
import type { TestServer } from "../harness.js";
import type { RpcClient } from "../../src/cli/client.js";

forEachStore("api key replayed after revocation", (store) => {
  let ts: TestServer;
  let admin: TestUser;
  let a: RpcClient;
  before(async () => ({ ts, admin, a } = await startAsAdmin(store)));
  after(() => ts.stop());

  // A connection per login: the server closes one whose session's key was revoked.
  const login = async (key: string) => {
    const c = await ts.client();
    try {
      return (await c.loginApiKey(key, "")).response_type as string;
    } finally {
      await c.close();
    }
  };
  /** Signs in a few times, so whatever the server keeps of the key is warm. */
  const warm = async (key: string) => {
    for (let i = 0; i < 3; i++) assert.equal(await login(key), "SUCCESS");
  };

  it("a wrong secret for a remembered key id is refused", async () => {
    const k = await a.call<any>("api_key.create", { name: randomName(), username: admin.username });
    await warm(k.key);
    const [id, secret] = k.key.split("-");
    const other = secret.slice(0, -1) + (secret.endsWith("a") ? "b" : "a");
    assert.equal(await login(`${id}-${other}`), "AUTH_ERR");
    assert.equal(await login(k.key), "SUCCESS");
  });

  it("revoked or reset through the API: the next login fails", async () => {
    const k = await a.call<any>("api_key.create", { name: randomName(), username: admin.username });
    await warm(k.key);
    await a.call("api_key.revoke", k.id, "leaked");
    assert.equal(await login(k.key), "AUTH_ERR");
    const reset = await a.call<any>("api_key.update", k.id, { reset: true });
    assert.equal(await login(k.key), "AUTH_ERR", "the old secret after a reset");
    await warm(reset.key);
    await a.call("api_key.delete", k.id);
    assert.equal(await login(reset.key), "AUTH_ERR", "a deleted key");
  });

  it("the owner locked, or stripped of every privilege: the next login fails", async () => {
    const user = await makeUser(ts, { roles: ["READONLY_ADMIN"] });
    const k = await a.call<any>("api_key.create", { name: randomName(), username: user.username });
    await warm(k.key);
    await a.call("user.update", user.id, { locked: true });
    assert.equal(await login(k.key), "AUTH_ERR");
    await a.call("user.update", user.id, { locked: false });
    await warm(k.key);
    const [priv] = await a.call<any[]>("privilege.query", [["name", "=", `${user.username}_priv`]]);
    await a.call("privilege.delete", priv.id);
    assert.equal(await login(k.key), "DENIED");
  });

  it("expired while nothing was written: the next login answers EXPIRED", async () => {
    const k = await a.call<any>("api_key.create", { name: randomName(), username: admin.username, expires_at: new Date(Date.now() + 1500) });
    await warm(k.key);
    await new Promise((r) => setTimeout(r, 1600));
    assert.equal(await login(k.key), "EXPIRED");
  });

  it("revoked through another connection to the store (another process, the CLI): the next login fails", async () => {
    const k = await a.call<any>("api_key.create", { name: randomName(), username: admin.username });
    await warm(k.key);
    const describe = ts.app.store.describe;
    if (store === "sqlite") {
      const other = new Database(describe.replace(/^sqlite:/, ""));
      try {
        other.pragma("busy_timeout = 5000");
        other.prepare("update api_keys set revoked = 1, revoked_reason = 'elsewhere' where id = ?").run(k.id);
      } finally {
        other.close();
      }
    } else {
      const other = new pg.Client({ connectionString: ts.config.database! });
      await other.connect();
      try {
        await other.query("update api_keys set revoked = 1, revoked_reason = 'elsewhere' where id = $1", [k.id]);
      } finally {
        await other.end();
      }
    }
    assert.equal(await login(k.key), "AUTH_ERR");
  });
});
