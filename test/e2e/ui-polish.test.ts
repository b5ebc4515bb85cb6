// Issue 14 in a real browser (Chromium via playwright-core): no silent harm to a home's mode,
// the group members picker at phone size, the Users type filter, API-key usernames, messages for
// people, and the polish points. One server and one browser for the file; each test makes its own
// fixtures and browser context, so each passes alone and in any order.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdirSync, statSync } from "node:fs";
import path from "node:path";
import type { Locator } from "playwright-core";
import { PASSWORD, PHONE, adminSession, go, heading, ok, shot, startEnv, stopEnv, userByName, type Env } from "./ui-helpers.js";

/** The boxes of every element `loc` matches: each has a size, and no two overlap. */
async function assertSeparateBoxes(loc: Locator, what: string): Promise<number> {
  const boxes = await loc.evaluateAll((els) => els.map((e) => e.getBoundingClientRect()).map((r) => ({ x: r.x, y: r.y, w: r.width, h: r.height })));
  for (const [i, b] of boxes.entries()) ok(b.w > 0 && b.h > 0, `${what} ${i} has a size (${b.w}×${b.h})`);
  for (let i = 0; i < boxes.length; i++)
    for (let j = i + 1; j < boxes.length; j++) {
      const a = boxes[i];
      const b = boxes[j];
      const overlap = a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
      ok(!overlap, `${what} ${i} and ${j} overlap: ${JSON.stringify([a, b])}`);
    }
  return boxes.length;
}

let env: Env;
const uniq = (p: string) => `${p}${randomBytes(3).toString("hex")}`;

