// Threat: uniqueness raced (issue 9 point 9). Concurrent creates — in one server process or in
// several sharing a PostgreSQL store — must never give one uid, gid, home directory or SMB name
// to two accounts: before, 1,000 automatic-id creates with 16 in flight left 976 users sharing a
// uid on PostgreSQL, and parallel creates with the same explicit uid, home or SMB name (in
// another case) all succeeded on both stores. Each test is named after the attack it stops.

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { forEachStore, startServer, STORES, uniq, type TestServer } from "../harness.js";
import { startServerProcess, type ServerProcess } from "../process-harness.js";
import type { RpcClient, RpcCallError } from "../../src/cli/client.js";

const EEXIST = 17;
type Outcome<T> = { ok: true; value: T } | { ok: false; error: RpcCallError };

/** Run `n` calls, `inflight` at a time spread over `clients`, keeping every outcome in order. */
async function race<T>(clients: RpcClient[], n: number, inflight: number, call: (c: RpcClient, i: number) => Promise<T>): Promise<Outcome<T>[]> {
  const out: Outcome<T>[] = new Array(n);
  let next = 0;
  await Promise.all(
    Array.from({ length: inflight }, async (_, lane) => {
      const c = clients[lane % clients.length]!;
      for (let i = next++; i < n; i = next++) {
        try {
          out[i] = { ok: true, value: await call(c, i) };
        } catch (err) {
          if ((err as Error).name !== "RpcCallError") throw err;
          out[i] = { ok: false, error: err as RpcCallError };
        }
      }
    }),
  );
  return out;
}

/** Exactly one success; every other call a validation error on `attr` matching `message`. */
function oneWinner<T>(outcomes: Outcome<T>[], attr: string, message: RegExp, errno = EEXIST): T {
  const wins = outcomes.filter((o) => o.ok);
  const losses = outcomes.filter((o): o is { ok: false; error: RpcCallError } => !o.ok);
  assert.equal(wins.length, 1, `expected one success, got ${wins.length}: ${losses.map((l) => JSON.stringify(l.error.extra ?? l.error.message)).join("; ")}`);
  for (const { error } of losses) {
    assert.equal(error.code, -32602, `expected a validation error, got ${error.code} ${error.message}`);
    const hit = (error.extra as [string, string, number][]).find(([a, m]) => a === attr && message.test(m));
    assert.ok(hit, `no ${attr} ~ ${message} in ${JSON.stringify(error.extra)}`);
    assert.equal(hit[2], errno);
  }
  return (wins[0] as { ok: true; value: T }).value;
}

function assertDistinct(values: number[], what: string): void {
  const seen = new Map<number, number>();
  for (const v of values) seen.set(v, (seen.get(v) ?? 0) + 1);
  const shared = [...seen].filter(([, n]) => n > 1);
  assert.equal(
    shared.length,
    0,
    `${what} held more than once: ${shared
      .slice(0, 10)
      .map(([v, n]) => `${v}×${n}`)
      .join(", ")}`,
  );
}

/** No uid held by two users, no gid by two groups, in the whole store. */
async function assertStoreUnique(admin: RpcClient): Promise<void> {
  const users = await admin.call<any[]>("user.query", [], { select: ["uid"] });
  const groups = await admin.call<any[]>("group.query", [], { select: ["gid"] });
  assertDistinct(
    users.map((u) => u.uid),
    "uid",
  );
  assertDistinct(
    groups.map((g) => g.gid),
    "gid",
  );
}

/** user.create arguments that cost no password hash: the race is about ids, not hashing. */
const plainUser = (username: string, extra: Record<string, unknown> = {}) => ({
  username,
  full_name: username,
  password_disabled: true,
  smb: false,
  group_create: true,
  ...extra,
});

