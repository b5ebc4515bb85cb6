// Web UI figures (issue 5): the time from opening the Users page to its first rows, with 100,000
// users in the store (inserted directly, no hashing), in headless Chromium; beside a static page
// with a 50-row table loaded in the same browser. Times are taken inside the page: a
// MutationObserver installed before any script notes performance.now() when the first row exists.

import http from "node:http";
import type { AddressInfo } from "node:net";
import type { Page } from "playwright-core";
import { ADMIN_PASSWORD, startServer } from "../test/harness.js";
import { ensureUiBuilt, insertUsers, launchChromium } from "../test/e2e/browser.js";
import type { Row } from "./table.js";

const USERS = Number(process.env.GATEHOUSE_BENCH_UI_USERS ?? 100_000);
const RUNS = 9;
const USERS_ROW = '[data-testid="table-users"] tr[data-row]';

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};

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

export async function run(): Promise<Row[]> {
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
    await insertUsers(ts.app, USERS, { prefix: "bench", uidStart: 1_000_000 });

    const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    await ctx.addInitScript(observeFirst(USERS_ROW));
    const page = await ctx.newPage();
    page.setDefaultTimeout(60_000);

    // Baseline: a static page with a 50-row table, same browser, loaded over HTTP.
    const base: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      await page.goto(staticUrl);
      base.push(await waitFirstRow(page));
    }

    // Sign in once.
    await page.goto(ts.httpUrl + "/groups");
    await page.locator("#username").fill("admin");
    await page.locator("#password").fill(ADMIN_PASSWORD);
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
    await page.getByRole("heading", { level: 1, name: "Groups" }).waitFor();

    // In-app: from another page, open Users from the navigation → first rows.
    const nav: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Groups" }).click();
      await page.getByRole("heading", { level: 1, name: "Groups" }).waitFor();
      await page.evaluate(() => (globalThis as any).__armFirstRow());
      await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Users" }).click();
      nav.push(await waitFirstRow(page));
      await page.evaluate(() => (globalThis as any).__stopFirstRow?.());
    }

    // Cold: load /users in the browser (document, bundle, WebSocket, token sign-in, queries).
    const cold: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      await page.goto(ts.httpUrl + "/users");
      cold.push(await waitFirstRow(page));
    }
    const total = await page.getByTestId("pager-info").textContent();
    const shown = Number(total?.split(" of ")[1]?.replace(/,/g, ""));
    if (!(shown >= USERS)) throw new Error(`the Users page did not list every user: ${total}`);
    await ctx.close();

    const b = median(base);
    const n = median(nav);
    const c = median(cold);
    const label = `${USERS.toLocaleString("en-US")} users`;
    return [
      {
        name: `UI: open Users → first rows (${label}, from the navigation)`,
        value: n,
        unit: "ms",
        baseline: b,
        baselineName: "static 50-row page load",
        baselineUnit: "ms",
        ratio: b / n,
        ratioNote: "(baseline ÷ value)",
        aim: "≤ 1,000 ms",
      },
      {
        name: `UI: load /users → first rows (${label}, page load + sign-in by token)`,
        value: c,
        unit: "ms",
        baseline: b,
        baselineName: "static 50-row page load",
        baselineUnit: "ms",
        ratio: b / c,
        ratioNote: "(baseline ÷ value)",
        aim: "≤ 1,000 ms",
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
  printTable("Web UI (issue 5)", await run());
  process.exit(0);
}
