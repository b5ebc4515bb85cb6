// Issue 14 in a real browser (Chromium via playwright-core): no silent harm to a home's mode,
// the group members picker at phone size, the Users type filter, API-key usernames, messages for
// people, and the polish points. One server and one browser for the file; each test makes its own
// fixtures and browser context, so each passes alone and in any order.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdirSync, statSync } from "node:fs";
import path from "node:path";
import { PASSWORD, adminSession, go, heading, ok, startEnv, stopEnv, userByName, type Env } from "./ui-helpers.js";

let env: Env;
const uniq = (p: string) => `${p}${randomBytes(3).toString("hex")}`;

describe("issue 14: the UI in a real browser", { timeout: 10 * 60_000 }, () => {
  before(async () => {
    env = await startEnv();
  });
  after(async () => {
    await stopEnv(env);
  });

  test("a 750 home edited and saved untouched stays 750 on disk; touched, it changes", { timeout: 120_000 }, async (t) => {
    const mnt = env.ts.config.storageRoots[0];
    mkdirSync(path.join(mnt, "homes"), { recursive: true });
    const username = uniq("mode");
    const { api, admin } = await adminSession(env, t, "/users");
    await api.call("user.create", { username, full_name: "Mode Keeper", password: PASSWORD, group_create: true, home: path.join(mnt, "homes"), home_create: true, home_mode: "750" });
    const u = await userByName(api, username);
    const onDisk = () => statSync(u.home).mode & 0o777;
    assert.equal(onDisk(), 0o750, "created 750");

    await go(admin, `/users/${u.id}/edit`);
    await heading(admin, `Edit user ${username}`);
    await admin.getByTestId("home-mode-note").getByText(/current permissions on disk/).waitFor();
    assert.equal(await admin.getByTestId("home-mode").textContent(), "750", "the form shows the real mode");
    ok(await admin.getByLabel("Group Read").isChecked(), "group read shown");
    // Edit something else, leave the permissions alone, save.
    await admin.getByLabel("Full name").fill("Mode Keeper Renamed");
    await admin.getByTestId("save-user").click();
    await heading(admin, "Users");
    assert.equal((await userByName(api, username)).full_name, "Mode Keeper Renamed");
    assert.equal(onDisk(), 0o750, "saved untouched: still 750 on disk");

    // Touched: group read off → 710.
    await go(admin, `/users/${u.id}/edit`);
    await heading(admin, `Edit user ${username}`);
    await admin.getByTestId("home-mode-note").getByText(/current permissions on disk/).waitFor();
    await admin.getByLabel("Group Read").uncheck();
    assert.equal(await admin.getByTestId("home-mode").textContent(), "710");
    await admin.getByTestId("save-user").click();
    await heading(admin, "Users");
    assert.equal(onDisk(), 0o710, "changed only when touched");
  });
});
