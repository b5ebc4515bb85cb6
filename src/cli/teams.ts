// Readable fleet access subcommands: `gatehouse team list|show|add|delete|add-member|remove-member|
// grant|revoke` and `gatehouse access explain USER SYSTEM`. Thin clients of team.*, user.query,
// fleet.system.query, fleet.system_group.query and fleet.access.explain: every rule and message
// is the server's (a FLEET_WRITE caller still grants only what it holds).

import type { Command } from "commander";
import type { RpcClient } from "./client.js";
import { addClientOptions, printJson, type ClientOptions, withClient } from "./commands.js";
import { formatTable } from "./accounts.js";

type Opts = ClientOptions & Record<string, unknown>;
type Access = "READ" | "READ_WRITE";

interface Team {
  id: number;
  name: string;
  members: number[];
  systems: { system: number; access: Access }[];
  system_groups: { system_group: number; access: Access }[];
}

/** An id from a name (or a number given as such), through `method`'s query. */
async function idOf(c: RpcClient, method: string, field: string, ref: string, what: string): Promise<number> {
  const rows = await c.call<{ id: number }[]>(method, [[field, "=", ref]]);
  if (rows[0]) return rows[0].id;
  if (/^\d+$/.test(ref)) return Number(ref);
  throw new Error(`${what} ${ref} does not exist (or you may not see it)`);
}

const teamId = (c: RpcClient, ref: string) => idOf(c, "team.query", "name", ref, "team");
const userId = (c: RpcClient, ref: string) => idOf(c, "user.query", "username", ref, "user");
const systemId = (c: RpcClient, ref: string) => idOf(c, "fleet.system.query", "name", ref, "system");
const groupId = (c: RpcClient, ref: string) => idOf(c, "fleet.system_group.query", "name", ref, "system group");

function access(v: unknown): Access {
  const a = String(v ?? "READ")
    .toUpperCase()
    .replace(/[/-]/g, "_");
  if (a !== "READ" && a !== "READ_WRITE") throw new Error(`--access must be READ or READ_WRITE (got ${String(v)})`);
  return a;
}

const collect = (v: string, prev: string[] = []) => [...prev, v];

/** `NAME[=ACCESS]` pairs as grants. */
async function grants<K extends string>(c: RpcClient, specs: string[] | undefined, key: K, resolve: (c: RpcClient, ref: string) => Promise<number>) {
  const out: ({ access: Access } & Record<K, number>)[] = [];
  for (const s of specs ?? []) {
    const i = s.lastIndexOf("=");
    const [ref, acc] = i > 0 ? [s.slice(0, i), s.slice(i + 1)] : [s, "READ"];
    out.push({ [key]: await resolve(c, ref), access: access(acc) } as { access: Access } & Record<K, number>);
  }
  return out;
}

function printTeam(t: Team, o: Opts): void {
  if (o.json) return void printJson(t);
  const sys = t.systems.map((s) => `${s.system}:${s.access}`).join(" ") || "-";
  const grp = t.system_groups.map((g) => `${g.system_group}:${g.access}`).join(" ") || "-";
  process.stdout.write(`${t.name} (id ${t.id})\n  members: ${t.members.join(", ") || "-"}\n  systems: ${sys}\n  system groups: ${grp}\n`);
}

