// Property: random bad input to user.create, user.update and group.create is always answered with
// a structured validation error (-32602) whose `data.extra` names the offending fields, never
// crashes the server, and leaves the store exactly as it was (SPEC "Quality bars").

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { forEachStore, startServer, uniq, type TestServer } from "./harness.js";
import type { RpcClient, RpcCallError } from "../src/cli/client.js";

const PW = "Prop-pass-1234";

type Corruption = [string, (o: Record<string, unknown>) => void];

// Each corruption alone makes the input invalid; generated inputs apply one or more of them.
const badUsername = fc.oneof(
  fc.constantFrom("", "-lead", "has space", "x".repeat(33), "émile", "semi;colon", "a/b", "9digit"),
  fc.string({ minLength: 1, maxLength: 12 }).map((s) => `${s}!`),
  fc.constantFrom(5, null, true, [], {}),
);
const badFullName = fc.oneof(
  fc.string({ maxLength: 10 }).map((s) => `${s}:${s}`),
  fc.string({ maxLength: 10 }).map((s) => `${s}\n`),
  fc.constantFrom("", 7, null, ["x"]),
);
const badHome = fc.oneof(
  fc.constantFrom("relative/home", "", "/etc", "/proc/x/y", "/var/empty/../../etc:x"),
  fc.string({ minLength: 1, maxLength: 8 }).filter((s) => !s.startsWith("/")),
  fc.constant(17),
);
const badHomeMode = fc.oneof(fc.constantFrom("qqq", "077", "600", "1777", "8", "", "-700"), fc.constant(700));
const badShell = fc.oneof(fc.constantFrom("/bin/false-not-listed", "bash", ""), fc.constant(1));
const badEmail = fc.oneof(fc.constantFrom("no-at-sign", "@nolocal", "nodomain@"), fc.constant(3));
const badIdmap = fc.constantFrom(0, -1, 4294967295, "direct", 1.5);
const badSudo = fc.oneof(fc.constantFrom(["relative"], ["ALL", "/usr/bin/id"], ["/usr/bin/../bin/id"], ["/no/such/binary-xyz"], [""], "ALL"), fc.array(fc.integer(), { minLength: 1, maxLength: 2 }));
const extraKey = fc.constantFrom("bogus", "id", "builtin", "unixhash", "roles", "local");

const userCreateCorruptions = fc.array(
  fc.oneof(
    badUsername.map((v): Corruption => ["username", (o) => void (o.username = v)]),
    badFullName.map((v): Corruption => ["full_name", (o) => void (o.full_name = v)]),
    fc.constantFrom(-1, 90000001, 2.5, "12").map((v): Corruption => ["uid", (o) => void (o.uid = v)]),
    fc.constant<Corruption>(["group", (o) => void (o.group_create = false)]),
    fc.integer({ min: 5_000_000, max: 6_000_000 }).map((v): Corruption => ["group", (o) => void (o.group = v)]),
    fc.constantFrom([9_999_999], [100_000_001], ["x"]).map((v): Corruption => ["groups", (o) => void (o.groups = v)]),
    badHome.map((v): Corruption => ["home", (o) => void (o.home = v)]),
    badHomeMode.map((v): Corruption => ["home_mode", (o) => void (o.home_mode = v)]),
    badShell.map((v): Corruption => ["shell", (o) => void (o.shell = v)]),
    badEmail.map((v): Corruption => ["email", (o) => void (o.email = v)]),
    badIdmap.map((v): Corruption => ["userns_idmap", (o) => void (o.userns_idmap = v)]),
    badSudo.map((v): Corruption => ["sudo_commands", (o) => void (o.sudo_commands = v)]),
    badSudo.map((v): Corruption => ["sudo_commands_nopasswd", (o) => void (o.sudo_commands_nopasswd = v)]),
    // These three set every field they rely on, so that no combination becomes valid again.
    fc.constant<Corruption>(["password_disabled", (o) => Object.assign(o, { password_disabled: true, password: PW })]),
    fc.constant<Corruption>(["random_password", (o) => Object.assign(o, { random_password: true, password: PW })]),
    fc.constant<Corruption>(["password", (o) => Object.assign(o, { password: null, random_password: false, password_disabled: false })]),
    fc.constantFrom(1, "yes").map((v): Corruption => ["smb", (o) => void (o.smb = v)]),
    extraKey.map((k): Corruption => [k, (o) => void (o[k] = 1)]),
  ),
  { minLength: 1, maxLength: 4 },
);

const userUpdateCorruptions = fc.array(
  fc.oneof(
    badUsername.map((v): Corruption => ["username", (o) => void (o.username = v)]),
    badFullName.map((v): Corruption => ["full_name", (o) => void (o.full_name = v)]),
    fc.constantFrom(null, 9_999_999, "1").map((v): Corruption => ["group", (o) => void (o.group = v)]),
    fc.constantFrom([9_999_999], [100_000_001], [null]).map((v): Corruption => ["groups", (o) => void (o.groups = v)]),
    badHome.map((v): Corruption => ["home", (o) => void (o.home = v)]),
    badHomeMode.map((v): Corruption => ["home_mode", (o) => void (o.home_mode = v)]),
    badShell.map((v): Corruption => ["shell", (o) => void (o.shell = v)]),
    badEmail.map((v): Corruption => ["email", (o) => void (o.email = v)]),
    badIdmap.map((v): Corruption => ["userns_idmap", (o) => void (o.userns_idmap = v)]),
    badSudo.map((v): Corruption => ["sudo_commands", (o) => void (o.sudo_commands = v)]),
    fc.constant<Corruption>(["password_disabled", (o) => Object.assign(o, { password_disabled: true, password: PW })]),
    fc.constant<Corruption>(["random_password", (o) => Object.assign(o, { random_password: true, password: PW })]),
    fc.constant<Corruption>(["smb", (o) => void (o.smb = true)]), // enabling SMB without a new password
    fc.constant<Corruption>(["ssh_password_enabled", (o) => void (o.ssh_password_enabled = true)]), // home is /var/empty
    fc.constantFrom("uid", "group_create", "bogus", "id").map((k): Corruption => [k, (o) => void (o[k] = 1)]),
  ),
  { minLength: 1, maxLength: 4 },
);

