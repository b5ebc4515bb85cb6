// Web UI figures (issue 5): the time from opening the Users page to its first rows, with --users
// users in the store (inserted directly, no hashing), in headless Chromium; beside a static page
// with a 50-row table loaded in the same browser, in the same alternating rounds (bench/measure.ts).
// Times are taken inside the page: a MutationObserver installed before any script notes
// performance.now() when the first row exists.

import http from "node:http";
import type { AddressInfo } from "node:net";
import type { Page } from "playwright-core";
import { ADMIN_PASSWORD, startServer } from "../test/harness.js";
import { ensureUiBuilt, insertUsers, launchChromium } from "../test/e2e/browser.js";
import { alternate, figure, DEFAULT_OPTIONS, type BenchOptions } from "./measure.js";
import type { Section } from "./table.js";

const USERS_ROW = '[data-testid="table-users"] tr[data-row]';

/** Records, in the page, when the first element matching `selector` appears. */
function observeFirst(selector: string): string {
  return `(() => {
    const sel = ${JSON.stringify(selector)};
    window.__firstRowAt = null;
    window.__armFirstRow = () => {
      window.__firstRowAt = null;
      const t0 = performance.now();
      window.__firstRowStart = t0;
      const check = () => {
        if (window.__firstRowAt === null && document.querySelector(sel)) window.__firstRowAt = performance.now();
      };
      const mo = new MutationObserver(check);
      mo.observe(document, { childList: true, subtree: true });
      window.__stopFirstRow = () => mo.disconnect();
      check();
    };
    // On a fresh document: measure from navigation start (performance.now() origin).
    window.__firstRowStart = 0;
    const mo = new MutationObserver(() => {
      if (window.__firstRowAt === null && document.querySelector(sel)) { window.__firstRowAt = performance.now(); mo.disconnect(); }
    });
    mo.observe(document, { childList: true, subtree: true });
  })();`;
}

async function waitFirstRow(page: Page): Promise<number> {
  await page.waitForFunction(() => (globalThis as any).__firstRowAt !== null, undefined, { timeout: 60_000, polling: 10 });
  return page.evaluate(() => (globalThis as any).__firstRowAt - (globalThis as any).__firstRowStart);
}

export async function run(opts: BenchOptions): Promise<Section[]> {
  const users = opts.users;
  ensureUiBuilt();
  const ts = await startServer();
  const browser = await launchChromium();
  const staticServer = http.createServer((_req, res) => {
    const rows = Array.from({ length: 50 }, (_, i) => `<tr data-row="${i}"><td>user${i}</td><td>User ${i}</td><td>${1000 + i}</td></tr>`).join("");
    res.writeHead(200, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" });
    res.end(`<!doctype html><html><head><meta charset="utf-8"><title>static</title></head><body><table data-testid="table-users"><tbody>${rows}</tbody></table></body></html>`);
  });
  await new Promise<void>((r) => staticServer.listen(0, "127.0.0.1", r));
  const staticUrl = `http://127.0.0.1:${(staticServer.address() as AddressInfo).port}/`;
  try {
    const admin = await ts.adminClient(); // sets up the administrator
    await admin.close();
    await insertUsers(ts.app, users, { prefix: "bench", uidStart: 1_000_000 });

    const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    await ctx.addInitScript(observeFirst(USERS_ROW));
    const page = await ctx.newPage();
    page.setDefaultTimeout(60_000);

    // Sign in once; the later page loads sign in by the token the UI keeps.
    await page.goto(ts.httpUrl + "/groups");
    await page.locator("#username").fill("admin");
    await page.locator("#password").fill(ADMIN_PASSWORD);
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
    await page.getByRole("heading", { level: 1, name: "Groups" }).waitFor();

    const nav = page.getByRole("navigation", { name: "Main" });
    const m = await alternate(opts.rounds, {
      // Baseline: a static page with a 50-row table, same browser, loaded over HTTP.
      base: async () => {
        await page.goto(staticUrl);
        return waitFirstRow(page);
      },
      // In-app: from another page, open Users from the navigation → first rows.
      nav: async () => {
        if (!page.url().startsWith(ts.httpUrl)) await page.goto(ts.httpUrl + "/groups");
        else await nav.getByRole("link", { name: "Groups", exact: true }).click();
        await page.getByRole("heading", { level: 1, name: "Groups" }).waitFor();
        await page.evaluate(() => (globalThis as any).__armFirstRow());
        await nav.getByRole("link", { name: "Users", exact: true }).click();
        const ms = await waitFirstRow(page);
        await page.evaluate(() => (globalThis as any).__stopFirstRow?.());
        return ms;
      },
      // Cold: load /users in the browser (document, bundle, WebSocket, token sign-in, queries).
      cold: async () => {
        await page.goto(ts.httpUrl + "/users");
        return waitFirstRow(page);
      },
    });
    await page.goto(ts.httpUrl + "/users");
    await waitFirstRow(page);
    const total = await page.getByTestId("pager-info").textContent();
    const shown = Number(total?.split(" of ")[1]?.replace(/,/g, ""));
    if (!(shown >= users)) throw new Error(`the Users page did not list every user: ${total}`);
    await ctx.close();

    const vs = {
      unit: "ms",
      baseline: m.base,
      baselineName: "static 50-row page load",
      baselineUnit: "ms",
      ratio: (v: number, b: number) => b / v,
      ratioNote: "(baseline ÷ value)",
      better: "higher" as const,
      aim: "≤ 1,000 ms",
    };
    return [
      {
        title: `Web UI, ${users.toLocaleString("en-US")} users (issue 5)`,
        rows: [
          figure({ name: "UI: open Users → first rows (from the navigation)", value: m.nav, ...vs }),
          figure({ name: "UI: load /users → first rows (page load + sign-in by token)", value: m.cold, ...vs }),
        ],
      },
    ];
  } finally {
    staticServer.close();
    await browser.close();
    await ts.stop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { printTable } = await import("./table.js");
  const users = Number(process.env.GATEHOUSE_BENCH_UI_USERS ?? DEFAULT_OPTIONS.users);
  for (const sec of await run({ ...DEFAULT_OPTIONS, users })) printTable(sec.title, sec.rows);
  process.exit(0);
}
