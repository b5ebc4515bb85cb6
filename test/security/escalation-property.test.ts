// Threat: privilege escalation, by sequences of calls (issue 9 acceptance: "a property test
// generates role sets and checks that no sequence of calls gives any account a role its caller
// lacks"). fast-check draws a caller's role set and a sequence of group-membership changes,
// privilege creates/updates, user group updates and API-key creates; each call runs as the caller
// against a real server (both stores). After every call, no account may have gained — or lost — a
// role the caller does not hold, and no new or changed API key may carry such a role.

import { after, before, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { forEachStore, type TestServer } from "../harness.js";
import { loginAs, makeUser, randomName, startAsAdmin, type TestUser } from "../auth-helpers.js";
import { expandRoles } from "../../src/access/roles.js";
import type { RpcClient } from "../../src/cli/client.js";

const CALLER_ROLES = ["ACCOUNT_WRITE", "PRIVILEGE_WRITE", "API_KEY_WRITE", "READONLY_ADMIN", "SHARING_ADMIN", "ACCOUNT_READ", "PRIVILEGE_READ", "AUTH_SESSIONS_WRITE"] as const;
const GRANTABLE = [...CALLER_ROLES, "FULL_ADMIN", "SYSTEM_AUDIT_READ", "REPLICATION_ADMIN"] as const;
const RUNS = Number(process.env.GATEHOUSE_PROPERTY_RUNS ?? 12);

type Pick3 = 0 | 1 | 2;
type Command =
  | { kind: "groupMembers"; group: number; users: Pick3[]; add: boolean }
  | { kind: "userGroups"; user: Pick3; groups: number[] }
  | { kind: "privCreate"; groups: number[]; roles: string[] }
  | { kind: "privUpdate"; priv: number; groups: number[] | null; roles: string[] | null }
  | { kind: "keyCreate"; owner: Pick3; roles: string[] | null };

/** Indexes into the run's group pool: fresh g1 (with a random privilege), fresh g2, the caller's own group, then 544, 951, 952. */
const GROUPS = 6;
const command: fc.Arbitrary<Command> = fc.oneof(
  fc.record({ kind: fc.constant("groupMembers" as const), group: fc.nat(GROUPS - 1), users: fc.subarray([0, 1, 2] as Pick3[]), add: fc.boolean() }),
  fc.record({ kind: fc.constant("userGroups" as const), user: fc.constantFrom<Pick3>(0, 1, 2), groups: fc.subarray([0, 1, 2, 3, 4, 5]) }),
  fc.record({ kind: fc.constant("privCreate" as const), groups: fc.subarray([0, 1, 2, 3]), roles: fc.subarray([...GRANTABLE]) }),
  fc.record({
    kind: fc.constant("privUpdate" as const),
    priv: fc.nat(3),
    groups: fc.option(fc.subarray([0, 1, 2, 3]), { nil: null }),
    roles: fc.option(fc.subarray([...GRANTABLE]), { nil: null }),
  }),
  fc.record({ kind: fc.constant("keyCreate" as const), owner: fc.constantFrom<Pick3>(0, 1, 2), roles: fc.option(fc.subarray([...GRANTABLE]), { nil: null }) }),
);

forEachStore("escalation by call sequences (property)", (store) => {
  let ts: TestServer;
  let a: RpcClient;
  const builtinGroups: { id: number; gid: number }[] = [];

  before(async () => {
    ({ ts, a } = await startAsAdmin(store));
    for (const name of ["builtin_administrators", "truenas_readonly_administrators", "truenas_sharing_administrators"]) {
      const [g] = await a.call<any[]>("group.query", [["name", "=", name]]);
      builtinGroups.push({ id: g.id, gid: g.gid });
    }
  });
  after(() => ts.stop());

  /** Expanded roles of every local user, and the effective roles of every API key, as stored now. */
  async function snapshot(): Promise<{ users: Map<number, Set<string>>; keys: Map<number, { roles: Set<string>; sig: string }> }> {
    const users = new Map<number, Set<string>>();
    for (const u of await a.call<any[]>("user.query", [], { select: ["id", "roles"] })) users.set(u.id, new Set(expandRoles(u.roles)));
    const keys = new Map<number, { roles: Set<string>; sig: string }>();
    for (const k of await a.call<any[]>("api_key.query")) {
      const owner = k.user_identifier ?? null;
      const ownerRoles = owner !== null ? users.get(owner) : undefined;
      const roles = k.roles ? new Set(expandRoles(k.roles)) : new Set(ownerRoles ?? []);
      keys.set(k.id, { roles, sig: JSON.stringify([k.roles, k.username]) });
    }
    return { users, keys };
  }

  it("no sequence of calls gives (or takes from) any account a role its caller lacks", async () => {
    await fc.assert(
      fc.asyncProperty(fc.subarray([...CALLER_ROLES], { minLength: 1 }), fc.subarray([...GRANTABLE]), fc.array(command, { minLength: 1, maxLength: 5 }), async (callerRoles, g1Roles, commands) => {
        // The world of one run: the caller, two plain users, two fresh groups (g1 with a privilege).
        const me = await makeUser(ts, { roles: callerRoles });
        const others: TestUser[] = [await makeUser(ts), await makeUser(ts)];
        const people = [me, ...others];
        const g1 = await a.call<any>("group.get_instance", await a.call<number>("group.create", { name: randomName("g"), smb: false }));
        const g2 = await a.call<any>("group.get_instance", await a.call<number>("group.create", { name: randomName("g"), smb: false }));
        const p1 = await a.call<any>("privilege.create", { name: randomName("p"), local_groups: [g1.gid], roles: g1Roles, web_shell: false });
        const [ownPriv] = await a.call<any[]>("privilege.query", [["name", "=", `${me.username}_priv`]]);
        const groups = [{ id: g1.id, gid: g1.gid }, { id: g2.id, gid: g2.gid }, { id: me.groupId, gid: me.gid }, ...builtinGroups];
        const privs: number[] = [p1.id, ownPriv.id];
        const caller = await loginAs(ts, me);

        for (const cmd of commands) {
          // A caller that took away its own last role has lost all access: its session ended
          // (session lifecycle), so the rest of its sequence cannot run.
          const info = await caller.call<any>("auth.me").catch((err: Error) => {
            if (/connection closed \(4001[ )]/.test(err.message)) return null;
            throw err;
          });
          if (!info) break;
          const held = new Set<string>(info.privilege.roles);
          const before = await snapshot();
          let ok = true;
          try {
            await run(caller, cmd, { people, groups, privs });
          } catch {
            ok = false;
          }
          const afterSnap = await snapshot();
          for (const [id, roles] of afterSnap.users) {
            const was = before.users.get(id) ?? new Set<string>();
            const gained = [...roles].filter((r) => !was.has(r) && !held.has(r));
            const lost = [...was].filter((r) => !roles.has(r) && !held.has(r));
            assert.deepEqual({ gained, lost }, { gained: [], lost: [] }, `user ${id} after ${JSON.stringify(cmd)} (ok=${ok}) by a caller holding ${[...callerRoles]}`);
          }
          for (const [id, k] of afterSnap.keys) {
            const was = before.keys.get(id);
            if (was && was.sig === k.sig) continue; // untouched by this call
            const beyond = [...k.roles].filter((r) => !held.has(r));
            assert.deepEqual(beyond, [], `API key ${id} after ${JSON.stringify(cmd)} by a caller holding ${[...callerRoles]}`);
          }
        }
        await caller.close();
      }),
      { numRuns: RUNS, endOnFailure: true },
    );
  });
});

async function run(c: RpcClient, cmd: Command, w: { people: TestUser[]; groups: { id: number; gid: number }[]; privs: number[] }): Promise<void> {
  switch (cmd.kind) {
    case "groupMembers": {
      const g = w.groups[cmd.group]!;
      // The caller needs ACCOUNT_READ to see the members; failing that, it sends only its picks.
      const current: number[] = await c.call<any>("group.get_instance", g.id).then(
        (x) => x.users,
        () => [],
      );
      const picked = cmd.users.map((i) => w.people[i]!.id);
      const users = cmd.add ? [...new Set([...current, ...picked])] : current.filter((u) => !picked.includes(u));
      await c.call("group.update", g.id, { users });
      return;
    }
    case "userGroups":
      await c.call("user.update", w.people[cmd.user]!.id, { groups: cmd.groups.map((i) => w.groups[i]!.id) });
      return;
    case "privCreate": {
      const p = await c.call<any>("privilege.create", { name: randomName("p"), local_groups: cmd.groups.map((i) => w.groups[i]!.gid), roles: cmd.roles, web_shell: false });
      w.privs.push(p.id);
      return;
    }
    case "privUpdate": {
      const id = w.privs[cmd.priv % w.privs.length]!;
      await c.call("privilege.update", id, {
        ...(cmd.groups ? { local_groups: cmd.groups.map((i) => w.groups[i]!.gid) } : {}),
        ...(cmd.roles ? { roles: cmd.roles } : {}),
      });
      return;
    }
    case "keyCreate":
      await c.call("api_key.create", { name: randomName("k"), username: w.people[cmd.owner]!.username, roles: cmd.roles });
      return;
  }
}
