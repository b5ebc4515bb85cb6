// Closing an application whose status poller is running (issue 11 point 2's poller): App.close()
// without App.shutdown() closes the store under the poller's feet. The next round must neither
// throw out of its timer (an unhandled rejection ends the process) nor keep probing.

import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import pino from "pino";
import { App } from "../src/app.js";
import { resolveConfig } from "../src/config.js";
import { freshPgDatabase, STORES } from "./harness.js";
import { fleetRuntime } from "../src/fleet/runtime.js";
import { API_KEY_PURPOSE } from "../src/fleet/system-endpoint.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

for (const store of STORES) {
  test(`[${store}] app.close() without shutdown stops the status poller quietly`, async () => {
    const previous = process.env.GATEHOUSE_FLEET_POLL_MS;
    process.env.GATEHOUSE_FLEET_POLL_MS = "20";
    const dataDir = mkdtempSync(path.join(os.tmpdir(), "gh-poller-close-"));
    const rejections: unknown[] = [];
    const onRejection = (err: unknown) => rejections.push(err);
    process.on("unhandledRejection", onRejection);
    try {
      const database = store === "postgres" ? await freshPgDatabase() : undefined;
      const config = { ...resolveConfig({ dataDir, database, port: 0, hashRounds: 1000, logLevel: "silent" }, {}), failDelay: [0, 0] as [number, number] };
      const app = await App.create(config, { log: pino({ level: "silent" }) });
      // A system nobody listens on: every round probes it (and fails), so rounds keep running.
      const now = Date.now();
      await app.store.db
        .insertInto("fleet_systems")
        .values({
          name: "nowhere",
          url: "ws://127.0.0.1:9/api/current",
          api_key: app.secretBox.seal(API_KEY_PURPOSE, "1-x"),
          verify_ssl: 1,
          ca: null,
          read_api_key: null,
          username: null,
          created_at: now,
          updated_at: now,
        })
        .execute();
      const poller = fleetRuntime(app).poller;
      await poller.round();
      await sleep(60); // rounds run on the 20 ms timer
      await app.close();
      await sleep(200); // ten more periods after the store closed
      assert.deepEqual(rejections, [], "no round may throw out of the poller's timer");
      assert.equal(poller.isRunning(), false, "the poller stops once the store is closed");
    } finally {
      process.off("unhandledRejection", onRejection);
      if (previous === undefined) delete process.env.GATEHOUSE_FLEET_POLL_MS;
      else process.env.GATEHOUSE_FLEET_POLL_MS = previous;
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
}