/** The attacks, against servers reached through `clients` (all sharing one store). */
function uniquenessAttacks(get: () => { clients: RpcClient[]; storageRoot: string }): void {
  it("1,000 automatic-id user.create calls, 16 in flight, cannot hand one uid or gid to two accounts", async () => {
    const { clients } = get();
    const p = uniq("auto");
    const outcomes = await race(clients, 1000, 16, (c, i) => c.call<any>("user.create", plainUser(`${p}_${i}`)));
    const failed = outcomes.filter((o) => !o.ok);
    assert.equal(
      failed.length,
      0,
      `creates failed: ${failed
        .slice(0, 3)
        .map((o) => JSON.stringify((o as any).error.extra ?? (o as any).error.message))
        .join("; ")}`,
    );
    const users = outcomes.map((o) => (o as { value: any }).value);
    assertDistinct(
      users.map((u) => u.uid),
      "uid",
    );
    assertDistinct(
      users.map((u) => u.group.bsdgrp_gid),
      "gid",
    );
    await assertStoreUnique(clients[0]!);
  });

  it("20 parallel user.create calls with the same explicit uid: one succeeds, 19 are told the uid is used", async () => {
    const { clients } = get();
    const p = uniq("xu");
    const uid = 40_000 + Math.floor(Math.random() * 10_000);
    const outcomes = await race(clients, 20, 20, (c, i) => c.call<any>("user.create", plainUser(`${p}_${i}`, { uid })));
    const winner = oneWinner(outcomes, "user_create.uid", new RegExp(`^Uid ${uid} is already used`));
    assert.equal(winner.uid, uid);
  });

  it("10 parallel user.create calls with the same home: one succeeds, 9 are told the home is used", async () => {
    const { clients, storageRoot } = get();
    const p = uniq("xh");
    const home = path.join(storageRoot, p);
    mkdirSync(home, { recursive: true });
    const outcomes = await race(clients, 10, 10, (c, i) => c.call<any>("user.create", plainUser(`${p}_${i}`, { home })));
    const winner = oneWinner(outcomes, "user_create.home", /homedir already used by/);
    assert.equal(winner.home, home);
  });

  it("10 parallel user.create calls with homes nested in each other: one succeeds, none gets a home inside another's", async () => {
    const { clients, storageRoot } = get();
    const p = uniq("xn");
    const homes = Array.from({ length: 10 }, (_, i) => path.join(storageRoot, p, ...Array.from({ length: i }, (_, j) => `d${j}`)));
    mkdirSync(homes[homes.length - 1]!, { recursive: true });
    const outcomes = await race(clients, 10, 10, (c, i) => c.call<any>("user.create", plainUser(`${p}_${i}`, { home: homes[i] })));
    oneWinner(outcomes, "user_create.home", /homedir already used by|home directory of/);
  });

  it("two SMB usernames differing only in case, created at once, cannot both succeed", async () => {
    const { clients } = get();
    // Five pairs: each pair races; every pair must leave exactly one SMB user.
    for (let k = 0; k < 5; k++) {
      const base = uniq("Smb");
      const names = [base, base.toLowerCase()];
      const outcomes = await race(clients, 2, 2, (c, i) => c.call<any>("user.create", { username: names[i], full_name: names[i], password: "Smb-pass-1234", smb: true, group_create: true }));
      oneWinner(outcomes, "user_create.smb", /username conflicts with existing SMB user/);
    }
  });

  it("20 parallel group.create calls with the same explicit gid: one succeeds, 19 are told the gid is used", async () => {
    const { clients } = get();
    const p = uniq("xg");
    const gid = 50_000 + Math.floor(Math.random() * 10_000);
    const outcomes = await race(clients, 20, 20, (c, i) => c.call<number>("group.create", { name: `${p}_${i}`, gid, smb: false }));
    oneWinner(outcomes, "group_create.gid", new RegExp(`^Gid ${gid} is already used`));
  });

  it("20 parallel group.create calls with the same name, or SMB names differing only in case: one succeeds", async () => {
    const { clients } = get();
    const name = uniq("gn");
    const same = await race(clients, 20, 20, (c) => c.call<number>("group.create", { name, smb: false }));
    oneWinner(same, "group_create.name", /already exists/);
    const base = uniq("Gsmb");
    const lower = base.toLowerCase();
    const cased = [base, lower, lower.toUpperCase(), `${lower[0]}${lower[1]!.toUpperCase()}${lower.slice(2)}`];
    assert.equal(new Set(cased).size, cased.length);
    const smb = await race(clients, cased.length, cased.length, (c, i) => c.call<number>("group.create", { name: cased[i], smb: true }));
    oneWinner(smb, "group_create.name", /conflicts with existing groupmap entry/);
  });

  it("300 automatic-gid group.create calls, 16 in flight, cannot hand one gid to two groups", async () => {
    const { clients } = get();
    const p = uniq("ag");
    const outcomes = await race(clients, 300, 16, (c, i) => c.call<number>("group.create", { name: `${p}_${i}`, smb: false }));
    assert.ok(
      outcomes.every((o) => o.ok),
      "every group.create succeeds",
    );
    const gids = await clients[0]!.call<any[]>("group.query", [["name", "^", `${p}_`]], { select: ["gid"] });
    assert.equal(gids.length, 300);
    assertDistinct(
      gids.map((g) => g.gid),
      "gid",
    );
    await assertStoreUnique(clients[0]!);
  });

  it("10 parallel user.update calls moving different users onto one home: one succeeds", async () => {
    const { clients, storageRoot } = get();
    const p = uniq("mv");
    const users: any[] = [];
    for (let i = 0; i < 10; i++) users.push(await clients[0]!.call<any>("user.create", plainUser(`${p}_${i}`)));
    const home = path.join(storageRoot, p);
    mkdirSync(home, { recursive: true });
    const outcomes = await race(clients, 10, 10, (c, i) => c.call<any>("user.update", users[i].id, { home }));
    oneWinner(outcomes, "user_update.home", /homedir already used by/);
  });
}

