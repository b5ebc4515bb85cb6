// Password-reset request timing (issue 12, OWASP "same answer and same time"): 200 distinct
// existing users (verified addresses, so their mail really is minted and sent to a real SMTP
// server on loopback) and 200 unknown names, requested interleaved (the order of each pair
// alternating) over one WebSocket; per round the median answer time of each kind, and their
// difference (aim: under 1 ms). The per-account hourly limit is reset between rounds so every
// round sends mail; the per-source limits are off for loopback (the test-only exemption).

import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import pino from "pino";
import { App } from "../src/app.js";
import { resolveConfig } from "../src/config.js";
import { serveWithAdmin } from "./bench-server.js";
import { RpcClient } from "../src/cli/client.js";
import { startSmtp } from "../test/mail-helpers.js";
import { figure, type BenchOptions, type Row } from "./measure.js";
import type { Section } from "./table.js";

const ADMIN_PW = "Bench-admin-pw1";
const USERS = 200;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function timed(c: RpcClient, username: string): Promise<number> {
  const t0 = performance.now();
  await c.call("auth.password_reset.request", { username });
  return performance.now() - t0;
}

export async function run(opts: BenchOptions): Promise<Section[]> {
  const smtp = await startSmtp();
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "gatehouse-bench-mail-"));
  const config = { ...resolveConfig({ dataDir, port: 0, logLevel: "silent", hashRounds: 1000 }, {}), failDelay: [0, 0] as [number, number] };
  const app = await App.create(config, { log: pino({ level: "silent" }) });
  app.rateLimitLoopbackExempt = true;
  const rows: Row[] = [];
  try {
    const { url, admin, close } = await serveWithAdmin(app, ADMIN_PW);
    await admin.call("mail.update", { outgoingserver: "127.0.0.1", port: smtp.port, security: "PLAIN", fromemail: "bench@example.test" });
    const gid = await admin.call<number>("group.create", { name: "resetbench", smb: false });
    const existing: string[] = [];
    for (let i = 0; i < USERS; i++) {
      const username = `reset${String(i).padStart(3, "0")}`;
      const u = await admin.call<{ id: number }>("user.create", { username, full_name: username, password: "Bench-user-pw1", group: gid, smb: false });
      await app.store.db
        .updateTable("users")
        .set({ email: `${username}@example.test`, email_verified: 1 })
        .where("id", "=", u.id)
        .execute();
      existing.push(username);
    }
    const unknown = existing.map((_, i) => `ghost${String(i).padStart(3, "0")}`);
    const c = await RpcClient.connect(url);
    // Warm-up: JIT, prepared statements, the SMTP path.
    for (let i = 0; i < 20; i++) await timed(c, i % 2 ? unknown[i]! : existing[i]!);
    await app.mail.drain();
    const ex: number[] = [];
    const un: number[] = [];
    for (let round = 0; round < opts.rounds; round++) {
      await app.store.db.deleteFrom("counters").where("key", "like", "reset-user:%").execute();
      const a: number[] = [];
      const b: number[] = [];
      for (let i = 0; i < USERS; i++) {
        if ((i + round) % 2) {
          a.push(await timed(c, existing[i]!));
          b.push(await timed(c, unknown[i]!));
        } else {
          b.push(await timed(c, unknown[i]!));
          a.push(await timed(c, existing[i]!));
        }
      }
      ex.push(median(a));
      un.push(median(b));
      await app.mail.drain();
    }
    rows.push(
      figure({
        name: `reset request, ${USERS} existing users (median answer)`,
        unit: "ms",
        value: ex,
        baseline: un,
        baselineName: `${USERS} unknown names, interleaved`,
        baselineUnit: "ms",
        better: "lower",
      }),
      figure({
        name: "reset request: |existing − unknown| of the medians",
        unit: "ms",
        value: ex.map((v, i) => Math.abs(v - un[i]!)),
        better: "lower",
        aim: "< 1 ms",
      }),
    );
    await c.close();
    await close();
  } finally {
    await app.shutdown();
    await app.close();
    rmSync(dataDir, { recursive: true, force: true });
    await smtp.close();
  }
  return [
    {
      title: "Password reset requests (issue 12)",
      rows,
      notes: [
        `SQLite store; existing users have verified addresses and their reset mail is minted and sent to smtp-server on loopback after each answer (${smtp.received.length} mails sent in the run)`,
      ],
    },
  ];
}
