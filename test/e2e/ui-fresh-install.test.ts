// A fresh install works end to end in the browser (issue 14 point 3): a real `gatehouse serve`
// process on a new data dir, the first administrator made in the browser, then a user with a home
// directory chosen in the home browser inside the demo storage root (<data-dir>/mnt, which serve
// creates) — the home exists on disk afterwards. A storage root that does not exist is marked and
// cannot be selected.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, rmSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { Browser } from "playwright-core";
import { ADMIN_PASSWORD } from "../harness.js";
import { startServerProcess, type ServerProcess } from "../process-harness.js";
import { ensureUiBuilt, launchChromium } from "./browser.js";
import { PASSWORD, heading, shot } from "./ui-helpers.js";

let proc: ServerProcess;
let browser: Browser;

describe("issue 14: a fresh install in the browser", { timeout: 5 * 60_000 }, () => {
  before(async () => {
    ensureUiBuilt();
    // The default demo root of a fresh data dir, plus a configured root that does not exist.
    const dataDir = mkdtempSync(path.join(os.tmpdir(), "gatehouse-fresh-"));
    proc = await startServerProcess({ dataDir, args: ["--storage-root", path.join(dataDir, "mnt"), "/nonexistent-gatehouse-root"] });
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close().catch(() => {});
    const dir = proc?.dataDir;
    await proc?.stop();
    if (dir && existsSync(dir)) rmSync(dir, { recursive: true, force: true });
  });

  test("first administrator, then a user with a home in the demo storage root", { timeout: 180_000 }, async (t) => {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    t.after(() => ctx.close());
    const page = await ctx.newPage();
    page.setDefaultTimeout(20_000);
    await page.goto(`${proc.httpUrl}/`);
    await heading(page, "Welcome to Gatehouse");
    await page.getByLabel("Password", { exact: true }).fill(ADMIN_PASSWORD);
    await page.getByLabel("Confirm password").fill(ADMIN_PASSWORD);
    await page.getByRole("button", { name: "Create administrator" }).click();
    await heading(page, "Users");

    const demo = path.join(proc.dataDir, "mnt");
    const username = `fresh${randomBytes(2).toString("hex")}`;
    await page
      .getByRole("link", { name: /Add user/ })
      .or(page.getByRole("button", { name: /Add user/ }))
      .first()
      .click();
    await heading(page, "Add user");
    await page.getByLabel("Full name").fill("Fresh Install");
    await page.locator("input[name=username]").fill(username);
    await page.locator("input[name=password]").fill(PASSWORD);
    await page.getByLabel("Confirm password").fill(PASSWORD);
    await page.getByTestId("browse-home").click();
    const dlg = page.getByRole("dialog", { name: "Choose the home directory" });
    const roots = dlg.getByRole("listbox", { name: "Storage roots" });
    // The missing root is marked and cannot be selected.
    await roots.getByRole("option", { name: /nonexistent-gatehouse-root/ }).click();
    await dlg.getByTestId("dir-missing").waitFor();
    assert.equal(await dlg.getByTestId("dir-select").isDisabled(), true, "Select is disabled for a missing root");
    await shot(page, "home-browser-missing-root");
    // The demo root exists: open it, choose homes.
    await roots.getByRole("option", { name: demo }).click();
    await dlg.getByRole("button", { name: "Open", exact: true }).click();
    const inDemo = dlg.getByRole("listbox", { name: `Folders in ${demo}` });
    await inDemo.getByRole("option", { name: "homes" }).click();
    assert.equal(await dlg.getByTestId("dir-select").isDisabled(), false);
    await dlg.getByTestId("dir-select").click();
    await page.getByLabel("Create home directory").check();
    await page.getByTestId("save-user").click();
    await heading(page, "Users");
    const home = path.join(demo, "homes", username);
    assert.ok(existsSync(home), `home ${home} exists`);
    assert.ok(statSync(home).isDirectory());
    const api = await proc.adminClient();
    const u = (await api.call<any[]>("user.query", [["username", "=", username]]))[0];
    assert.equal(u.home, home);
  });
});
