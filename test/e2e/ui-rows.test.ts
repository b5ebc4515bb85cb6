// Issue 14 point 7 in a real browser: every table with row actions shows them behind one compact
// "⋯" menu (web/src/table.tsx RowMenu) that sits on one line and never grows its row, at phone
// size (390×844) and desktop width; the menu is reachable by keyboard, closes on Escape and on an
// outside click, and its actions work (a group and a team deleted through it). And "words for
// people": a walk through every screen finds no raw ALL_CAPS identifier (FULL_ADMIN, LOGIN_PASSWORD,
// METHOD_CALL…) as the main text of a cell, label or value — monospace (code) is the allowed place
// for an identifier an administrator needs, and tooltips keep the rest.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import type { Locator, Page } from "playwright-core";
import type { RpcClient } from "../../src/cli/client.js";
import { makeCaPem } from "../test-certs.js";
import { DESKTOP, PHONE, adminSession, go, heading, ok, shot, startEnv, stopEnv, type Env } from "./ui-helpers.js";

let env: Env;
let api: RpcClient;
const tag = `r${randomBytes(3).toString("hex")}`;

/** Each table with row actions: its page, heading, and the text that finds a row of ours in it. */
const TABLES = [
  { page: "/groups", h: "Groups", row: `${tag}grp` },
  { page: "/privileges", h: "Privileges", row: `${tag}priv` },
  { page: "/api-keys", h: "API keys", row: `${tag}key` },
  { page: "/sessions", h: "Sessions", row: "admin", menuOnly: true },
  { page: "/systems", h: "Systems", row: `${tag}sys` },
  { page: "/system-groups", h: "System groups", row: `${tag}sg` },
  { page: "/teams", h: "Teams", row: `${tag}team` },
  { page: "/certificate-authorities", h: "Certificate authorities", row: `${tag}ca` },
  { page: "/directory-services", h: "Directory services", row: `ldap-${tag}.example.test` },
];

/** The actions cell of the first row showing `text` that has a row menu. */
function actionsCell(page: Page, text: string): Locator {
  return page
    .locator("tr[data-row]")
    .filter({ hasText: text })
    .locator("td.actions-col")
    .filter({ has: page.locator("button.row-menu-button") })
    .first();
}

async function box(loc: Locator) {
  const b = await loc.boundingBox();
  ok(b, "has a box");
  return b;
}

/**
 * Raw identifiers shown as words on the page: text (outside code, pre and kbd — the monospace
 * places for an identifier an administrator needs —, outside an audit entry's description as the
 * server recorded it ([data-recorded], shown verbatim), and outside the allow-list) that contains
 * an ALL_CAPS_WITH_UNDERSCORES token or is one ALL-CAPS word that is not an acronym people read.
 */
async function rawIdentifiers(page: Page): Promise<string[]> {
  // Written as page source (not a bundled function: tsx would add helpers the page lacks).
  return page.evaluate(`(() => {
    const allow = ${JSON.stringify(IDENTIFIER_ALLOW)};
    const ident = /\\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+\\b/;
    const loneWord = /^[A-Z]{4,}$/;
    const found = [];
    const texts = [];
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      const el = n.parentElement;
      if (!el || el.closest("code, pre, kbd, script, style, option, title, [data-recorded]") || !el.checkVisibility()) continue;
      texts.push([el.tagName.toLowerCase(), n.textContent]);
    }
    // The choices of visible drop-downs.
    for (const o of document.querySelectorAll("select option")) if (o.closest("select").checkVisibility()) texts.push(["option", o.textContent]);
    for (const [where, text] of texts) {
      const t = (text || "").trim();
      if (t && !allow.includes(t) && (ident.test(t) || loneWord.test(t))) found.push(where + ": " + t);
    }
    return found;
  })()`);
}

/**
 * In a table row: the height the actions cell needs (its button and paddings) and the height the
 * tallest other cell's text needs. Page source (a Function from text: tsx would add helpers to a
 * bundled function that the page lacks).
 */
const ROW_FIT = new Function(
  "tr",
  `
  const padded = (td, inner) => {
    const cs = getComputedStyle(td);
    return inner + parseFloat(cs.paddingTop) + parseFloat(cs.paddingBottom);
  };
  const tds = [...tr.children];
  const actions = tds.find((td) => td.classList.contains("actions-col"));
  const textHeight = (td) => {
    const r = document.createRange();
    r.selectNodeContents(td);
    return Math.max(r.getBoundingClientRect().height, parseFloat(getComputedStyle(td).lineHeight) || 0);
  };
  const others = tds.filter((td) => td !== actions && !td.classList.contains("expander")).map((td) => padded(td, textHeight(td)));
  return [padded(actions, actions.querySelector("button").getBoundingClientRect().height), Math.max(...others)];`,
) as (tr: unknown) => [number, number];

/** Identifiers that are the point where they appear (acronyms people read as words). */
const IDENTIFIER_ALLOW = ["LDAPS", "STIG", "SCRAM", "PLAIN", "TOTP", "HTTPS", "SMTP", "JSON"];

