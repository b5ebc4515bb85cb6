// Threat: guessing credentials fast — by switching the limiter off, by going through HTTP instead
// of the WebSocket, from many sources, by forging X-Forwarded-For or hopping IPv6 addresses, with
// API keys or tokens of a locked-out account, or by timing which account names exist; and the
// reverse abuse: locking the administrator out remotely (issue 9, point 7). Each test is named
// after the attack it stops. Real servers on both stores with the limiter on (the test-only
// loopback exemption off), its windows shortened by config knobs; sources are told apart through
// a trusted proxy's X-Forwarded-For (the servers trust 127.0.0.1 as a proxy).

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { once } from "node:events";
import WebSocket from "ws";
import { ADMIN_PASSWORD, forEachStore, startServer, uniq, type TestServer } from "../harness.js";
import { startServerProcess, type ServerProcess } from "../process-harness.js";
import type { RpcClient } from "../../src/cli/client.js";
import { sourceKey } from "../../src/auth/source.js";

const PASSWORD = "Brute-pass-1234";
const LIMITS = { windowMs: 4000, accountFreeFailures: 5, accountDelayBaseMs: 20, accountDelayMaxMs: 160 };

async function makeUser(admin: RpcClient, roles = ["READONLY_ADMIN"]): Promise<{ id: number; username: string }> {
  const username = uniq("b");
  const groupId = await admin.call<number>("group.create", { name: `${username}_g`, smb: false });
  const group = await admin.call<any>("group.get_instance", groupId);
  if (roles.length) await admin.call("privilege.create", { name: `${username}_p`, local_groups: [group.gid], ds_groups: [], roles, web_shell: false });
  const user = await admin.call<any>("user.create", { username, full_name: username, password: PASSWORD, group: groupId, smb: false });
  return { id: user.id, username };
}

/** One JSON-RPC call on a fresh WebSocket that claims (through the trusted proxy) to come from `from`. */
async function callFrom(url: string, from: string | null, method: string, params: unknown[], headers: Record<string, string> = {}): Promise<any> {
  const ws = new WebSocket(url, { headers: { ...(from ? { "x-forwarded-for": from } : {}), ...headers } });
  await once(ws, "open");
  try {
    ws.send(JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }));
    const [data] = await once(ws, "message");
    const msg = JSON.parse(String(data));
    return msg.error ? { error: msg.error.data?.errname ?? msg.error.message } : msg.result;
  } finally {
    ws.close();
  }
}

/** auth.login_ex's response_type (or the error name) for a password login from `from`. */
async function loginFrom(url: string, from: string | null, username: string, password: string): Promise<string> {
  const r = await callFrom(url, from, "auth.login_ex", [{ mechanism: "PASSWORD_PLAIN", username, password }]);
  return r.response_type ?? r.error;
}

async function basicFrom(httpUrl: string, from: string | null, username: string, password: string): Promise<number> {
  const r = await fetch(`${httpUrl}/api/current`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      authorization: `Basic ${Buffer.from(`${username}:${password}`).toString("base64")}`,
      ...(from ? { "x-forwarded-for": from } : {}),
    },
    body: JSON.stringify({ method: "core.ping", params: [] }),
  });
  await r.text();
  return r.status;
}

let net = 0;
/** A fresh documentation-range IPv4 source per use, so tests do not share counters. */
function source(): string {
  net++;
  return `198.51.${100 + Math.floor(net / 250)}.${(net % 250) + 1}`;
}