const groupCreateCorruptions = fc.array(
  fc.oneof(
    fc.oneof(fc.constantFrom("", "-x", "sp ace", "ümlaut", "Users", "administrators"), fc.constantFrom(1, null)).map((v): Corruption => ["name", (o) => Object.assign(o, { name: v, smb: true })]),
    fc.constantFrom(-5, 90000001, 1.5, "100", 544).map((v): Corruption => ["gid", (o) => void (o.gid = v)]),
    fc.constantFrom([100_000_001], [9_999_999], [1], "x").map((v): Corruption => ["users", (o) => void (o.users = v)]),
    badSudo.map((v): Corruption => ["sudo_commands", (o) => void (o.sudo_commands = v)]),
    badSudo.map((v): Corruption => ["sudo_commands_nopasswd", (o) => void (o.sudo_commands_nopasswd = v)]),
    badIdmap.map((v): Corruption => ["userns_idmap", (o) => void (o.userns_idmap = v)]),
    fc.constantFrom(1, "no").map((v): Corruption => ["smb", (o) => void (o.smb = v)]),
    fc.constantFrom("bogus", "id", "builtin", "group").map((k): Corruption => [k, (o) => void (o[k] = 1)]),
  ),
  { minLength: 1, maxLength: 3 },
);

async function snapshot(ts: TestServer): Promise<string> {
  const db = ts.app.store.db;
  const [users, groups, memberships, counters] = await Promise.all([
    db.selectFrom("users").selectAll().orderBy("id").execute(),
    db.selectFrom("groups").selectAll().orderBy("id").execute(),
    db.selectFrom("memberships").selectAll().orderBy("group_id").orderBy("user_id").execute(),
    db.selectFrom("counters").select("key").where("key", "like", "reserve.%").orderBy("key").execute(),
  ]);
  return JSON.stringify({ users, groups, memberships, counters });
}

async function counts(ts: TestServer): Promise<string> {
  const db = ts.app.store.db;
  const n = async (t: "users" | "groups" | "memberships") =>
    Number(
      (
        await db
          .selectFrom(t)
          .select((eb) => eb.fn.countAll().as("n"))
          .executeTakeFirstOrThrow()
      ).n,
    );
  return `${await n("users")}/${await n("groups")}/${await n("memberships")}`;
}

/** The call must fail validation, naming fields under `prefix`. */
async function expectInvalid(p: Promise<unknown>, prefix: string, input: unknown): Promise<void> {
  let err: RpcCallError | null = null;
  try {
    await p;
  } catch (e) {
    err = e as RpcCallError;
  }
  assert.ok(err, `accepted bad input ${JSON.stringify(input)}`);
  assert.equal(err.name, "RpcCallError", `not an RPC error: ${err}`);
  assert.equal(err.code, -32602, `code ${err.code} (${err.data?.reason}) for ${JSON.stringify(input)}`);
  assert.ok(Array.isArray(err.extra) && err.extra.length > 0, "data.extra lists the problems");
  for (const [attr, message, errno] of err.extra) {
    assert.equal(typeof attr, "string");
    assert.ok(attr.startsWith(`${prefix}.`), `attribute ${attr} is not a field path under ${prefix}`);
    assert.equal(typeof message, "string");
    assert.equal(typeof errno, "number");
  }
}

forEachStore("account input property", (store) => {
  let ts: TestServer;
  let a: RpcClient;
  let target: { id: number };
  let baseline: string;

  before(async () => {
    ts = await startServer({ store });
    a = await ts.adminClient();
    target = await a.call("user.create", { username: uniq("target"), full_name: "Target", password: PW, group_create: true, smb: false });
    baseline = await snapshot(ts);
  });
  after(async () => {
    await ts.stop();
  });

  /** Every generated input fails validation and leaves the row counts as they were. */
  async function refusesAll(
    corruptionSets: fc.Arbitrary<Corruption[]>,
    numRuns: number,
    base: () => Record<string, unknown>,
    call: (input: Record<string, unknown>) => Promise<unknown>,
    prefix: string,
  ): Promise<void> {
    const before = await counts(ts);
    await fc.assert(
      fc.asyncProperty(corruptionSets, async (corruptions) => {
        const input = base();
        for (const [, apply] of corruptions) apply(input);
        await expectInvalid(call(input), prefix, input);
        assert.equal(await counts(ts), before);
      }),
      { numRuns },
    );
  }

  test("400 bad user.create inputs", () =>
    refusesAll(
      userCreateCorruptions,
      400,
      () => ({ username: uniq("p"), full_name: "Prop User", password: PW, group_create: true, smb: false }),
      (input) => a.call("user.create", input),
      "user_create",
    ));

  test("350 bad user.update inputs", () =>
    refusesAll(
      userUpdateCorruptions,
      350,
      () => ({}),
      (input) => a.call("user.update", target.id, input),
      "user_update",
    ));

  test("250 bad group.create inputs", () =>
    refusesAll(
      groupCreateCorruptions,
      250,
      () => ({ name: uniq("pg"), smb: false }),
      (input) => a.call("group.create", input),
      "group_create",
    ));

  test("the store is exactly as before and the server still answers", async () => {
    assert.equal(await snapshot(ts), baseline);
    assert.equal(await a.call("core.ping"), "pong");
  });
});
