// Directory login figures (issue 12), against one throwaway slapd with TLS (test/slapd-harness.ts)
// in the same run, each beside a bare ldapts script that puts exactly Gatehouse's requests on the
// wire, in the same order and overlap, with the same connection policy — so the ratio is what
// Gatehouse adds beyond the directory's round trips:
//  - direct bind: a new TLS connection per login; bind as the user; then the user's entry (a base
//    search) and its groups (a paged subtree search) at once; unbind behind the answer (a later turn);
//  - indirect bind: a pooled connection bound as the bind account searches the user (size limit
//    2, not paged); then the password is checked by a bind on a new TLS connection while the
//    pooled connection searches the groups; unbind of the new connection behind the answer;
//  - logins/s with 16 in flight (indirect bind).
// Gatehouse's figure is a whole auth.login_ex over its WebSocket API (session, audit and all); the
// login limiter is off for loopback (the test-only exemption, as every bench).

import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import pino from "pino";
import { Client } from "ldapts";
import { App } from "../src/app.js";
import { resolveConfig } from "../src/config.js";
import { serveWithAdmin } from "./bench-server.js";
import { RpcClient } from "../src/cli/client.js";
import { escapeDnValue, escapeFilterValue } from "../src/directory/ldap-escape.js";
import { CLOSE_BEHIND_MS } from "../src/directory/ldap-auth.js";
import { BASE_DN, BIND_DN, BIND_PASSWORD, GROUPS_DN, PEOPLE_DN, startSlapd, type Slapd } from "../test/slapd-harness.js";
import { alternate, collectGarbage, figure, type BenchOptions, type Row } from "./measure.js";
import type { Section } from "./table.js";

const ADMIN_PW = "Bench-admin-pw1";
/** Logins per round of a latency figure (sequential) and of the throughput figure. */
const LATENCY_LOGINS = 60;
const RATE_LOGINS = 320;
const IN_FLIGHT = 16;
const USERS = 200;
const uidOf = (i: number) => `user${String(i % USERS).padStart(4, "0")}`;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/**
 * The bare script's work for one login, by connection policy: the requests Gatehouse sends
 * (src/directory/ldap-auth.ts directBind / indirectBind), with the same TLS options (verify off).
 */
function bare(slapd: Slapd) {
  const url = `ldaps://127.0.0.1:${slapd.ldapsPort}`;
  const fresh = async () => {
    const c = new Client({ url, connectTimeout: 5000, timeout: 10000, tlsOptions: { rejectUnauthorized: false, minVersion: "TLSv1.2" } });
    // Connected before the first request, as Gatehouse does (ldapts would connect at the first request anyway).
    await (c as unknown as { _connect(): Promise<void> })._connect();
    return c;
  };
  const attrs = ["uid", "cn", "uidNumber", "gidNumber", "homeDirectory", "memberOf", "displayName"];
  const groups = (c: Client, dn: string, uid: string) =>
    c.search(GROUPS_DN, {
      scope: "sub",
      derefAliases: "never",
      paged: { pageSize: 500 },
      filter: `(|(member=${escapeFilterValue(dn)})(uniqueMember=${escapeFilterValue(dn)})(memberUid=${escapeFilterValue(uid)}))`,
      attributes: ["cn", "gidNumber"],
    });
  // The user's connection is closed behind the answer, as Gatehouse does (ldap-auth.ts closeBehind).
  const closeBehind = (c: Client) => setTimeout(() => void c.unbind().catch(() => {}), CLOSE_BEHIND_MS).unref();
  let pool: Client | null = null;
  return {
    async direct(uid: string): Promise<void> {
      const dn = `uid=${escapeDnValue(uid)},${PEOPLE_DN}`;
      const c = await fresh();
      try {
        await c.bind(dn, `pw-${uid}`);
        await Promise.all([c.search(dn, { scope: "base", derefAliases: "never", filter: "(objectClass=*)", attributes: attrs }), groups(c, dn, uid)]);
      } finally {
        closeBehind(c);
      }
    },
    async indirect(uid: string): Promise<void> {
      if (!pool) {
        pool = await fresh();
        await pool.bind(BIND_DN, BIND_PASSWORD);
      }
      const p = pool;
      const { searchEntries } = await p.search(BASE_DN, { scope: "sub", derefAliases: "never", filter: `(uid=${escapeFilterValue(uid)})`, attributes: attrs, sizeLimit: 2 });
      const dn = searchEntries[0]!.dn;
      const bound = (async () => {
        const c = await fresh();
        try {
          await c.bind(dn, `pw-${uid}`);
        } finally {
          closeBehind(c);
        }
      })();
      await Promise.all([bound, groups(p, dn, uid)]);
    },
    close: async () => {
      await pool?.unbind();
    },
  };
}

async function latency(login: (uid: string) => Promise<void>, round: number): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < LATENCY_LOGINS; i++) {
    const t0 = performance.now();
    await login(uidOf(round * LATENCY_LOGINS + i));
    times.push(performance.now() - t0);
  }
  return median(times);
}

