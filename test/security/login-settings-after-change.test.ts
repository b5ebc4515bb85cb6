// A password or directory login right after an administrator tightened the rules (src/auth/stamped.ts:
// password logins keep the security and two-factor settings, and a directory login the account row
// it read by name and the directory servers, while the store's change stamp stands): an attacker who knows the password keeps
// signing in, hoping the server answers from what it kept. Two-factor turned on, the account locked
// — through the API or through another connection to the store (another process, the CLI), or
// while the directory was checking the password — the very next login obeys the change. Directory
// accounts too, and a directory server pointed elsewhere by another connection (a real slapd with TLS).

import { after, before, it } from "node:test";
import assert from "node:assert/strict";
import Database from "better-sqlite3";
import pg from "pg";
import { forEachStore, rpcError, type TestServer } from "../harness.js";
import { PASSWORD, makeUser, startAsAdmin } from "../auth-helpers.js";
import { GROUPS_DN, PEOPLE, PEOPLE_DN, freePort, startSlapd, type Slapd } from "../slapd-harness.js";
import type { RpcClient } from "../../src/cli/client.js";

let slapd: Slapd;
before(async () => {
  slapd = await startSlapd();
});
after(async () => {
  await slapd?.stop();
});

forEachStore("logins right after the rules changed", (store) => {
  let ts: TestServer;
  let a: RpcClient;
  before(async () => {
    ({ ts, a } = await startAsAdmin(store));
    // Every directory test user's primary gidNumber is 100: a role through it lets them sign in.
    await a.call("privilege.create", { name: "settings-change-ldap", ds_groups: [100], roles: ["READONLY_ADMIN"], web_shell: false });
  });
  after(() => ts.stop());

  /** One login on its own connection: its answer type. */
  const login = async (username: string, password: string) => {
    const c = await ts.client();
    try {
      return (await c.login(username, password)).response_type as string;
    } finally {
      await c.close();
    }
  };
  /** Signs in a few times, so whatever the server keeps is warm. */
  const warm = async (username: string, password: string) => {
    for (let i = 0; i < 3; i++) assert.equal(await login(username, password), "SUCCESS");
  };
  /** A write through another connection to the same store (as another process or the CLI makes). */
  async function elsewhere(text: string, args: unknown[]): Promise<void> {
    if (store === "sqlite") {
      const other = new Database(ts.app.store.describe.replace(/^sqlite:/, ""));
      try {
        other.pragma("busy_timeout = 5000");
        other.prepare(text.replace(/\$\d+/g, "?")).run(...args);
      } finally {
        other.close();
      }
      return;
    }
    const other = new pg.Client({ connectionString: ts.config.database! });
    await other.connect();
    try {
      await other.query(text, args);
    } finally {
      await other.end();
    }
  }

  it("two-factor turned on (API, then another connection): the next password login asks for the code", async () => {
    const u = await makeUser(ts, { roles: ["READONLY_ADMIN"] });
    await a.call("user.renew_2fa_secret", u.username, { interval: 30, otp_digits: 6 });
    await warm(u.username, PASSWORD);
    await a.call("auth.twofactor.update", { enabled: true, window: 0 });
    assert.equal(await login(u.username, PASSWORD), "OTP_REQUIRED");
    await a.call("auth.twofactor.update", { enabled: false });
    await warm(u.username, PASSWORD);
    await elsewhere("update settings set value = $1 where key = $2", [JSON.stringify({ id: 1, enabled: true, window: 0, services: { ssh: false } }), "auth.twofactor"]);
    assert.equal(await login(u.username, PASSWORD), "OTP_REQUIRED");
    await a.call("auth.twofactor.update", { enabled: false });
  });

  it("a local account locked through another connection: the next login fails", async () => {
    const u = await makeUser(ts, { roles: ["READONLY_ADMIN"] });
    await warm(u.username, PASSWORD);
    await elsewhere("update users set locked = 1 where id = $1", [u.id]);
    assert.equal(await login(u.username, PASSWORD), "AUTH_ERR");
  });

  it("a directory account locked (API, then another connection): the next directory login fails", async () => {
    await a.call("ldap.update", { allow_user_creation: true, join_teams: [], team_mappings: [] });
    const server = await a.call<any>("ldap.server.create", { hostname: `127.0.0.1:${slapd.ldapsPort}`, domain: PEOPLE_DN, group_domain: GROUPS_DN, connect_timeout: 2, timeout: 5 });
    try {
      const pw = PEOPLE.bob!.password;
      await warm("bob", pw);
      const [bob] = await a.call<any[]>("user.query", [["username", "=", "bob"]]);
      assert.equal(bob.source, "LDAP");
      await a.call("user.update", bob.id, { locked: true });
      assert.equal(await login("bob", pw), "AUTH_ERR");
      await a.call("user.update", bob.id, { locked: false });
      await warm("bob", pw);
      await elsewhere("update users set locked = 1 where id = $1", [bob.id]);
      assert.equal(await login("bob", pw), "AUTH_ERR");
      // Locked while the directory was checking the password (after the login read the account):
      // the row the login read before asking the directory is not used.
      await elsewhere("update users set locked = 0 where id = $1", [bob.id]);
      await warm("bob", pw);
      const auth = ts.app.auth as { directoryLogin: ((u: string, p: string, l?: unknown) => Promise<unknown>) | null };
      const hook = auth.directoryLogin!;
      auth.directoryLogin = async (u, p, l) => {
        const answer = hook(u, p, l);
        await elsewhere("update users set locked = 1 where id = $1", [bob.id]);
        return answer;
      };
      try {
        assert.equal(await login("bob", pw), "AUTH_ERR");
      } finally {
        auth.directoryLogin = hook;
      }
    } finally {
      await a.call("ldap.server.delete", server.id);
    }
  });

  it("a directory server pointed elsewhere through another connection: the next login asks the new address", async () => {
    await a.call("ldap.update", { allow_user_creation: true, join_teams: [], team_mappings: [] });
    const server = await a.call<any>("ldap.server.create", { hostname: `127.0.0.1:${slapd.ldapsPort}`, domain: PEOPLE_DN, group_domain: GROUPS_DN, connect_timeout: 2, timeout: 5 });
    try {
      const pw = PEOPLE.carol!.password;
      await warm("carol", pw);
      // Nothing listens there: the login must report the directory unreachable, not answer from the old server.
      const dead = await freePort();
      await elsewhere("update ldap_servers set hostname = $1 where id = $2", [`127.0.0.1:${dead}`, server.id]);
      const c = await ts.client();
      try {
        const e = await rpcError(c.login("carol", pw));
        assert.equal(e.errorCode, "ldap.unavailable");
      } finally {
        await c.close();
      }
    } finally {
      await a.call("ldap.server.delete", server.id);
    }
  });
});
