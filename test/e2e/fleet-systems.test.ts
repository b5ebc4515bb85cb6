// Browser tests of the fleet systems screens (issue 11 point 8): an administrator adds a system
// (the connection test's refusal is shown, then the system appears with a green status), edits and
// removes it; a user without privileges who has fleet access signs in, sees "My systems", browses
// a system's users and groups through the proxy, and gets write controls only with READ_WRITE.
// The managed system is a second real Gatehouse server on loopback.

import { after, before, test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import type { Browser, Page } from "playwright-core";
import { ADMIN_PASSWORD, startServer, uniq, type TestServer } from "../harness.js";
import type { RpcClient } from "../../src/cli/client.js";
import { ensureUiBuilt, launchChromium } from "./browser.js";

const PASSWORD = "Fleet-pass-1234";

let ts: TestServer;
let managed: TestServer;
let managedKey: string;
let admin: RpcClient;
let browser: Browser;

before(async () => {
  ensureUiBuilt();
  [ts, managed] = await Promise.all([startServer(), startServer()]);
  admin = await ts.adminClient();
  const m = await managed.adminClient();
  managedKey = (await m.call("api_key.create", { name: "fleet", username: "admin" })).key;
  browser = await launchChromium();
});

after(async () => {
  await browser?.close().catch(() => {});
  await ts?.stop();
  await managed?.stop();
});

async function page(t: TestContext, username: string, password: string, at: string): Promise<Page> {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  t.after(() => ctx.close());
  const p = await ctx.newPage();
  p.setDefaultTimeout(15_000);
  await p.goto(ts.httpUrl + at);
  await p.locator("#username").fill(username);
  await p.locator("#password").fill(password);
  await p.getByRole("button", { name: "Sign in", exact: true }).click();
  return p;
}

/** A user with no privilege, granted `access` to system `systemId` (straight into the store). */
async function fleetUser(systemId: number, access: "READ" | "READ_WRITE"): Promise<string> {
  const username = uniq("fu");
  const u = await admin.call("user.create", { username, full_name: username, password: PASSWORD, group_create: true, smb: false });
  await ts.app.store.db.insertInto("fleet_access").values({ owner_kind: "USER", owner_id: u.id, target_kind: "SYSTEM", target_id: systemId, access }).execute();
  return username;
}

test("Systems: add with the connection test (refusal shown, then added with a green status), edit, remove", { timeout: 120_000 }, async (t) => {
  const p = await page(t, "admin", ADMIN_PASSWORD, "/systems");
  await p.getByRole("heading", { name: "Systems", exact: true }).waitFor();
  const name = uniq("nas");
  await p.getByTestId("add-system").click();
  const dlg = p.getByTestId("system-dialog");
  await dlg.getByLabel("Name").fill(name);
  await dlg.getByLabel("URL").fill(managed.url);
  await dlg.getByLabel("API key", { exact: true }).fill(`${managedKey.split("-")[0]}-${"z".repeat(64)}`);
  await p.getByTestId("system-save").click();
  await dlg
    .getByText(/key refused|did not accept the API key/)
    .first()
    .waitFor({ timeout: 60_000 });
  await dlg.getByLabel("API key", { exact: true }).fill(managedKey);
  await p.getByTestId("system-save").click();
  const row = p.getByTestId(`system-row-${name}`);
  // The connection test logs in to the system: give it time on a loaded machine.
  await row.waitFor({ timeout: 60_000 });
  assert.equal(await row.getByTestId("system-status").getAttribute("data-state"), "up");
  assert.match((await row.textContent()) ?? "", /Gatehouse-/);
  // Edit: rename, keeping the stored key (blank field).
  // Row actions are in the row's menu (issue 14 point 7).
  await row.getByRole("button", { name: `Actions for ${name}` }).click();
  await row.getByRole("button", { name: `Edit ${name}` }).click();
  await dlg.getByLabel("Name").fill(`${name}x`);
  await p.getByTestId("system-save").click();
  await p.getByTestId(`system-row-${name}x`).waitFor({ timeout: 60_000 });
  // Remove.
  await p
    .getByTestId(`system-row-${name}x`)
    .getByRole("button", { name: `Actions for ${name}x` })
    .click();
  await p
    .getByTestId(`system-row-${name}x`)
    .getByRole("button", { name: `Remove ${name}x` })
    .click();
  await p.getByRole("button", { name: "Remove", exact: true }).click();
  await p.getByTestId(`system-row-${name}x`).waitFor({ state: "detached" });
  const left = await admin.call("fleet.system.query", [["name", "=", `${name}x`]]);
  assert.equal(left.length, 0);
});

test("a fleet user signs in, sees My systems and browses a system's users through the proxy; write controls only with READ_WRITE", { timeout: 120_000 }, async (t) => {
  const sys = await admin.call("fleet.system.create", { name: uniq("nas"), url: managed.url, api_key: managedKey });
  const writer = await fleetUser(sys.id, "READ_WRITE");
  const p = await page(t, writer, PASSWORD, "/");
  await p.getByRole("link", { name: "My systems" }).click();
  await p.getByTestId(`access-${sys.name}`).waitFor();
  assert.equal(await p.getByTestId(`access-${sys.name}`).textContent(), "Read/write");
  assert.equal(await p.getByRole("link", { name: "Users", exact: true }).count(), 0, "a fleet user has no Users screen");
  await p.getByTestId(`open-system-${sys.name}`).click();
  await p.getByTestId("remote-users").waitFor();
  const created = uniq("rmt");
  await p.getByTestId("remote-add-user").click();
  const dlg = p.getByTestId("remote-user-dialog");
  await dlg.getByLabel("Username").fill(created);
  await dlg.getByLabel("Password").fill("Remote-pass-123");
  await p.getByTestId("remote-user-save").click();
  await p.getByTestId(`remote-user-${created}`).waitFor();
  const m = await managed.adminClient();
  assert.equal((await m.call("user.query", [["username", "=", created]])).length, 1);

  // A READ user sees the same users without write controls.
  const reader = await fleetUser(sys.id, "READ");
  const r = await page(t, reader, PASSWORD, `/my-systems/${sys.id}`);
  await r.getByTestId(`remote-user-${created}`).waitFor();
  assert.match((await r.getByTestId("system-access").textContent()) ?? "", /Read\b/);
  assert.equal(await r.getByTestId("remote-add-user").count(), 0);
  assert.equal(await r.getByRole("button", { name: `Delete ${created}` }).count(), 0);
});