describe("issue 14: row action menus and words for people", { timeout: 10 * 60_000 }, () => {
  before(async () => {
    env = await startEnv();
    api = await env.ts.adminClient();
    await api.call("group.create", { name: `${tag}grp`, users: [] });
    await api.call("group.create", { name: `${tag}gone`, users: [] });
    await api.call("privilege.create", { name: `${tag}priv`, roles: ["READONLY_ADMIN", "ACCOUNT_WRITE"], local_groups: [], ds_groups: [], web_shell: false });
    await api.call("api_key.create", { name: `${tag}key`, username: "admin" });
    const sys = await api.call<any>("fleet.system.create", { name: `${tag}sys`, url: "wss://127.0.0.1:9/api/current", api_key: `1-${"z".repeat(64)}`, force: true });
    await api.call("fleet.system_group.create", { name: `${tag}sg`, systems: [sys.id] });
    await api.call("team.create", { name: `${tag}team`, members: [], systems: [{ system: sys.id, access: "READ_WRITE" }], system_groups: [] });
    await api.call("team.create", { name: `${tag}tgone`, members: [], systems: [], system_groups: [] });
    await api.call("certificateauthority.import", { name: `${tag}ca`, certificate: makeCaPem(`${tag} Test CA`) });
    await api.call("ldap.server.create", { hostname: `ldap-${tag}.example.test`, domain: "dc=example,dc=test" });
  });
  after(async () => {
    await stopEnv(env);
  });

  for (const viewport of [PHONE, DESKTOP]) {
    const size = `${viewport.width}×${viewport.height}`;
    test(`at ${size} every table's row actions sit in one compact menu on one line; keyboard, Esc and outside click`, { timeout: 180_000 }, async (t) => {
      const { admin } = await adminSession(env, t, "/users", viewport);
      await heading(admin, "Users");
      for (const tb of TABLES) {
        await go(admin, tb.page);
        await heading(admin, tb.h);
        const cell = actionsCell(admin, tb.row);
        await cell.waitFor();
        const where = `${tb.page} at ${size}`;
        // One control in the cell: the menu button, on one line.
        assert.equal(await cell.locator("button:visible, a:visible").count(), 1, `${where}: one button in the actions cell`);
        const btn = cell.locator("button.row-menu-button");
        const b = await box(btn);
        const wrap = await box(cell.locator(".row-menu"));
        ok(wrap.height <= 44, `${where}: the actions take one line (${wrap.height}px)`);
        ok(Math.abs(wrap.y - b.y) < 1 && wrap.height - b.height < 6, `${where}: nothing beside or under the button`);
        const row = cell.locator("xpath=ancestor::tr[1]");
        if (viewport === DESKTOP) {
          // The actions need no more height than the row's text: they never make the row taller.
          const [need, text] = await row.evaluate(ROW_FIT);
          ok(need <= text + 0.5, `${where}: the actions (${need}px) fit in the row's text height (${text}px)`);
        }
        const before = await box(row);

        // Keyboard: Enter opens and focuses the first item; arrows move; Escape closes, focus back.
        await btn.focus();
        await admin.keyboard.press("Enter");
        const panel = cell.getByTestId("row-menu-panel");
        await panel.waitFor();
        const p = await box(panel);
        ok(p.x >= 0 && p.x + p.width <= viewport.width + 0.5, `${where}: the menu fits the screen (${p.x}+${p.width})`);
        ok(p.y >= 0 && p.y + p.height <= viewport.height + 0.5, `${where}: the menu is on screen (${p.y}+${p.height})`);
        const after = await box(row);
        ok(Math.abs(after.height - before.height) < 1, `${where}: opening the menu does not grow the row (${before.height} → ${after.height})`);
        const items = await panel.locator(".menu-item").allTextContents();
        ok(items.length >= 1, `${where}: the menu has actions`);
        assert.equal(await admin.evaluate(() => (globalThis as any).document.activeElement?.textContent), items[0], `${where}: focus on the first action`);
        if (items.length > 1) {
          await admin.keyboard.press("ArrowDown");
          assert.equal(await admin.evaluate(() => (globalThis as any).document.activeElement?.textContent), items[1], `${where}: ArrowDown moves to the next action`);
        }
        await admin.keyboard.press("Escape");
        await panel.waitFor({ state: "detached" });
        ok(await btn.evaluate((e) => e === (globalThis as any).document.activeElement), `${where}: Escape puts focus back on the button`);
        // A click elsewhere closes it.
        await btn.click();
        await panel.waitFor();
        if (viewport === PHONE && tb.page === "/teams") await shot(admin, "phone-row-menu");
        await admin.getByRole("heading", { level: 1 }).click();
        await panel.waitFor({ state: "detached" });
      }
    });
  }

  test("the user detail's More menu (the same menu) opens on screen at phone size", { timeout: 60_000 }, async (t) => {
    const { admin } = await adminSession(env, t, "/users", PHONE);
    await admin.getByTestId("user-search").fill("admin");
    await admin.getByRole("button", { name: "Show details of admin" }).click();
    const more = admin.getByTestId("user-detail-admin").getByTestId("more-actions");
    await more.click();
    const panel = admin.getByTestId("more-actions-panel");
    const p = await box(panel);
    ok(p.x >= 0 && p.x + p.width <= PHONE.width + 0.5 && p.y >= 0 && p.y + p.height <= PHONE.height + 0.5, `the menu is on screen (${JSON.stringify(p)})`);
    await admin.keyboard.press("Escape");
    await panel.waitFor({ state: "detached" });
  });

  test("an action from the menu works: a group deleted at phone size, a team at desktop, by name", { timeout: 120_000 }, async (t) => {
    const { admin } = await adminSession(env, t, "/groups", PHONE);
    await heading(admin, "Groups");
    await admin.getByLabel("Search groups").fill(`${tag}gone`);
    // The search has applied (a reload would close an open menu with its row).
    await admin.waitForFunction(() => (globalThis as any).document.querySelectorAll("tr[data-row]").length === 1);
    const cell = actionsCell(admin, `${tag}gone`);
    await cell.getByRole("button", { name: `Actions for ${tag}gone` }).click();
    await cell.getByRole("button", { name: `Delete ${tag}gone` }).click();
    const confirm = admin.getByTestId("confirm-dialog");
    await confirm.getByRole("button", { name: "Delete", exact: true }).click();
    await confirm.waitFor({ state: "detached" });
    await admin
      .locator("tr[data-row]")
      .filter({ hasText: `${tag}gone` })
      .waitFor({ state: "detached" });
    assert.equal((await api.call<any[]>("group.query", [["name", "=", `${tag}gone`]])).length, 0, "the group is gone");

    await admin.setViewportSize(DESKTOP);
    await go(admin, "/teams");
    await heading(admin, "Teams");
    const team = actionsCell(admin, `${tag}tgone`);
    await team.getByRole("button", { name: `Actions for ${tag}tgone` }).click();
    await team.getByRole("button", { name: `Delete ${tag}tgone` }).click();
    await admin.getByTestId("confirm-dialog").getByRole("button", { name: "Delete", exact: true }).click();
    await admin
      .getByTestId("team-row")
      .filter({ hasText: `${tag}tgone` })
      .waitFor({ state: "detached" });
    assert.equal((await api.call<any[]>("team.query", [["name", "=", `${tag}tgone`]])).length, 0, "the team is gone");
  });

  test("words for people: no screen shows a raw identifier as the main text of a cell, label or value", { timeout: 240_000 }, async (t) => {
    const { admin } = await adminSession(env, t, "/users");
    await heading(admin, "Users");
    const problems: string[] = [];
    const scan = async (screen: string) => {
      await admin.waitForTimeout(300);
      for (const p of await rawIdentifiers(admin)) problems.push(`${screen} — ${p}`);
    };
    // The scan finds what it looks for: a probe cell with a role identifier (then removed).
    await admin.evaluate(`document.querySelector("main").insertAdjacentHTML("beforeend", "<p id=probe>FULL_ADMIN</p><p id=probe2>TOKEN</p>")`);
    assert.deepEqual(await rawIdentifiers(admin), ["p: FULL_ADMIN", "p: TOKEN"], "the scan finds raw identifiers");
    await admin.evaluate(`document.getElementById("probe").remove(); document.getElementById("probe2").remove()`);
    const links = await admin.locator("#nav a").evaluateAll((as) => as.map((a) => a.getAttribute("href") ?? ""));
    ok(links.length >= 10, `the navigation offers the screens (${links.length})`);
    for (const href of links) {
      await go(admin, href);
      await admin.getByRole("heading", { level: 1 }).first().waitFor();
      await admin
        .locator("[data-testid=skeleton-row]")
        .first()
        .waitFor({ state: "detached", timeout: 5000 })
        .catch(() => {});
      // Show every column (some are hidden by default, e.g. an API key's roles).
      for (const chooser of await admin.locator("details.column-chooser").all()) {
        await chooser.locator("summary").click();
        const unchecked = chooser.locator("input[type=checkbox]:not(:checked)");
        while ((await unchecked.count()) > 0) await unchecked.first().check();
        await chooser.locator("summary").click();
      }
      await scan(href);
    }
    // The panels and dialogs that list roles, credentials and events.
    await go(admin, "/users");
    await admin.getByTestId("user-search").fill("admin");
    await admin.getByRole("button", { name: "Show details of admin" }).click();
    await admin.getByTestId("user-detail-admin").waitFor();
    await scan("user detail");
    await go(admin, "/privileges");
    await admin.getByTestId("add-privilege").click();
    await admin.getByRole("group", { name: "Roles" }).getByText("Full administrator").waitFor();
    await scan("add privilege");
    await admin.keyboard.press("Escape");
    await go(admin, "/audit");
    await admin.getByRole("heading", { level: 1 }).waitFor();
    await admin.locator("tr[data-row]").first().waitFor();
    await scan("audit");
    assert.deepEqual(problems, [], `raw identifiers on screen:\n${problems.join("\n")}`);
  });
});