async function rate(login: (uid: string, lane: number) => Promise<void>, round: number): Promise<number> {
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async (_, lane) => {
      while (next < RATE_LOGINS) {
        const i = next++;
        await login(uidOf(round * RATE_LOGINS + i), lane);
      }
    }),
  );
  return RATE_LOGINS / ((performance.now() - t0) / 1000);
}

async function gatehouseLogin(c: RpcClient, uid: string): Promise<void> {
  const r = await c.login(uid, `pw-${uid}`);
  if (r.response_type !== "SUCCESS") throw new Error(`login of ${uid}: ${JSON.stringify(r)}`);
}

async function ldapRows(admin: RpcClient, url: string, slapd: Slapd, rounds: number): Promise<Row[]> {
  const server = (over: Record<string, unknown>) => ({ hostname: `127.0.0.1:${slapd.ldapsPort}`, group_domain: GROUPS_DN, ...over });
  await admin.call("ldap.update", { allow_user_creation: true });
  await admin.call("privilege.create", { name: "bench-directory", ds_groups: [100], roles: ["READONLY_ADMIN"], web_shell: false });
  const conns = await Promise.all(Array.from({ length: IN_FLIGHT }, () => RpcClient.connect(url)));
  const script = bare(slapd);
  const rows: Row[] = [];
  try {
    // Direct bind.
    let s = await admin.call<any>("ldap.server.create", server({ domain: PEOPLE_DN }));
    // First logins create the local records: done before measuring (steady state).
    for (let i = 0; i < USERS; i++) await gatehouseLogin(conns[0]!, uidOf(i));
    const d = await alternate(rounds, { gh: (r) => latency((u) => gatehouseLogin(conns[0]!, u), r), bare: (r) => latency((u) => script.direct(u), r) }, collectGarbage);
    rows.push(
      figure({
        name: "LDAP login latency p50, direct bind (new TLS connection)",
        unit: "ms",
        value: d.gh,
        baseline: d.bare,
        baselineName: "bare ldapts, Gatehouse's requests: TLS connect, user bind, entry ‖ group search",
        better: "lower",
        aim: "≤ 1.2× at p50",
      }),
    );
    await admin.call("ldap.server.delete", s.id);

    // Indirect bind: pooled search connection.
    s = await admin.call<any>("ldap.server.create", server({ domain: BASE_DN, bind_dn: BIND_DN, bind_password: BIND_PASSWORD }));
    await gatehouseLogin(conns[0]!, uidOf(0));
    await script.indirect(uidOf(0));
    const ind = await alternate(rounds, { gh: (r) => latency((u) => gatehouseLogin(conns[0]!, u), r), bare: (r) => latency((u) => script.indirect(u), r) }, collectGarbage);
    rows.push(
      figure({
        name: "LDAP login latency p50, indirect bind (pooled bind connection)",
        unit: "ms",
        value: ind.gh,
        baseline: ind.bare,
        baselineName: "bare ldapts, Gatehouse's requests: pooled user search, then TLS connect + user bind ‖ pooled group search",
        better: "lower",
        aim: "≤ 1.2× at p50",
      }),
    );
    const tp = await alternate(rounds, { gh: (r) => rate((u, lane) => gatehouseLogin(conns[lane]!, u), r), bare: (r) => rate((u) => script.indirect(u), r) }, collectGarbage);
    rows.push(
      figure({
        name: `LDAP logins/s, indirect bind, ${IN_FLIGHT} in flight`,
        unit: "logins/s",
        value: tp.gh,
        baseline: tp.bare,
        baselineName: `bare ldapts, same work, ${IN_FLIGHT} in flight`,
        ratioNote: "value ÷ baseline",
        better: "higher",
      }),
    );
    await admin.call("ldap.server.delete", s.id);
  } finally {
    await script.close();
    await Promise.all(conns.map((c) => c.close()));
  }
  return rows;
}

export async function run(opts: BenchOptions): Promise<Section[]> {
  const slapd = await startSlapd();
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "gatehouse-bench-ldap-"));
  const config = { ...resolveConfig({ dataDir, port: 0, logLevel: "silent" }, {}), failDelay: [0, 0] as [number, number], hashRounds: null };
  const app = await App.create(config, { log: pino({ level: "silent" }) });
  app.rateLimitLoopbackExempt = true;
  const rows: Row[] = [];
  try {
    const { url, admin, close } = await serveWithAdmin(app, ADMIN_PW);
    rows.push(...(await ldapRows(admin, url, slapd, opts.rounds)));
    await close();
  } finally {
    await app.shutdown();
    await app.close();
    rmSync(dataDir, { recursive: true, force: true });
    await slapd.stop();
  }
  return [
    { title: "Directory logins (issue 12)", rows, notes: [`slapd 2.5 with TLS on loopback, ${USERS} directory users signed in (records created before measuring); verify SSL off on both sides`] },
  ];
}
