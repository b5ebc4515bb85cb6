// Threat: a session that may not see secret fields (password hashes, NT hashes, password history,
// API-key hashes and salts, TOTP secrets) reads them anyway — by renaming them in `select`, by
// asking yes/no questions with filters (a `^` prefix filter recovers a hash one character at a
// time), by ordering on them, or through another output channel (get_instance, events, job results,
// errors). Guarantee: redaction is decided by the source field; a query that names a secret field
// fails with EPERM naming the field, for every method that declares secret fields, and every
// channel carries only redacted values. Sessions that may see the secrets query them as before.

import { after, before, it } from "node:test";
import assert from "node:assert/strict";
import { forEachStore, rpcError, type TestServer } from "../harness.js";
import { clientFor, makeUser, startAsAdmin, type TestUser } from "../auth-helpers.js";
import type { RpcClient } from "../../src/cli/client.js";
import { findSecretReference } from "../../src/store/query-secrets.js";

const REDACTED = "********";

/** The call fails with EPERM and a message naming `field`; the answer holds none of `secrets`. */
async function refused(p: Promise<unknown>, field: string, secrets: string[] = []): Promise<void> {
  const err = await rpcError(p);
  assert.equal(err.data?.errname, "EPERM", `expected EPERM, got ${JSON.stringify(err.data)}`);
  assert.equal(err.errorCode, "core.secret_field_forbidden");
  assert.match(String(err.data?.reason), new RegExp(`\\b${field}\\b`), "the error names the secret field");
  const text = JSON.stringify(err.data);
  for (const s of secrets) assert.ok(!text.includes(s), "the error holds no secret value");
}

