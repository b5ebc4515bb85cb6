// Accessibility and screenshots of every screen (issue 14): axe-core (injected from
// node_modules/axe-core/axe.min.js) scans each screen — sign-in, first run, every page the
// navigation offers a full administrator, the Add/Edit user form, the group dialog and a row's
// actions menu, and a fleet user's My systems and system page — in light and dark mode, and fails
// on any serious or critical violation. Each
// screen is also saved at desktop and phone size (test-output/screenshots; docs/screenshots via `npm run screenshots`).

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import type { Page } from "playwright-core";
import { ADMIN_PASSWORD, startServer } from "../harness.js";
import { ROOT } from "./browser.js";
import { DESKTOP, PASSWORD, PHONE, go, heading, newPage, shot, signIn, startEnv, stopEnv, type Env } from "./ui-helpers.js";
import { addSystem } from "../fleet-access-helpers.js";

const AXE = readFileSync(path.join(ROOT, "node_modules/axe-core/axe.min.js"), "utf8");
let env: Env;
let fleetSystem = 0;

interface Violation {
  id: string;
  impact: string;
  help: string;
  nodes: string[];
}

/** Serious and critical axe violations on the page as it is now. */
async function scan(page: Page): Promise<Violation[]> {
  if (!(await page.evaluate(() => !!(globalThis as any).axe))) await page.addScriptTag({ content: AXE });
  const out = await page.evaluate(async () => {
    const r = await (globalThis as any).axe.run((globalThis as any).document, { resultTypes: ["violations"] });
    return r.violations.map((v: any) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map((n: any) => n.target.join(" ")) }));
  });
  return (out as Violation[]).filter((v) => v.impact === "serious" || v.impact === "critical");
}

const problems: string[] = [];
async function check(page: Page, screen: string): Promise<void> {
  await page.waitForTimeout(250);
  for (const v of await scan(page)) problems.push(`${screen}: [${v.impact}] ${v.id} — ${v.help} (${v.nodes.join(" | ")})`);
}

