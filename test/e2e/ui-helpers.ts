// Helpers the issue-14 browser tests share (ui-polish, ui-twofactor, a11y, ui-screens): one
// server and one Chromium per file, fresh browser contexts per test, sign-in and client-side
// navigation, and screenshots (test-output/screenshots, or docs/screenshots via
// `npm run screenshots`).

import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import path from "node:path";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { ADMIN_PASSWORD, startServer, type StartOptions, type TestServer } from "../harness.js";
import type { RpcClient } from "../../src/cli/client.js";
import { ROOT, ensureUiBuilt, launchChromium } from "./browser.js";

export const SHOTS = path.resolve(ROOT, process.env.GATEHOUSE_SCREENSHOTS_DIR ?? path.join("test-output", "screenshots"));
export const PASSWORD = "Str0ng-pass-word!";
export const DESKTOP = { width: 1280, height: 800 };
export const PHONE = { width: 390, height: 844 };

/** assert.ok with a message (without one node:assert re-parses the source: slow). */
export function ok(value: unknown, message = "expected a truthy value"): asserts value {
  assert.ok(value, message);
}

export interface Env {
  ts: TestServer;
  browser: Browser;
}

export async function startEnv(opts: StartOptions = {}): Promise<Env> {
  ensureUiBuilt();
  mkdirSync(SHOTS, { recursive: true });
  const ts = await startServer(opts);
  ts.app.rateLimitLoopbackExempt = true;
  const browser = await launchChromium();
  return { ts, browser };
}

export async function stopEnv(env: Env | undefined): Promise<void> {
  await env?.browser?.close().catch(() => {});
  await env?.ts?.stop();
}

export async function newPage(env: Env, viewport = DESKTOP, colorScheme: "light" | "dark" = "light"): Promise<{ ctx: BrowserContext; page: Page }> {
  const ctx = await env.browser.newContext({ viewport, colorScheme, acceptDownloads: true });
  const page = await ctx.newPage();
  page.setDefaultTimeout(15_000);
  page.on("pageerror", (e) => console.error("page error:", e.message));
  return { ctx, page };
}

export async function signIn(env: Env, page: Page, username: string, password: string, at = "/"): Promise<void> {
  await page.goto(env.ts.httpUrl + at);
  await page.locator("#username").fill(username);
  await page.locator("#password").fill(password);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
}

/** Client-side navigation (keeps the socket and session). */
export async function go(page: Page, to: string): Promise<void> {
  await page.evaluate((p) => {
    const w = globalThis as any;
    w.history.pushState(null, "", p);
    w.dispatchEvent(new w.PopStateEvent("popstate"));
  }, to);
}

export async function heading(page: Page, text: string | RegExp): Promise<void> {
  await page.getByRole("heading", { level: 1, name: text }).waitFor();
}

/** An administrator API client and a signed-in browser page at `at`, closed after the test. */
export async function adminSession(env: Env, t: { after(fn: () => unknown): void }, at: string, viewport = DESKTOP, colorScheme: "light" | "dark" = "light"): Promise<{ api: RpcClient; admin: Page }> {
  const api = await env.ts.adminClient();
  const { ctx, page } = await newPage(env, viewport, colorScheme);
  t.after(() => ctx.close());
  await signIn(env, page, "admin", ADMIN_PASSWORD, at);
  return { api, admin: page };
}

export async function shot(page: Page, name: string, fullPage = false): Promise<void> {
  await page.waitForTimeout(150);
  await page.evaluate(() => {
    const el = (globalThis as any).document.querySelector(".toasts");
    if (el) el.style.display = "none";
  });
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage });
  await page.evaluate(() => {
    const el = (globalThis as any).document.querySelector(".toasts");
    if (el) el.style.display = "";
  });
}

export async function userByName(api: RpcClient, username: string): Promise<any> {
  const rows = await api.call<any[]>("user.query", [["username", "=", username]]);
  return rows[0];
}
