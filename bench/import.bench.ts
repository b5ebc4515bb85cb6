// Bulk import (issue 13 point 6): `--users` users (default 100,000) with pre-hashed passwords in
// a tenth as many groups, imported into a fresh SQLite store holding only the built-ins
// (importAccounts: validation against the store read once, batched INSERTs in one transaction),
// beside the baseline: the same rows written by a plain batched INSERT in one transaction into
// another fresh store, no validation. Alternating rounds; each round uses new stores.

import { mkdtempSync, rmSync } from "node:fs";
import { builtinUserBase } from "../src/accounts/system-accounts.js";
import os from "node:os";
import path from "node:path";
import pino from "pino";
import { App } from "../src/app.js";
import { resolveConfig } from "../src/config.js";
import { importAccounts } from "../src/accounts/import.js";
import type { RawRecord } from "../src/accounts/transfer-format.js";
import { alternate, collectGarbage, figure, type BenchOptions } from "./measure.js";
import type { Section } from "./table.js";

const HASH = `$6$rounds=5000$saltsaltsaltsalt$${"A".repeat(86)}`;

function records(n: number): RawRecord[] {
  const groups = Math.max(1, Math.floor(n / 10));
  const out: RawRecord[] = [];
  for (let i = 0; i < groups; i++) out.push({ kind: "groups", line: 0, values: { name: `team${i}`, gid: 200_000 + i, smb: false } });
  for (let i = 0; i < n; i++) {
    out.push({
      kind: "users",
      line: 0,
      values: { username: `user${i}`, uid: 100_000 + i, full_name: `User ${i}`, group: 200_000 + (i % groups), shell: "/usr/sbin/nologin", unixhash: HASH, smbhash: "*" },
    });
  }
  return out;
}

async function freshApp(): Promise<{ app: App; done(): Promise<void> }> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "gatehouse-bench-import-"));
  const app = await App.create({ ...resolveConfig({ dataDir, port: 0, logLevel: "silent", hashRounds: 1000 }, {}), failDelay: [0, 0] }, { log: pino({ level: "silent" }) });
  return {
    app,
    async done() {
      await app.shutdown();
      await app.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** The baseline: the same rows, batched INSERTs of 500 in one transaction, nothing checked. */
async function rawInsert(app: App, n: number): Promise<void> {
  const groups = Math.max(1, Math.floor(n / 10));
  await app.store.db.transaction().execute(async (trx) => {
    const ids: number[] = [];
    for (let i = 0; i < groups; i += 500) {
      const rows = Array.from({ length: Math.min(500, groups - i) }, (_, k) => ({
        gid: 200_000 + i + k,
        name: `team${i + k}`,
        builtin: 0,
        smb: 0,
        sudo_commands: "[]",
        sudo_commands_nopasswd: "[]",
        userns_idmap: null,
      }));
      ids.push(...(await trx.insertInto("groups").values(rows).returning("id").execute()).map((r) => r.id));
    }
    const now = Date.now();
    for (let i = 0; i < n; i += 500) {
      const rows = Array.from({ length: Math.min(500, n - i) }, (_, k) => {
        const j = i + k;
        return {
          ...builtinUserBase(now),
          uid: 100_000 + j,
          username: `user${j}`,
          unixhash: HASH,
          home: "/var/empty",
          shell: "/usr/sbin/nologin",
          full_name: `User ${j}`,
          builtin: 0,
          group_id: ids[j % groups]!,
          last_password_change: now,
        };
      });
      await trx.insertInto("users").values(rows).execute();
    }
  });
}

export async function run(opts: BenchOptions): Promise<Section[]> {
  const n = opts.users;
  const recs = records(n);
  const samples = await alternate(
    opts.rounds,
    {
      import: async () => {
        const { app, done } = await freshApp();
        try {
          const t0 = performance.now();
          const r = await importAccounts({ db: app.store.db, dialect: app.store.dialect, config: app.config }, recs);
          const ms = performance.now() - t0;
          if (r.users !== n) throw new Error(`imported ${r.users} of ${n}: ${JSON.stringify(r.errors.slice(0, 3))}`);
          return (n / ms) * 1000;
        } finally {
          await done();
        }
      },
      raw: async () => {
        const { app, done } = await freshApp();
        try {
          const t0 = performance.now();
          await rawInsert(app, n);
          return (n / (performance.now() - t0)) * 1000;
        } finally {
          await done();
        }
      },
    },
    collectGarbage,
  );
  return [
    {
      title: "Bulk import (issue 13)",
      rows: [
        figure({
          name: `import ${n.toLocaleString("en-US")} users, pre-hashed (SQLite)`,
          unit: "users/s",
          value: samples.import,
          baseline: samples.raw,
          baselineName: "batched INSERT of the same rows, unchecked",
          baselineUnit: "users/s",
          better: "higher",
          aim: "≥ 20,000 users/s",
        }),
      ],
      notes: [
        `${n.toLocaleString("en-US")} users in ${Math.max(1, Math.floor(n / 10)).toLocaleString("en-US")} groups; validation reads the store once; one transaction; provisioning not included (it runs once after an import)`,
      ],
    },
  ];
}