describe("issue 14: accessibility and screenshots of every screen", { timeout: 10 * 60_000 }, () => {
  before(async () => {
    env = await startEnv();
    const api = await env.ts.adminClient();
    // A few accounts so the lists are not empty.
    for (const [u, n] of [
      ["ada", "Ada Lovelace"],
      ["grace", "Grace Hopper"],
      ["linus", "Linus Torvalds"],
    ]) {
      await api.call("user.create", { username: u, full_name: n, password: PASSWORD, group_create: true, email: `${u}@example.test` }).catch(() => {});
    }
    await api.call("group.create", { name: "engineering", users: [] }).catch(() => {});
    // A fleet user (no privilege, read access to one registered system) for the fleet screens.
    fleetSystem = await addSystem(env.ts, "web1");
    const fay = await api.call<{ id: number }>("user.create", { username: "fay", full_name: "Fay Fleet", password: PASSWORD, group_create: true });
    await api.call("user.update", fay.id, { systems: [{ system: fleetSystem, access: "READ" }] });
  });
  after(async () => {
    await stopEnv(env);
  });

  for (const scheme of ["light", "dark"] as const) {
    test(`every screen, ${scheme}: no serious or critical axe violation`, { timeout: 300_000 }, async (t) => {
      const before = problems.length;
      // Sign-in and first run (a server of its own, not set up).
      {
        const fresh = await startServer();
        t.after(() => fresh.stop());
        const { ctx, page } = await newPage(env, DESKTOP, scheme);
        t.after(() => ctx.close());
        await page.goto(`${fresh.httpUrl}/`);
        await heading(page, "Welcome to Gatehouse");
        await check(page, `first run (${scheme})`);
        if (scheme === "light") await shot(page, "screen-first-run");
        await page.goto(`${env.ts.httpUrl}/`);
        await page.locator("#username").waitFor();
        await check(page, `sign in (${scheme})`);
        // The scanner works: an image without a text alternative is found (and then removed).
        await page.evaluate(() => {
          const img = (globalThis as any).document.createElement("img");
          img.id = "axe-probe";
          img.src = "data:image/gif;base64,R0lGODlhAQABAAAAACw=";
          (globalThis as any).document.body.append(img);
        });
        assert.ok(
          (await scan(page)).some((v) => v.id === "image-alt"),
          "axe reports a missing alt text",
        );
        await page.evaluate(() => (globalThis as any).document.getElementById("axe-probe")?.remove());
        if (scheme === "light") await shot(page, "screen-sign-in");
      }
      await env.ts.adminClient();
      for (const viewport of scheme === "light" ? [DESKTOP, PHONE] : [DESKTOP]) {
        const phone = viewport === PHONE;
        const prefix = phone ? "phone" : scheme === "dark" ? "dark" : "screen";
        const { ctx, page } = await newPage(env, viewport, scheme);
        t.after(() => ctx.close());
        await signIn(env, page, "admin", ADMIN_PASSWORD, "/users");
        await heading(page, "Users");
        const links = await page.locator("#nav a").evaluateAll((as) => as.map((a) => ({ href: a.getAttribute("href")!, text: (a.textContent ?? "").trim() })));
        assert.ok(links.length >= 5, "the navigation offers the screens");
        for (const l of links) {
          await go(page, l.href);
          await page.getByRole("heading", { level: 1 }).first().waitFor();
          await page
            .locator("table[aria-busy], [data-testid=skeleton-row]")
            .first()
            .waitFor({ state: "detached", timeout: 5000 })
            .catch(() => {});
          await page.waitForTimeout(300);
          const name = l.href.replace(/^\//, "").replace(/\//g, "-") || "home";
          if (!phone) await check(page, `${l.text} (${scheme})`);
          await shot(page, `${prefix}-${name}`);
        }
        // The user detail panel, the Add/Edit user form, the group dialog.
        await go(page, "/users");
        await heading(page, "Users");
        await page.getByRole("button", { name: "Show details of ada" }).click();
        await page.getByTestId("user-detail-ada").waitFor();
        if (!phone) await check(page, `user detail (${scheme})`);
        await shot(page, `${prefix}-users-detail`);
        await go(page, "/users/new");
        await heading(page, "Add user");
        if (!phone) await check(page, `Add user (${scheme})`);
        await shot(page, `${prefix}-user-form`);
        const ada = (await (await env.ts.adminClient()).call<any[]>("user.query", [["username", "=", "ada"]]))[0];
        await go(page, `/users/${ada.id}/edit`);
        await heading(page, "Edit user ada");
        if (!phone) await check(page, `Edit user (${scheme})`);
        await go(page, "/groups");
        await heading(page, "Groups");
        await page.getByRole("button", { name: /Add group/ }).click();
        await page.getByTestId("group-dialog").waitFor();
        if (!phone) await check(page, `Add group (${scheme})`);
        await shot(page, `${prefix}-group-dialog`);
        // A row's actions menu, open.
        await page.keyboard.press("Escape");
        await page.getByTestId("group-dialog").waitFor({ state: "detached" });
        await page.getByRole("button", { name: "Actions for engineering" }).click();
        await page.getByTestId("row-menu-panel").waitFor();
        if (!phone) await check(page, `row actions menu (${scheme})`);
        await shot(page, `${prefix}-row-menu`);
        await page.keyboard.press("Escape");
      }
      const mine = problems.slice(before);
      assert.deepEqual(mine, [], `axe found serious or critical issues:\n${mine.join("\n")}`);
    });
  }

  for (const scheme of ["light", "dark"] as const) {
    test(`a fleet user's screens, ${scheme}: My systems and a system's page`, { timeout: 120_000 }, async (t) => {
      const before = problems.length;
      for (const viewport of scheme === "light" ? [DESKTOP, PHONE] : [DESKTOP]) {
        const phone = viewport === PHONE;
        const prefix = phone ? "phone" : scheme === "dark" ? "dark" : "screen";
        const { ctx, page } = await newPage(env, viewport, scheme);
        t.after(() => ctx.close());
        await signIn(env, page, "fay", PASSWORD, "/my-systems");
        await heading(page, "My systems");
        await page.getByTestId("my-systems-table").getByText("web1").first().waitFor();
        if (!phone) await check(page, `My systems (${scheme})`);
        await shot(page, `${prefix}-my-systems`);
        // The system is registered but not reachable (a fixture row without a real key): its page
        // shows its errors, scanned but not kept as a screenshot.
        await go(page, `/my-systems/${fleetSystem}`);
        await page.getByRole("heading", { level: 1 }).first().waitFor();
        await page.waitForTimeout(500);
        if (!phone) await check(page, `a system's page (${scheme})`);
      }
      const mine = problems.slice(before);
      assert.deepEqual(mine, [], `axe found serious or critical issues:\n${mine.join("\n")}`);
    });
  }
});
