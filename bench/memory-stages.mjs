// A server's memory by stage (issue 15, point 2), in a process of its own on an already seeded
// SQLite store: start (migrations, caches), one full provisioning run (the model of every account
// and the rendered host files), 1,000 mixed user.query calls (lookups, prefix and substring
// searches, uid lookups), then a GC. Prints one JSON object per stage. Imports the compiled
// server (dist/, as `npm start` runs it) when built; bench/core.bench.ts runs it.
//   node --expose-gc bench/memory-stages.mjs DATA_DIR USERS
// JavaScript, so a built server is measured without a TypeScript loader in the process.

import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const [dataDir, usersText] = process.argv.slice(2);
const users = Number(usersText);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const built = existsSync(path.join(root, "dist", "app.js")) && !process.env.GATEHOUSE_FROM_SOURCE;
if (!built) (await import("tsx/esm/api")).register();
const mod = async (rel) => import(pathToFileURL(path.join(root, built ? `dist/${rel}.js` : `src/${rel}.ts`)).href);

const { App } = await mod("app");
const { resolveConfig } = await mod("config");
const { queryUsers } = await mod("accounts/user-entry");
const { provisionerOf } = await mod("provision/index");
const pino = (await import("pino")).default;

const gc = globalThis.gc;
const stage = (name, ms) => {
  gc?.();
  const m = process.memoryUsage();
  process.stdout.write(`${JSON.stringify({ stage: name, ms, rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external, arrayBuffers: m.arrayBuffers, built })}\n`);
};

stage("process", 0);
let t = performance.now();
const config = { ...resolveConfig({ dataDir, port: 0, logLevel: "silent" }, {}) };
const app = await App.create(config, { log: pino({ level: "silent" }) });
stage("start", performance.now() - t);
t = performance.now();
await provisionerOf(app).provisionNow();
stage("provisioning", performance.now() - t);
t = performance.now();
const name = (k) => `user${String(k).padStart(6, "0")}`;
for (let i = 0; i < 1000; i++) {
  const k = (i * 7919) % users;
  const page = { limit: 50, order_by: ["uid"] };
  if (i % 4 === 0) await queryUsers(app.store, [["username", "=", name(k)]], {});
  else if (i % 4 === 1) await queryUsers(app.store, [["username", "~", `(?i)${name(k).slice(0, 8)}.*`]], page);
  else if (i % 4 === 2) await queryUsers(app.store, [["full_name", "~", `(?i).*${k}.*`]], page);
  else await queryUsers(app.store, [["uid", "=", 100_000 + k]], {});
}
stage("queries", performance.now() - t);
await app.shutdown();
await app.close();
process.exit(0);