forEachStore("brute force", (store) => {
  let ts: TestServer;
  let admin: RpcClient;
  before(async () => {
    ts = await startServer({ store, rateLimitLoopback: true, config: { trustedProxies: ["127.0.0.1", "::1"], loginLimits: LIMITS } });
    admin = await ts.adminClient();
    await admin.call("core.set_options", { legacy_jobs: false });
  });
  after(() => ts.stop());

  it("core.set_options cannot exempt an anonymous connection from the rate limit", async () => {
    const ws = new WebSocket(ts.url, { headers: { "x-forwarded-for": source() } });
    await once(ws, "open");
    const call = async (id: number, method: string, params: unknown[]) => {
      ws.send(JSON.stringify({ jsonrpc: "2.0", id, method, params }));
      const [d] = await once(ws, "message");
      return JSON.parse(String(d));
    };
    assert.deepEqual((await call(0, "core.set_options", [{ legacy_jobs: false, private_methods: false, py_exceptions: false }])).result, {
      legacy_jobs: false,
      private_methods: false,
      py_exceptions: false,
    });
    const answers: any[] = [];
    for (let i = 1; i <= 25; i++) answers.push(await call(i, "auth.login_ex", [{ mechanism: "PASSWORD_PLAIN", username: uniq("nobody"), password: "x" }]));
    ws.close();
    const busy = answers.map((a, i) => (a.error?.data?.errname === "EBUSY" ? i + 1 : 0)).filter(Boolean);
    assert.deepEqual(busy, [21, 22, 23, 24, 25], "the 21st and later anonymous logins of a minute are refused");
  });

  it("failed HTTP Basic authentications count toward the WebSocket limits; successful ones are never limited", async () => {
    const u = await makeUser(admin);
    const from = source();
    for (let i = 0; i < 5; i++) assert.equal(await basicFrom(ts.httpUrl, from, u.username, "wrong"), 401);
    // Locked out for this source on every channel, even with the right password.
    assert.equal(await loginFrom(ts.url, from, u.username, PASSWORD), "DENIED");
    assert.equal(await basicFrom(ts.httpUrl, from, u.username, PASSWORD), 401);
    // 20 failed authentications (any names) use up the source's login allowance for the minute.
    const other = source();
    for (let i = 0; i < 20; i++) assert.equal(await basicFrom(ts.httpUrl, other, uniq("ghost"), "x"), 401);
    assert.equal(await loginFrom(ts.url, other, u.username, PASSWORD), "EBUSY");
    // A script authenticating correctly on every request is never limited.
    const script = source();
    for (let i = 0; i < 30; i++) assert.equal(await basicFrom(ts.httpUrl, script, "admin", ADMIN_PASSWORD), 200);
  });

  it("five failures from one source lock the account out for that source only, whatever the password, until the lock ends (audited)", async () => {
    await admin.call("system.security.update", { lockout_threshold: 5, lockout_duration: 2 });
    try {
      const u = await makeUser(admin);
      const attacker = source();
      for (let i = 0; i < 5; i++) assert.equal(await loginFrom(ts.url, attacker, u.username, "guess" + i), "AUTH_ERR");
      assert.equal(await loginFrom(ts.url, attacker, u.username, PASSWORD), "DENIED");
      assert.equal(await loginFrom(ts.url, source(), u.username, PASSWORD), "SUCCESS", "another source still signs in");
      const rows = await ts.app.store.db.selectFrom("audit").select(["event_data"]).where("username", "=", u.username).where("event", "=", "AUTHENTICATION").execute();
      assert.ok(
        rows.some((r) => /locked out for 2 seconds/.test(JSON.parse(r.event_data).error ?? "")),
        "the lock-out is audited",
      );
      await new Promise((r) => setTimeout(r, 2100));
      assert.equal(await loginFrom(ts.url, attacker, u.username, PASSWORD), "SUCCESS", "the lock ends");
    } finally {
      await admin.call("system.security.update", { lockout_threshold: 5, lockout_duration: 900 });
    }
  });

  it("failures spread beyond the window never add up to a lock-out", async () => {
    const u = await makeUser(admin);
    const from = source();
    for (let i = 0; i < 4; i++) assert.equal(await loginFrom(ts.url, from, u.username, "wrong"), "AUTH_ERR");
    await new Promise((r) => setTimeout(r, LIMITS.windowMs + 100));
    for (let i = 0; i < 4; i++) assert.equal(await loginFrom(ts.url, from, u.username, "wrong"), "AUTH_ERR");
    assert.equal(await loginFrom(ts.url, from, u.username, PASSWORD), "SUCCESS");
  });

  it("X-Forwarded-For is honoured only from a trusted proxy, nearest untrusted hop first", async () => {
    const u = await makeUser(admin);
    // Through the trusted proxy, a forged left part of the chain does not make a new source.
    const real = source();
    for (let i = 0; i < 5; i++) assert.equal(await loginFrom(ts.url, `203.0.113.${i + 1}, ${real}`, u.username, "wrong"), "AUTH_ERR");
    assert.equal(await loginFrom(ts.url, `203.0.113.99, ${real}`, u.username, PASSWORD), "DENIED");
    // A server that trusts no proxy ignores the header: every forged address is the same source.
    const plain = await startServer({ store, rateLimitLoopback: true, config: { loginLimits: LIMITS } });
    try {
      const a2 = await plain.adminClient();
      const v = await makeUser(a2);
      for (let i = 0; i < 5; i++) assert.equal(await loginFrom(plain.url, source(), v.username, "wrong"), "AUTH_ERR");
      assert.equal(await loginFrom(plain.url, source(), v.username, PASSWORD), "DENIED");
    } finally {
      await plain.stop();
    }
  });

  it("hopping addresses inside one IPv6 /64 does not escape the lock-out", async () => {
    assert.equal(sourceKey("2001:db8:1:2::7"), "2001:db8:1:2::/64");
    assert.equal(sourceKey("2001:0db8:0001:0002:ffff:0:0:1"), "2001:db8:1:2::/64");
    assert.equal(sourceKey("2001:db8::1"), "2001:db8:0:0::/64");
    assert.equal(sourceKey("::ffff:192.0.2.1"), "192.0.2.1");
    const u = await makeUser(admin);
    for (let i = 0; i < 5; i++) assert.equal(await loginFrom(ts.url, `2001:db8:1:2:${i}::${i + 1}`, u.username, "wrong"), "AUTH_ERR");
    assert.equal(await loginFrom(ts.url, "2001:db8:1:2:ab:cd:ef:1", u.username, PASSWORD), "DENIED");
    assert.equal(await loginFrom(ts.url, "2001:db8:1:3::1", u.username, PASSWORD), "SUCCESS", "another /64 is another source");
  });

  it("a locked-out or locked account cannot sign in with an API key or a token instead", async () => {
    const u = await makeUser(admin);
    const key = await admin.call<any>("api_key.create", { name: uniq("k"), username: u.username });
    const home = source();
    // A live session on another source mints a token; the key logs in fine from anywhere so far.
    const ws = await ts.client();
    const proxied = { "x-forwarded-proto": "https" }; // keys are only used over TLS (here: the proxy's)
    assert.equal((await callFrom(ts.url, home, "auth.login_ex", [{ mechanism: "API_KEY_PLAIN", username: "", api_key: key.key }], proxied)).response_type, "SUCCESS");
    assert.equal((await ws.login(u.username, PASSWORD)).response_type, "SUCCESS");
    const token = await ws.call<string>("auth.generate_token", 600, {}, false, false);
    const attacker = source();
    for (let i = 0; i < 5; i++) assert.equal(await loginFrom(ts.url, attacker, u.username, "wrong"), "AUTH_ERR");
    const byKey = await callFrom(ts.url, attacker, "auth.login_ex", [{ mechanism: "API_KEY_PLAIN", username: "", api_key: key.key }], proxied);
    assert.equal(byKey.response_type, "DENIED", "API key refused while the account is locked out for this source");
    const byToken = await callFrom(ts.url, attacker, "auth.login_ex", [{ mechanism: "TOKEN_PLAIN", token }]);
    assert.equal(byToken.response_type, "DENIED", "token refused while the account is locked out for this source");
    // The locked flag refuses both everywhere.
    await admin.call("user.update", u.id, { locked: true });
    const k2 = await callFrom(ts.url, home, "auth.login_ex", [{ mechanism: "API_KEY_PLAIN", username: "", api_key: key.key }], proxied);
    assert.equal(k2.response_type, "AUTH_ERR");
    const t2 = await callFrom(ts.url, home, "auth.login_ex", [{ mechanism: "TOKEN_PLAIN", token }]);
    assert.equal(t2.response_type, "AUTH_ERR");
    const bearer = await fetch(`${ts.httpUrl}/api/current`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${key.key}`, "x-forwarded-for": home, ...proxied },
      body: JSON.stringify({ method: "core.ping", params: [] }),
    });
    assert.equal(bearer.status, 401);
  });

  it("guessing from many sources slows the administrator's account down but never locks admin out", async () => {
    // Two failures from each of 6 sources: no source is locked out; the account has 12 failures.
    const times: number[] = [];
    for (let i = 0; i < 12; i++) {
      const t0 = performance.now();
      assert.equal(await loginFrom(ts.url, `192.0.2.${Math.floor(i / 2) + 1}`, "admin", "guess" + i), "AUTH_ERR");
      times.push(performance.now() - t0);
    }
    // Past the free failures each attempt waits longer, up to the cap.
    assert.ok(times[11]! >= LIMITS.accountDelayMaxMs * 0.9, `attempt 12 took ${times[11]!.toFixed(0)} ms`);
    assert.ok(times[2]! < LIMITS.accountDelayBaseMs * 2 + 100, `attempt 3 took ${times[2]!.toFixed(0)} ms`);
    // The real administrator, from a source of their own: slowed by the cap at most, and in.
    const t0 = performance.now();
    assert.equal(await loginFrom(ts.url, "192.0.2.200", "admin", ADMIN_PASSWORD), "SUCCESS");
    const took = performance.now() - t0;
    assert.ok(took >= LIMITS.accountDelayMaxMs * 0.9 && took < LIMITS.accountDelayMaxMs + 1500, `admin's login took ${took.toFixed(0)} ms`);
  });
});

forEachStore("unknown account names", (store) => {
  let ts: TestServer;
  before(async () => {
    // A costly hash (as in production, where it is 656,000 rounds) so that skipping it would show.
    ts = await startServer({ store, config: { hashRounds: 40_000, failDelay: [0, 0] } });
    const admin = await ts.adminClient();
    await admin.call("core.set_options", { legacy_jobs: false });
    known = await makeUser(admin);
  });
  after(() => ts.stop());
  let known: { username: string };

  it("an unknown account name costs the same time as a known one's wrong password (interleaved)", async (t) => {
    const c = await ts.client();
    const timed = async (username: string) => {
      const t0 = performance.now();
      assert.equal((await c.login(username, "Wrong-guess-123")).response_type, "AUTH_ERR");
      return performance.now() - t0;
    };
    await timed(known.username); // warm-up
    await timed(uniq("nobody"));
    const knownMs: number[] = [];
    const unknownMs: number[] = [];
    let unknownFaster = 0;
    const PAIRS = 60;
    for (let i = 0; i < PAIRS; i++) {
      // Alternate which goes first, so drift in machine load hits both alike.
      let k: number;
      let u: number;
      if (i % 2) {
        k = await timed(known.username);
        u = await timed(uniq("nobody"));
      } else {
        u = await timed(uniq("nobody"));
        k = await timed(known.username);
      }
      knownMs.push(k);
      unknownMs.push(u);
      if (u < k) unknownFaster++;
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const mk = median(knownMs);
    const mu = median(unknownMs);
    // Paired differences cancel the load drift of a shared machine that moves both alike.
    const md = median(unknownMs.map((u, i) => u - knownMs[i]!));
    t.diagnostic(`median known ${mk.toFixed(1)} ms, unknown ${mu.toFixed(1)} ms, paired difference ${md.toFixed(1)} ms; unknown faster in ${unknownFaster}/${PAIRS} pairs`);
    // The hash is the bulk of either (a skipped hash would show as a far faster unknown name).
    assert.ok(mk >= 5, `a known account's check took ${mk.toFixed(1)} ms: the hash is too cheap to tell anything`);
    assert.ok(Math.abs(md) <= 0.25 * mk, `unknown names differ by ${md.toFixed(1)} ms (median of pairs) from known ones (${mk.toFixed(1)} ms)`);
    // Pairwise: neither is systematically faster (sign test; 15..45 of 60 holds by chance 99.98% of the time).
    assert.ok(unknownFaster >= 15 && unknownFaster <= 45, `unknown faster in ${unknownFaster} of ${PAIRS} pairs`);
  });
});

describe("brute force across real server processes [postgres]", { skip: !process.env.GATEHOUSE_TEST_PG && "GATEHOUSE_TEST_PG is not set" }, () => {
  let one: ServerProcess;
  let two: ServerProcess;
  before(async () => {
    // The limiter on (no test-only exemption) and 127.0.0.1 trusted as a proxy, set the way an operator would.
    const env = { GATEHOUSE_TEST_LIMITER_EXEMPT: "0", GATEHOUSE_TRUSTED_PROXIES: "127.0.0.1", GATEHOUSE_FAIL_DELAY_MS: "5-10" };
    one = await startServerProcess({ store: "postgres", env });
    two = await startServerProcess({ databaseUrl: one.databaseUrl, env });
  });
  after(async () => {
    await two?.stop();
    await one?.stop();
  });

  it("HTTP Basic failures on one process lock the account out of WebSocket logins on the other", async () => {
    const admin = await one.adminClient();
    const u = await makeUser(admin);
    const from = source();
    for (let i = 0; i < 5; i++) assert.equal(await basicFrom(one.httpUrl, from, u.username, "wrong"), 401);
    assert.equal(await loginFrom(two.url, from, u.username, PASSWORD), "DENIED");
    assert.equal(await loginFrom(two.url, source(), u.username, PASSWORD), "SUCCESS");
  });
});