describe("issue 14: the UI in a real browser", { timeout: 10 * 60_000 }, () => {
  before(async () => {
    env = await startEnv();
  });
  after(async () => {
    await stopEnv(env);
  });

  test("a reload shows the page from the kept method listing: its own calls are answered before the fresh listing is asked, which still comes", { timeout: 120_000 }, async (t) => {
    const { admin } = await adminSession(env, t, "/users");
    await admin.locator('[data-testid="table-users"] tr[data-row]').first().waitFor();
    // Frames of the reload's socket, in order: what the page sent and which answers came back.
    const frames: string[] = [];
    admin.on("websocket", (ws) => {
      const idOf = (text: string | Buffer) => {
        try {
          return JSON.parse(String(text)) as { id?: number; method?: string };
        } catch {
          return {};
        }
      };
      const methodOf = new Map<number, string>();
      ws.on("framesent", (f) => {
        const m = idOf(f.payload);
        if (m.method && m.id !== undefined) methodOf.set(m.id, m.method);
        if (m.method) frames.push(`send ${m.method}`);
      });
      ws.on("framereceived", (f) => {
        const m = idOf(f.payload);
        if (m.id !== undefined && methodOf.has(m.id)) frames.push(`answer ${methodOf.get(m.id)}`);
      });
    });
    await admin.reload();
    await admin.locator('[data-testid="table-users"] tr[data-row]').first().waitFor();
    for (let i = 0; i < 100 && !frames.includes("answer core.get_methods"); i++) await admin.waitForTimeout(50);
    const listing = frames.indexOf("send core.get_methods");
    ok(listing > 0 && frames.includes("answer core.get_methods"), `the fresh listing is asked and answered: ${frames.join(", ")}`);
    const queries = frames.map((f, i) => (f === "answer user.query" ? i : -1)).filter((i) => i >= 0);
    ok(queries.length > 0 && queries.every((i) => i < listing), `the page's queries were answered before the listing was asked: ${frames.join(", ")}`);
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
    await admin
      .getByTestId("home-mode-note")
      .getByText(/current permissions on disk/)
      .waitFor();
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
    await admin
      .getByTestId("home-mode-note")
      .getByText(/current permissions on disk/)
      .waitFor();
    await admin.getByLabel("Group Read").uncheck();
    assert.equal(await admin.getByTestId("home-mode").textContent(), "710");
    await admin.getByTestId("save-user").click();
    await heading(admin, "Users");
    assert.equal(onDisk(), 0o710, "changed only when touched");
  });

  test("group members picker at 390×844: every entry readable, member count, delete says how many users go", { timeout: 120_000 }, async (t) => {
    const { api, admin } = await adminSession(env, t, "/groups", PHONE);
    const tag = uniq("gm");
    for (let i = 0; i < 6; i++) await api.call("user.create", { username: `${tag}u${i}`, full_name: `Member ${i}`, password_disabled: true, group_create: true, smb: false });
    await heading(admin, "Groups");
    await admin.getByRole("button", { name: /Add group/ }).click();
    const dlg = admin.getByTestId("group-dialog");
    await dlg.getByLabel("Name").fill(`${tag}grp`);
    await dlg.getByLabel("Find users to add").fill(tag);
    await dlg
      .getByTestId("pick-available")
      .filter({ hasText: `${tag}u5` })
      .waitFor();
    assert.equal(await assertSeparateBoxes(dlg.getByTestId("pick-available"), "available entry"), 6);
    for (const i of [0, 1, 2]) await dlg.getByRole("button", { name: `Add ${tag}u${i}` }).click();
    assert.equal(await dlg.getByTestId("member-count").textContent(), "(3)");
    assert.equal(await assertSeparateBoxes(dlg.getByTestId("pick-member"), "member entry"), 3);
    await assertSeparateBoxes(dlg.getByTestId("pick-available"), "available entry");
    await dlg.getByRole("button", { name: `Remove ${tag}u1` }).click();
    assert.equal(await dlg.getByTestId("member-count").textContent(), "(2)");
    await shot(admin, "phone-group-members");
    await dlg.getByRole("button", { name: "Save" }).click();
    await dlg.waitFor({ state: "detached" });
    const g = (await api.call<any[]>("group.query", [["name", "=", `${tag}grp`]]))[0];
    assert.deepEqual(
      (await api.call<any[]>("user.query", [["id", "in", g.users]], { order_by: ["username"] })).map((u) => u.username),
      [`${tag}u0`, `${tag}u2`],
    );

    // Delete a user's primary group: the dialog counts the users deleted with it.
    const primary = (await api.call<any[]>("group.query", [["name", "=", `${tag}u3`]]))[0];
    await api.call("user.update", (await userByName(api, `${tag}u4`)).id, { group: primary.id });
    await admin.setViewportSize({ width: 1280, height: 800 });
    await admin.getByLabel("Search groups").fill(`${tag}u3`);
    const rowOf = admin.locator("tr[data-row]").filter({ hasText: `${tag}u3` });
    await rowOf.first().waitFor();
    // Through the row's actions menu (issue 14 point 7).
    await rowOf
      .first()
      .getByRole("button", { name: `Actions for ${tag}u3` })
      .click();
    await admin.getByRole("button", { name: `Delete ${tag}u3` }).click();
    const confirm = admin.getByTestId("confirm-dialog");
    await confirm.getByTestId("delete-group-count").getByText("2 users have this as their primary group.").waitFor();
    await confirm.getByTestId("delete-group-users").check();
    await confirm.getByTestId("delete-group-consequence").getByText("2 users will be deleted together with the group.").waitFor();
  });

  test("messages people understand: client checks, sentences under fields, a summary with links in form order, cleared on change", { timeout: 120_000 }, async (t) => {
    const { api, admin } = await adminSession(env, t, "/users/new");
    await heading(admin, "Add user");
    const taken = uniq("taken");
    await api.call("user.create", { username: taken, full_name: "Taken", password_disabled: true, group_create: true, smb: false });
    await admin.getByLabel("Full name").fill("Message Test");
    await admin.locator("input[name=username]").fill(uniq("msg"));
    // Strength hint (zxcvbn-ts, loaded on demand) and the policy, as the password is typed.
    await admin.locator("input[name=password]").fill("password");
    await admin
      .getByTestId("password-strength")
      .getByText(/Very weak|Weak/)
      .waitFor();
    await admin.locator("input[name=password]").fill("short");
    await admin
      .getByTestId("password-hint")
      .getByText(/use at least 8 characters/)
      .waitFor();
    // Client-side checks: a key without a home, Disable password with SMB user.
    await admin.getByLabel("Disable password").check();
    await admin.getByLabel("SSH public key").fill("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl e2e@test");
    await admin.getByTestId("save-user").click();
    const links = admin.getByTestId("error-links").locator("a");
    await links.first().waitFor();
    const texts = await links.allTextContents();
    assert.equal(texts.length, 2, JSON.stringify(texts));
    assert.match(texts[0], /^SSH public key: An SSH key needs a home directory/);
    assert.match(texts[1], /^SMB user: SMB users need a password/);
    await shot(admin, "user-form-error-summary");
    // A link moves to its field; changing the field clears its error (and its line in the summary).
    await links.nth(1).click();
    ok(await admin.evaluate(() => (globalThis as any).document.activeElement?.name === "smb"), "focus on the SMB checkbox");
    await admin.getByLabel("SMB user").uncheck();
    await admin.waitForFunction(() => (globalThis as any).document.querySelectorAll("[data-testid=error-links] a").length === 1);
    await admin.getByLabel("SSH public key").fill("");
    await admin.getByTestId("form-error").waitFor({ state: "detached" });
    // A server error by its code: a sentence under the username field.
    await admin.locator("input[name=username]").fill(taken);
    await admin.getByTestId("save-user").click();
    await admin.locator(".field-error").getByText("A user with this username already exists. Choose a different username.").waitFor();
    await admin.locator("input[name=username]").fill(uniq("msg"));
    await admin
      .locator(".field-error")
      .getByText(/already exists/)
      .waitFor({ state: "detached" });
  });

  test("the seeds' letter: type filter, case-insensitive sort, groups by name, key holders, My API Keys in the settings menu", { timeout: 150_000 }, async (t) => {
    const { api, admin } = await adminSession(env, t, "/users");
    const tag = uniq("s");
    const grp = await api.call<number>("group.create", { name: `${tag}team`, smb: false });
    for (const [u, full] of [
      [`${tag}a`, `${tag} bravo`],
      [`${tag}b`, `${tag} Alpha`],
      [`${tag}c`, `${tag} charlie`],
    ])
      await api.call("user.create", { username: u, full_name: full, password_disabled: true, group_create: true, smb: false, groups: [grp] });
    await heading(admin, "Users");
    // Filter by type: a dropdown with Local alone by default; Esc and an outside click close it.
    assert.equal(await admin.getByTestId("type-filter").getAttribute("aria-label"), "Filter by type: Local");
    await admin.getByTestId("type-filter").click();
    ok(await admin.getByTestId("type-local").isChecked(), "Local checked");
    ok(!(await admin.getByTestId("type-builtin").isChecked()), "Built-in unchecked");
    ok(!(await admin.getByTestId("type-ds").isChecked()), "Directory Services unchecked");
    await admin.keyboard.press("Escape");
    await admin.getByTestId("type-filter-panel").waitFor({ state: "detached" });
    await admin.getByTestId("type-filter").click();
    await admin.getByTestId("type-ds").check();
    await admin.getByTestId("type-local").uncheck();
    await admin.getByRole("heading", { level: 1 }).click();
    await admin.getByTestId("type-filter-panel").waitFor({ state: "detached" });
    await admin.getByTestId("ds-empty").waitFor();
    await admin.getByTestId("type-filter").click();
    await admin.getByTestId("type-local").check();
    await admin.getByTestId("type-ds").uncheck();
    await admin.keyboard.press("Escape");

    // Case-insensitive sort by full name: Alpha, bravo, charlie (not Alpha before bravo only by ASCII luck).
    await admin.getByTestId("user-search").fill(tag);
    await admin.waitForTimeout(400);
    await admin.getByRole("button", { name: /^Full name/ }).click();
    await admin.locator('th[aria-sort="ascending"]').getByText("Full name").waitFor();
    await admin.waitForFunction(
      (tg) =>
        (globalThis as any).document.querySelectorAll("tr[data-row]").length === 3 &&
        (globalThis as any).document.querySelector("tr[data-row] td[data-label='Full name']")?.textContent === `${tg} Alpha`,
      tag,
    );
    assert.deepEqual(await admin.locator("tr[data-row] td[data-label='Full name']").allTextContents(), [`${tag} Alpha`, `${tag} bravo`, `${tag} charlie`]);
    await admin.getByRole("button", { name: /^Full name/ }).click();
    await admin.waitForFunction((tg) => (globalThis as any).document.querySelector("tr[data-row] td[data-label='Full name']")?.textContent === `${tg} charlie`, tag);

    // Detail: auxiliary groups by name; status words; a user without roles is offered no API key.
    await admin.getByRole("button", { name: `Show details of ${tag}a` }).click();
    const panel = admin.getByTestId(`user-detail-${tag}a`);
    await panel.getByTestId("aux-groups").getByText(`${tag}team`).waitFor();
    await panel.getByTestId("more-actions").click();
    await panel.getByTestId("more-actions-panel").waitFor();
    assert.equal(await panel.getByTestId("add-api-key").count(), 0, "no Add API key for a user without roles");
    await admin.keyboard.press("Escape");
    await panel.getByTestId("more-actions-panel").waitFor({ state: "detached" });
    const actions = panel.locator(".row-actions");
    const box = (await actions.boundingBox())!;
    ok(box.height < 60, `row actions on one line (${box.height}px)`);

    // Add API key: the Username is a dropdown of users who can hold a key (admin yes, the role-less no).
    await go(admin, "/api-keys");
    await heading(admin, "API keys");
    await admin.getByTestId("all-keys").getByTestId("add-api-key").click();
    const form = admin.getByTestId("api-key-form");
    // The dropdown fills from a query after the form opens ("Loading…" until then).
    await form
      .getByLabel("Username", { exact: true })
      .locator("option", { hasText: /^admin/ })
      .first()
      .waitFor({ state: "attached" });
    const options = await form.getByLabel("Username", { exact: true }).locator("option").allTextContents();
    ok(
      options.some((o) => o.startsWith("admin")),
      `admin offered: ${options}`,
    );
    ok(!options.some((o) => o.startsWith(tag)), `users without roles not offered: ${options}`);
    await form.getByRole("button", { name: "Cancel" }).click();

    // My API Keys from the top bar's settings menu.
    await admin.getByTestId("settings-menu").click();
    await admin.getByTestId("menu-my-api-keys").click();
    await admin.getByTestId("my-keys").waitFor();
    await admin.getByTestId("settings-menu-panel").waitFor({ state: "detached" });
  });

  test("polish: skeletons, locked is a warning, words for people, phone rows at most 120 px", { timeout: 120_000 }, async (t) => {
    const { api, admin } = await adminSession(env, t, "/users", PHONE);
    const tag = uniq("p");
    for (let i = 0; i < 4; i++)
      await api.call("user.create", { username: `${tag}${i}`, full_name: `Phone Person ${i} With A Rather Long Name`, password: PASSWORD, group_create: true, locked: i === 0 });
    await heading(admin, "Users");
    await admin.getByTestId("user-search").fill(tag);
    await admin.waitForFunction(() => (globalThis as any).document.querySelectorAll("tr[data-row]").length === 4);
    const heights = await admin.locator("tr[data-row]").evaluateAll((rs) => rs.map((r) => r.getBoundingClientRect().height));
    for (const h of heights) ok(h > 0 && h <= 120, `phone row height ${h}px`);
    await admin
      .locator("tr[data-row]")
      .filter({ hasText: `${tag}0` })
      .locator(".status.warn")
      .getByText("Locked")
      .waitFor();
    await shot(admin, "phone-users-compact");
    await admin.setViewportSize({ width: 1280, height: 800 });
    await admin.getByTestId("user-search").fill("admin");
    await admin.locator("tr[data-row]").filter({ hasText: "Full administrator" }).first().waitFor();
    assert.equal(await admin.locator("td", { hasText: /FULL_ADMIN|SYS_ADMIN/ }).count(), 0, "no role identifiers in the table");
    // Skeleton rows while a page loads (the first paint of a table), never "0–0 of 0".
    await go(admin, "/groups");
    await heading(admin, "Groups");
    assert.equal(await admin.getByText("0–0 of 0").count(), 0);
  });
});
