// A second real server process on another one's PostgreSQL, for cross-process security tests.

import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { startServerProcess, type ServerProcess } from "../process-harness.js";

/**
 * A second server process on `first`'s PostgreSQL: every process sharing a store holds the same
 * secret key (files at rest), so its data dir starts with a copy of the first one's. Its data dir
 * is removed when it stops.
 */
export async function startSecondProcess(first: ServerProcess, env: Record<string, string> = {}): Promise<ServerProcess> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "gatehouse-proc2-"));
  try {
    mkdirSync(path.join(dataDir, "private"), { mode: 0o700 });
    copyFileSync(path.join(first.dataDir, "private", "secret.key"), path.join(dataDir, "private", "secret.key"));
    const sp = await startServerProcess({ databaseUrl: first.databaseUrl, dataDir, env });
    const stop = sp.stop;
    sp.stop = async () => {
      await stop();
      rmSync(dataDir, { recursive: true, force: true });
    };
    return sp;
  } catch (err) {
    rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
}
