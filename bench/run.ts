// npm run bench: every figure the issues ask for, each beside its baseline from the same run.
// Areas: core (issue 2), auth (issue 3), provision (issue 4), ui (issue 5). Pass area names to
// run a subset, e.g. `npm run bench -- core`.

import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { printTable, type Row } from "./table.js";
import { freshPgDatabase } from "../test/harness.js";
import { runCore, USERS, GROUPS } from "./core.bench.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const wanted = new Set(process.argv.slice(2));
const want = (a: string) => !wanted.size || wanted.has(a);

process.stdout.write(`Gatehouse benchmarks — ${USERS.toLocaleString("en-US")} users, ${GROUPS.toLocaleString("en-US")} groups, Node ${process.version}, ${(await import("node:os")).cpus().length} cores\n`);

if (want("core")) {
  const rows: Row[] = [...(await runCore("sqlite"))];
  if (process.env.GATEHOUSE_TEST_PG) rows.push(...(await runCore("postgres", await freshPgDatabase())));
  printTable("Core: store, query engine, WebSocket API (issue 2)", rows);
}

for (const [area, title] of [
  ["auth", "Access control (issue 3)"],
  ["provision", "Host provisioning (issue 4)"],
  ["ui", "Web UI (issue 5)"],
] as const) {
  if (!want(area)) continue;
  const file = path.join(here, `${area}.bench.ts`);
  if (!existsSync(file)) continue;
  const mod = (await import(pathToFileURL(file).href)) as { run: () => Promise<Row[]> };
  printTable(title, await mod.run());
}
process.exit(0);