forEachStore("security: redaction", (store) => {
  let ts: TestServer;
  let a: RpcClient; // FULL_ADMIN
  let reader: RpcClient; // READONLY_ADMIN: reads everything, may see no secret
  let victim: TestUser;
  let hash: string; // the victim's unixhash, as FULL_ADMIN sees it
  let nthash: string;
  let keyId: number;
  let keyhash: string;
  let salt: string;

  before(async () => {
    ({ ts, a } = await startAsAdmin(store));
    victim = await makeUser(ts, { roles: ["READONLY_ADMIN"], smb: true });
    const full = await a.call<any>("user.get_instance", victim.id);
    hash = full.unixhash;
    nthash = full.smbhash;
    assert.match(hash, /^\$6\$/);
    assert.ok(nthash && nthash !== REDACTED);
    const key = await a.call<any>("api_key.create", { name: "redaction-key", username: victim.username });
    keyId = key.id;
    const k = await a.call<any>("api_key.get_instance", keyId);
    keyhash = k.keyhash;
    salt = k.salt;
    ({ client: reader } = await clientFor(ts, ["READONLY_ADMIN"]));
  });
  after(() => ts.stop());

  it("select with an alias or a nested path cannot rename a hash past redaction", async () => {
    const secrets = [hash, nthash];
    for (const field of ["unixhash", "smbhash", "password_history", "twofactor_secret"]) {
      await refused(reader.call("user.query", [["id", "=", victim.id]], { select: [[field, "harmless"]] }), field, secrets);
      await refused(reader.call("user.query", [], { select: ["username", field] }), field, secrets);
      await refused(reader.call("user.query", [], { select: [`${field}.0`] }), field, secrets);
      await refused(reader.call("user.query", [], { select: [[`${field}.x.y`, "a"]] }), field, secrets);
    }
    for (const field of ["keyhash", "salt"]) {
      await refused(reader.call("api_key.query", [], { select: [[field, "name2"]] }), field, [keyhash, salt]);
    }
    // Harmless selects still work, and the full entry is still redacted.
    const rows = await reader.call<any[]>("user.query", [["id", "=", victim.id]], { select: [["username", "u"], "group.bsdgrp_gid"] });
    assert.deepEqual(rows, [{ u: victim.username, group: { bsdgrp_gid: victim.gid } }]);
    const entry = await reader.call<any>("user.query", [["id", "=", victim.id]], { get: true });
    assert.equal(entry.unixhash, REDACTED);
    assert.equal(entry.smbhash, REDACTED);
  });

  it("order_by on a secret field cannot rank hashes (plain, -desc, nulls_first:, nulls_last:)", async () => {
    for (const key of ["unixhash", "-unixhash", "nulls_first:smbhash", "nulls_last:-password_history", "unixhash.$date"]) {
      const field = key
        .replace(/^nulls_(first|last):/, "")
        .replace(/^-/, "")
        .split(".")[0]!;
      await refused(reader.call("user.query", [], { order_by: ["username", key] }), field, [hash]);
    }
    await refused(reader.call("api_key.query", [], { order_by: ["-keyhash"] }), "keyhash", [keyhash]);
  });

  it("prefix-filter oracle: no operator on a secret field answers, whatever the result would be", async () => {
    const prefix = hash.slice(0, 8);
    const ops: [string, unknown][] = [
      ["^", prefix],
      ["!^", prefix],
      ["C^", prefix.toUpperCase()],
      ["$", hash.slice(-4)],
      ["!$", "x"],
      ["~", `${prefix.replace(/\$/g, "\\$")}.*`],
      ["C~", "^.*"],
      ["=", hash],
      ["!=", "x"],
      [">", "$6"],
      [">=", "$6"],
      ["<", "$7"],
      ["<=", "$7"],
      ["in", [hash]],
      ["nin", ["x"]],
      ["rin", "$6$"],
      ["rnin", "zz"],
    ];
    for (const [op, value] of ops) {
      await refused(
        reader.call("user.query", [
          ["unixhash", op, value],
          ["id", "=", victim.id],
        ]),
        "unixhash",
        [hash],
      );
      await refused(reader.call("user.query", [["smbhash", op, value]], { count: true }), "smbhash", [nthash]);
    }
    await refused(reader.call("user.query", [["password_history.*", "^", "$6$"]]), "password_history");
    await refused(reader.call("user.query", [["unixhash.$date", ">", "2020-01-01"]]), "unixhash");
    await refused(reader.call("api_key.query", [["keyhash", "^", keyhash.slice(0, 2)]]), "keyhash", [keyhash]);
    await refused(reader.call("api_key.query", [["salt", "$", salt.slice(-1)]]), "salt", [salt]);
    // Sessions that may see the secrets keep the filter: FULL_ADMIN, and the method's secrets role.
    assert.deepEqual(
      (
        await a.call<any[]>("user.query", [
          ["unixhash", "^", prefix],
          ["id", "=", victim.id],
        ])
      ).map((u) => u.id),
      [victim.id],
    );
    const { client: writer } = await clientFor(ts, ["ACCOUNT_WRITE", "READONLY_ADMIN"]);
    assert.equal(await writer.call<number>("user.query", [["unixhash", "=", hash]], { count: true }), 1);
    const sorted = await writer.call<any[]>("user.query", [], { order_by: ["-unixhash"], select: [["unixhash", "h"]] });
    assert.ok(
      sorted.some((r) => r.h === hash),
      "the secrets role selects the hash under an alias",
    );
    const { client: keyWriter } = await clientFor(ts, ["API_KEY_WRITE", "READONLY_ADMIN"]);
    assert.equal((await keyWriter.call<any[]>("api_key.query", [["keyhash", "=", keyhash]])).length, 1);
  });

  it("OR-nested and AND-grouped filters cannot hide a condition on a secret field", async () => {
    const probe = ["unixhash", "^", "$6$"];
    const shapes: unknown[] = [
      ["OR", [["username", "=", "nobody"], probe]],
      ["OR", [[["username", "=", victim.username], probe], [["id", "=", -1]]]],
      [
        "OR",
        [
          ["id", "=", -1],
          [
            "OR",
            [
              ["id", "=", -2],
              ["OR", [[["id", ">", 0], probe]]],
            ],
          ],
        ],
      ],
    ];
    for (const f of shapes) await refused(reader.call("user.query", [f]), "unixhash", [hash]);
    await refused(
      reader.call("user.query", [
        ["id", "=", victim.id],
        [
          "OR",
          [
            ["smbhash", "!=", null],
            ["id", "=", 0],
          ],
        ],
      ]),
      "smbhash",
      [nthash],
    );
  });

  it("get_instance with a select (alias or nested) cannot read a hash", async () => {
    await refused(reader.call("user.get_instance", victim.id, { select: [["unixhash", "note"]] }), "unixhash", [hash]);
    await refused(reader.call("user.get_instance", victim.id, { select: ["id", ["smbhash", "x"]] }), "smbhash", [nthash]);
    await refused(reader.call("user.get_instance", victim.id, { order_by: ["unixhash"] }), "unixhash");
    await refused(reader.call("api_key.get_instance", keyId, { select: [["keyhash", "k"]] }), "keyhash", [keyhash]);
    const e = await reader.call<any>("user.get_instance", victim.id, { select: ["id", "unixhash_is_not_a_field"] });
    assert.deepEqual(e, { id: victim.id });
    const k = await reader.call<any>("api_key.get_instance", keyId);
    assert.deepEqual([k.keyhash, k.salt], [REDACTED, REDACTED]);
  });

  it("every method that declares secret fields refuses each of them in select, order_by and filters", async () => {
    let checked = 0;
    for (const def of ts.app.registry.all()) {
      if (!def.secretFields?.length) continue;
      const f = def.args.findIndex((x) => x.name === "filters");
      const o = def.args.findIndex((x) => x.name === "options");
      // A query-shaped method must take its query as `filters` / `options`, or this check misses it
      // (a get_instance taking only the id has no query to name a field in).
      if (/\.query$/.test(def.name) || (/\.get_instance$/.test(def.name) && def.args.length > 1)) assert.ok(o >= 0, `${def.name} names its options argument "options"`);
      if (f < 0 && o < 0) continue;
      if (!def.roles.includes("READONLY_ADMIN") && !def.roles.some((r) => r.endsWith("_READ"))) continue;
      for (const field of def.secretFields) {
        const attempts: unknown[][] = [];
        const params = (filters: unknown, options: unknown): unknown[] =>
          def.args.map((x, i) => (i === f ? filters : i === o ? options : x.name === "id" ? (def.name.startsWith("api_key") ? keyId : victim.id) : null));
        if (o >= 0) attempts.push(params([], { select: [[field, "alias"]] }), params([], { order_by: [`-${field}`] }));
        if (f >= 0)
          attempts.push(
            params(
              [
                [
                  "OR",
                  [
                    ["id", "=", 0],
                    [field, "^", "$"],
                  ],
                ],
              ],
              {},
            ),
          );
        for (const params of attempts) {
          await refused(reader.call(def.name, ...params), field);
          checked++;
        }
      }
    }
    assert.ok(checked >= 20, `checked ${checked}`);
  });

  it("a subscribed READONLY_ADMIN receives no secret in events, even from a publisher that forgets to redact", async () => {
    const { client: sub } = await clientFor(ts, ["READONLY_ADMIN"]);
    await sub.call("core.subscribe", "user.query");
    await sub.call("core.subscribe", "api_key.query");
    await a.call("user.update", victim.id, { full_name: "Renamed For Events" });
    await a.call("api_key.update", keyId, { name: "redaction-key-2" });
    // A publisher that hands the whole entry over, secrets included.
    const full = await a.call<any>("user.get_instance", victim.id);
    ts.app.events.publish("user.query", "changed", victim.id, full);
    const rawKey = await a.call<any>("api_key.get_instance", keyId);
    ts.app.events.publish("api_key.query", "changed", keyId, rawKey);
    await sub.waitFor((n) => n.params?.collection === "api_key.query" && n.params?.fields?.name === "redaction-key-2", 2000);
    await new Promise((r) => setTimeout(r, 100));
    const events = sub.notifications.filter((n) => n.method === "collection_update");
    assert.ok(events.some((n) => n.params.fields?.full_name === "Renamed For Events"));
    const text = JSON.stringify(events);
    for (const s of [hash, nthash, keyhash, salt]) assert.ok(!text.includes(s), "no secret in any event");
    const forgotten = events.filter((n) => n.params.collection === "user.query" && n.params.fields?.unixhash !== undefined);
    assert.ok(forgotten.length >= 2 && forgotten.every((n) => n.params.fields.unixhash === REDACTED));
  });

  const assertNoHashIn = (text: string): void => {
    for (const s of [hash, nthash]) assert.ok(!text.includes(s), "no hash");
  };

  it("job results: core.bulk cannot carry a hash out through core.get_jobs, its filters or job events", async () => {
    const { client: ro } = await clientFor(ts, ["READONLY_ADMIN"]);
    await ro.call("core.set_options", { legacy_jobs: false });
    await a.call("core.set_options", { legacy_jobs: false });
    await ro.call("core.subscribe", "core.get_jobs");
    const out = await ro.call<any[]>("core.bulk", "user.query", [[[["id", "=", victim.id]], { get: true }], [[["unixhash", "^", "$6$"]]], [[], { select: [["unixhash", "h"]] }]]);
    assert.equal(out[0].result.unixhash, REDACTED);
    assert.equal(out[1].errname, "EPERM");
    assert.equal(out[2].errname, "EPERM");
    const jobs = await ro.call<any[]>("core.get_jobs", [["method", "=", "core.bulk"]]);
    assert.ok(jobs.length >= 1);
    assert.deepEqual(await ro.call<any[]>("core.get_jobs", [["result.0.result.unixhash", "^", "$6$"]]), [], "a filter on the result sees the redacted value");
    // A job run by a full administrator, listed to a full administrator, is not the reader's.
    await a.call("core.subscribe", "core.get_jobs");
    const adminOut = await a.call<any[]>("core.bulk", "user.query", [[[["id", "=", victim.id]], { get: true }]]);
    assert.equal(adminOut[0].result.unixhash, hash, "the caller itself gets its result as it may see it");
    await new Promise((r) => setTimeout(r, 100));
    // Listings and job events redact whoever asks (reference: core.get_jobs always redacts) …
    const listed = await a.call<any[]>("core.get_jobs", [
      ["method", "=", "core.bulk"],
      ["arguments.0", "=", "user.query"],
    ]);
    assert.ok(listed.length >= 1);
    assertNoHashIn(JSON.stringify([listed, a.notifications.filter((n) => n.params?.collection === "core.get_jobs")]));
    // … unless a session that may see the secrets asks for the raw result.
    const rawListed = await a.call<any[]>(
      "core.get_jobs",
      [
        ["method", "=", "core.bulk"],
        ["arguments.0", "=", "user.query"],
      ],
      { extra: { raw_result: true } },
    );
    assert.ok(JSON.stringify(rawListed).includes(hash));
    const rawForReader = await ro.call<any[]>("core.get_jobs", [], { extra: { raw_result: true } });
    assertNoHashIn(JSON.stringify(rawForReader));
    const text = JSON.stringify([await ro.call("core.get_jobs"), ro.notifications]);
    for (const s of [hash, nthash]) assert.ok(!text.includes(s), "no hash in job listings or job events");
  });

  it("show-once results (a generated password, a new API key, a token) leave only in the call's own answer, never in job listings or events", async () => {
    await a.call("core.set_options", { legacy_jobs: false });
    await a.call("core.subscribe", "core.get_jobs");
    const name = `once${store}${Date.now() % 100000}`;
    const made = await a.call<any[]>("core.bulk", "user.create", [[{ username: name, full_name: "Once", random_password: true, group_create: true, smb: false }]]);
    const password = made[0].result.password as string;
    assert.ok(password && password !== REDACTED, "the caller gets the generated password");
    const keys = await a.call<any[]>("core.bulk", "api_key.create", [[{ name: `${name}-k`, username: victim.username }]]);
    const key = keys[0].result.key as string;
    assert.match(key, /^\d+-/);
    const tokens = await a.call<any[]>("core.bulk", "auth.generate_token", [[]]);
    const token = tokens[0].result as string;
    assert.ok(token && token !== REDACTED);
    await new Promise((r) => setTimeout(r, 100));
    // Not in listings — not even the raw result a full administrator may ask for — nor in events.
    const listed = await a.call<any[]>("core.get_jobs", [["method", "=", "core.bulk"]]);
    const raw = await a.call<any[]>("core.get_jobs", [["method", "=", "core.bulk"]], { extra: { raw_result: true } });
    const text = JSON.stringify([listed, raw, a.notifications.filter((n) => n.params?.collection === "core.get_jobs")]);
    for (const [what, secret] of [
      ["password", password],
      ["key", key],
      ["token", token],
    ] as const)
      assert.ok(!text.includes(secret), `no ${what} in job listings or events`);
    assert.ok(
      raw.some((j) => j.result?.[0]?.result?.password === REDACTED),
      "the field is there, redacted",
    );
  });

  it("the secret-reference check covers declared nested paths and list wildcards (the generic rule)", () => {
    const fields = ["api_key", "credentials.bind_password"];
    assert.equal(findSecretReference(fields, [["credentials", "=", {}]], {}), "credentials.bind_password", "a parent contains the secret");
    assert.equal(findSecretReference(fields, [], { select: [["credentials.bind_password", "p"]] }), "credentials.bind_password");
    assert.equal(findSecretReference(fields, [], { order_by: ["nulls_last:-api_key.0"] }), "api_key");
    assert.equal(findSecretReference(["servers.*.pass"], [["servers.3.pass", "^", "a"]], {}), "servers.*.pass");
    assert.equal(findSecretReference(fields, [["credentials.host", "=", "x"]], { select: ["credentials.host", "name"] }), null, "siblings stay queryable");
    assert.equal(findSecretReference(fields, [["name", "in", ["api_key", "x", "y"]]], {}), null, "a value is not a field");
    // One segment, no dot: a nested secret is reached by its parent or a wildcard/index segment only.
    assert.equal(findSecretReference(fields, [["*", "=", "x"]], {}), "credentials.bind_password", "a wildcard segment");
    assert.equal(findSecretReference(fields, [], { order_by: ["0"] }), "credentials.bind_password", "an index segment");
    assert.equal(findSecretReference(fields, [["credentials\\", "=", "x"]], {}), null, "a backslash without a dot is part of the name");
    assert.equal(findSecretReference(fields, [["credential", "=", "x"]], { select: ["credentialsx"] }), null, "a near name");
  });
});