function registerTeamCommands(program: Command): void {
  const team = program.command("team").description("Teams: members and their access to systems and system groups (fleet)");
  addClientOptions(team.command("list").description("List teams").option("--json", "print JSON")).action((o: Opts) =>
    withClient(o, async (c) => {
      const rows = await c.call<Team[]>("team.query");
      if (o.json) return void printJson(rows);
      process.stdout.write(
        formatTable(
          ["ID", "NAME", "MEMBERS", "SYSTEMS", "GROUPS"],
          rows.map((t) => [String(t.id), t.name, String(t.members.length), String(t.systems.length), String(t.system_groups.length)]),
        ),
      );
    }),
  );
  addClientOptions(team.command("show <team>").description("Show a team").option("--json", "print JSON")).action((ref: string, o: Opts) =>
    withClient(o, async (c) => printTeam(await c.call<Team>("team.get_instance", await teamId(c, ref)), o)),
  );
  addClientOptions(
    team
      .command("add <name>")
      .description("Create a team")
      .option("--member <user>", "a member (repeatable)", collect)
      .option("--system <name[=ACCESS]>", "a grant on a system, READ (default) or READ_WRITE (repeatable)", collect)
      .option("--group <name[=ACCESS]>", "a grant on a system group (repeatable)", collect)
      .option("--json", "print JSON"),
  ).action((name: string, o: Opts) =>
    withClient(o, async (c) => {
      const members = await Promise.all(((o.member as string[] | undefined) ?? []).map((u) => userId(c, u)));
      const data = { name, members, systems: await grants(c, o.system as string[], "system", systemId), system_groups: await grants(c, o.group as string[], "system_group", groupId) };
      printTeam(await c.call<Team>("team.create", data), o);
    }),
  );
  addClientOptions(team.command("delete <team>").description("Delete a team and its grants")).action((ref: string, o: Opts) =>
    withClient(o, async (c) => {
      await c.call("team.delete", await teamId(c, ref));
      process.stdout.write(`deleted ${ref}\n`);
    }),
  );
  const edit = (verb: string, desc: string, change: (t: Team, c: RpcClient, arg: string, o: Opts) => Promise<Partial<Team>>) =>
    addClientOptions(
      team
        .command(`${verb} <team> <what>`)
        .description(desc)
        .option("--access <access>", "READ (default) or READ_WRITE")
        .option("--group", "<what> names a system group")
        .option("--json", "print JSON"),
    ).action((ref: string, what: string, o: Opts) =>
      withClient(o, async (c) => {
        const t = await c.call<Team>("team.get_instance", await teamId(c, ref));
        printTeam(await c.call<Team>("team.update", t.id, await change(t, c, what, o)), o);
      }),
    );
  edit("add-member", "Add a user to a team", async (t, c, u) => ({ members: [...new Set([...t.members, await userId(c, u)])] }));
  edit("remove-member", "Remove a user from a team", async (t, c, u) => {
    const id = await userId(c, u);
    return { members: t.members.filter((m) => m !== id) };
  });
  edit("grant", "Grant the team access to a system (or, with --group, a system group)", async (t, c, what, o) => {
    if (o.group) {
      const id = await groupId(c, what);
      return { system_groups: [...t.system_groups.filter((g) => g.system_group !== id), { system_group: id, access: access(o.access) }] };
    }
    const id = await systemId(c, what);
    return { systems: [...t.systems.filter((s) => s.system !== id), { system: id, access: access(o.access) }] };
  });
  edit("revoke", "Take away the team's grant on a system (or, with --group, a system group)", async (t, c, what, o) => {
    if (o.group) {
      const id = await groupId(c, what);
      return { system_groups: t.system_groups.filter((g) => g.system_group !== id) };
    }
    const id = await systemId(c, what);
    return { systems: t.systems.filter((s) => s.system !== id) };
  });
}

function registerAccessCommands(program: Command): void {
  const acc = program.command("access").description("Fleet access: why a user has the access it has");
  addClientOptions(acc.command("explain <user> <system>").description("Explain a user's effective access to a system").option("--json", "print JSON")).action((user: string, system: string, o: Opts) =>
    withClient(o, async (c) => {
      const ref = (s: string) => (/^\d+$/.test(s) ? Number(s) : s);
      const ex = await c.call<{ text: string }>("fleet.access.explain", ref(user), ref(system));
      process.stdout.write(o.json ? `${JSON.stringify(ex, null, 2)}\n` : `${ex.text}\n`);
    }),
  );
}

export function registerFleetAccessCommands(program: Command): void {
  registerTeamCommands(program);
  registerAccessCommands(program);
}