forEachStore("concurrency: uniqueness under concurrent creates, one server process", (store) => {
  let ts: TestServer;
  const clients: RpcClient[] = [];
  before(async () => {
    ts = await startServer({ store });
    for (let i = 0; i < 2; i++) clients.push(await ts.adminClient());
  });
  after(async () => {
    await ts?.stop();
  });
  uniquenessAttacks(() => ({ clients, storageRoot: ts.config.storageRoots[0]! }));
});

// Two real `gatehouse serve` processes on one PostgreSQL database: the claims and indexes live in
// the store, so they hold across processes, not only inside one.
if (STORES.includes("postgres")) {
  describe("concurrency: uniqueness under concurrent creates, two server processes on one PostgreSQL", () => {
    let one: ServerProcess;
    let two: ServerProcess;
    let storageRoot: string;
    let twoDataDir: string;
    const clients: RpcClient[] = [];
    before(async () => {
      // One storage root both processes see, so a home means the same directory to both.
      storageRoot = mkdtempSync(path.join(os.tmpdir(), "gh-conc-root-"));
      const env = { GATEHOUSE_STORAGE_ROOTS: storageRoot };
      one = await startServerProcess({ store: "postgres", env });
      // Processes sharing a store share its secret-box key (issue 9 point 3).
      twoDataDir = mkdtempSync(path.join(os.tmpdir(), "gh-conc-two-"));
      mkdirSync(path.join(twoDataDir, "private"), { mode: 0o700 });
      copyFileSync(path.join(one.dataDir, "private", "secret.key"), path.join(twoDataDir, "private", "secret.key"));
      chmodSync(path.join(twoDataDir, "private", "secret.key"), 0o600);
      two = await startServerProcess({ databaseUrl: one.databaseUrl, dataDir: twoDataDir, env });
      // Alternating: lane k talks to process k % 2.
      clients.push(await one.adminClient(), await two.adminClient());
    });
    after(async () => {
      await two?.stop();
      await one?.stop();
      for (const dir of [storageRoot, twoDataDir]) if (dir) rmSync(dir, { recursive: true, force: true });
    });
    uniquenessAttacks(() => ({ clients, storageRoot }));
  });
}
