// Helpers for the browser tests and the UI benchmark: make sure the built UI is current, wait for
// Debian's chromium, launch it headless with playwright-core, and seed many users straight into
// the store (fast, no hashing) for scale tests.

import { execFileSync } from "node:child_process";
import { builtinUserBase } from "../../src/accounts/system-accounts.js";
import { existsSync, readdirSync, statSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium, type Browser } from "playwright-core";
import type { Insertable } from "kysely";
import type { App } from "../../src/app.js";
import type { UserTable } from "../../src/store/schema.js";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const CHROMIUM = process.env.GATEHOUSE_CHROMIUM ?? "/usr/bin/chromium";
export const CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-quic"];

function newestMtime(p: string): number {
  const st = statSync(p);
  if (!st.isDirectory()) return st.mtimeMs;
  let m = 0;
  for (const e of readdirSync(p)) m = Math.max(m, newestMtime(path.join(p, e)));
  return m;
}

/** Build web/dist with vite when it is missing or older than any UI source file. */
export function ensureUiBuilt(): void {
  const web = path.join(ROOT, "web");
  const built = path.join(web, "dist", "index.html");
  const sources = Math.max(newestMtime(path.join(web, "src")), newestMtime(path.join(web, "index.html")), newestMtime(path.join(web, "vite.config.ts")));
  if (existsSync(built) && statSync(built).mtimeMs >= sources) return;
  execFileSync(path.join(ROOT, "node_modules", ".bin", "vite"), ["build", "web", "--logLevel", "warn"], { cwd: ROOT, stdio: "inherit" });
}

/** Chromium may still be installing (a background apt-get): wait up to `ms`. */
export async function waitForChromium(ms = 15 * 60_000): Promise<void> {
  const until = Date.now() + ms;
  while (!existsSync(CHROMIUM)) {
    if (Date.now() > until) throw new Error(`${CHROMIUM} not found`);
    await new Promise((r) => setTimeout(r, 2000));
  }
}

export async function launchChromium(): Promise<Browser> {
  await waitForChromium();
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
}

/**
 * Insert `count` local users directly into the store (one transaction per chunk), primary group
 * `builtin_users`, no password. UIDs start at `uidStart` (keep clear of the automatic range).
 */
export async function insertUsers(app: App, count: number, opts: { prefix?: string; uidStart?: number } = {}): Promise<void> {
  const prefix = opts.prefix ?? "bulk";
  const uidStart = opts.uidStart ?? 500_000;
  const db = app.store.db;
  const group = await db.selectFrom("groups").select("id").where("gid", "=", 545).executeTakeFirstOrThrow();
  const now = Date.now();
  const width = String(count - 1).length;
  const chunk = 400;
  for (let start = 0; start < count; start += chunk) {
    const rows: Insertable<UserTable>[] = [];
    for (let i = start; i < Math.min(count, start + chunk); i++) {
      const n = String(i).padStart(width, "0");
      rows.push({
        ...builtinUserBase(now),
        uid: uidStart + i,
        username: `${prefix}${n}`,
        home: "/var/empty",
        shell: "/usr/sbin/nologin",
        full_name: `Bulk User ${n}`,
        builtin: 0,
        smb: i % 3 === 0 ? 1 : 0,
        group_id: group.id,
        password_disabled: 1,
        locked: i % 10 === 0 ? 1 : 0,
        email: `${prefix}${n}@example.test`,
      });
    }
    await db.transaction().execute(async (tx) => {
      await tx.insertInto("users").values(rows).execute();
    });
  }
}
