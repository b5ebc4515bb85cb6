// Browser tests of the fleet access screens (issue 11 point 8, seed 003's flow as far as teams and
// system access go): an administrator makes a system group, a team with a member and a
// read/write grant, gives another user a system of their own (System Access: ADD SYSTEM, read)
// and a team on the user form, then reads the Effective access view per user and per system
// with the explanation; the user without privileges then signs in and sees no account screens.
// Every place that lists a user × system pair has its "Why?" (issue 11 point 6): the user form's
// System Access rows, the Effective access view, My systems and a system's page.

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { adminSession, go, heading, newPage, shot, signIn, startEnv, stopEnv, type Env } from "./ui-helpers.js";
import { addSystem } from "../fleet-access-helpers.js";

const PASSWORD = "Fleet-access-1234";
let env: Env;

before(async () => {
  env = await startEnv();
});
after(() => stopEnv(env));

test("system group, team, user form fleet sections, effective access; a fleet user signs in", { timeout: 240_000 }, async (t) => {
  const web1 = await addSystem(env.ts, "web1");
  const web2 = await addSystem(env.ts, "web2");
  const { api, admin: page } = await adminSession(env, t, "/system-groups");
  const alice = await api.call<any>("user.create", { username: "alice", full_name: "Alice", password: PASSWORD, group_create: true });
  const bob = await api.call<any>("user.create", { username: "bob", full_name: "Bob", password: PASSWORD, group_create: true });

  // System groups: add "prod" with web1.
  await heading(page, "System groups");
  await page.getByTestId("add-system-group").click();
  const sg = page.getByTestId("system-group-dialog");
  await sg.getByLabel("Name").fill("prod");
  await sg.getByLabel("web1").check();
  await page.getByTestId("save-system-group").click();
  await page.getByTestId("system-groups-table").getByRole("row", { name: /prod/ }).getByText("web1").waitFor();
  await shot(page, "fleet-system-groups");
  const [prod] = await api.call<any[]>("fleet.system_group.query", [["name", "=", "prod"]]);
  assert.deepEqual(prod.systems, [web1]);

  // Teams: "ops" with alice, read/write on web1.
  await go(page, "/teams");
  await heading(page, "Teams");
  await page.getByTestId("add-team").click();
  const td = page.getByTestId("team-dialog");
  await td.getByLabel("Name").fill("ops");
  await td.getByRole("button", { name: "Add alice" }).click();
  await td.getByTestId("team-systems-add").click();
  await td.getByTestId("team-systems").getByLabel("System 1").selectOption({ label: "web1" });
  await td.getByTestId("team-systems").getByRole("radio", { name: "Read/write" }).check();
  await page.getByTestId("save-team").click();
  const row = page.getByTestId("teams-table").getByRole("row", { name: /ops/ });
  await row.getByText("web1 (Read/write)").waitFor();
  await row.getByText("alice").waitFor();
  await shot(page, "fleet-teams");
  const [ops] = await api.call<any[]>("team.query", [["name", "=", "ops"]]);
  assert.deepEqual([ops.members, ops.systems], [[alice.id], [{ system: web1, access: "READ_WRITE" }]]);

  // The user form: bob gets web2 (read) of his own and joins ops.
  await go(page, `/users/${bob.id}/edit`);
  await heading(page, "Edit user bob");
  const fleet = page.getByTestId("user-fleet");
  await fleet.getByTestId("user-teams").getByLabel("ops").check();
  await fleet.getByTestId("user-systems-add").click();
  await fleet.getByTestId("user-systems").getByLabel("System 1").selectOption({ label: "web2" });
  await fleet.getByTestId("user-systems").getByRole("radio", { name: "Read", exact: true }).check();
  await fleet.getByTestId("user-system-groups-add").click();
  await fleet.getByTestId("user-system-groups").getByLabel("System group 1").selectOption({ label: "prod" });
  await shot(page, "fleet-user-form", true);
  await page.getByTestId("save-user").click();
  await heading(page, "Users");
  const b = await api.call<any>("user.get_instance", bob.id);
  assert.deepEqual(b.teams, [ops.id]);
  assert.deepEqual(b.systems, [{ system: web2, access: "READ" }]);
  assert.deepEqual(b.system_groups, [{ system_group: prod.id, access: "READ" }]);

  // Removing a grant with the minus button. The saved web2 row explains itself.
  await go(page, `/users/${bob.id}/edit`);
  await heading(page, "Edit user bob");
  const web2Row = page.getByTestId("user-systems-row").filter({ has: page.locator("option:checked", { hasText: "web2" }) });
  await web2Row.getByText("Why?").click();
  await web2Row
    .getByTestId("why-access-text")
    .getByText(/bob has READ on web2: decided at level 1/)
    .waitFor();
  await shot(page, "fleet-user-form-why", true);
  await page.getByTestId("user-system-groups").getByRole("button", { name: "Remove prod" }).click();
  await page.getByTestId("save-user").click();
  await heading(page, "Users");
  assert.deepEqual((await api.call<any>("user.get_instance", bob.id)).system_groups, []);

  // Effective access per user: web1 from the team (read/write), web2 his own (read).
  await go(page, `/effective-access?user=${bob.id}`);
  await heading(page, "Effective access");
  const table = page.getByTestId("access-table");
  await table
    .getByRole("row", { name: /web1/ })
    .getByText(/bob has READ_WRITE on web1: decided at level 3/)
    .waitFor();
  await table
    .getByRole("row", { name: /web2/ })
    .getByText(/bob has READ on web2: decided at level 1/)
    .waitFor();
  await shot(page, "fleet-effective-access-user");
  // Per system: alice and bob on web1.
  await go(page, `/effective-access?system=${web1}`);
  // Computed for every user when the page opens: allow for a loaded CI machine.
  await table
    .getByRole("row", { name: /alice/ })
    .getByText(/Read\/write/)
    .first()
    .waitFor({ timeout: 45_000 });
  await table.getByRole("row", { name: /bob/ }).waitFor();
  await shot(page, "fleet-effective-access-system");

  // Bob has no privilege, but access to systems: he signs in and sees no account screens.
  const { ctx, page: bp } = await newPage(env);
  t.after(() => ctx.close());
  await signIn(env, bp, "bob", PASSWORD);
  await bp.getByTestId("current-user").getByText("bob").waitFor();
  assert.equal(await bp.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Users" }).count(), 0);
  assert.equal(await bp.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Teams" }).count(), 0);
  await shot(bp, "fleet-user-signed-in");

  // My systems: beside each of his systems, why he has that access.
  await go(bp, "/my-systems");
  await heading(bp, "My systems");
  const mine = bp.getByTestId("my-systems-table");
  await mine.getByTestId("access-web1").getByText("Read/write").waitFor();
  const web1Row = mine.getByRole("row", { name: /web1/ });
  await web1Row.getByText("Why?").click();
  await web1Row.getByText(/bob has READ_WRITE on web1: decided at level 3/).waitFor();
  const web2Mine = mine.getByRole("row", { name: /web2/ });
  await web2Mine.getByText("Why?").click();
  await web2Mine.getByText(/bob has READ on web2: decided at level 1/).waitFor();
  await shot(bp, "fleet-my-systems-why");
  // A system's page: his access there, and why.
  await go(bp, `/my-systems/${web2}`);
  await bp.getByTestId("system-access").getByText("Read").waitFor();
  await bp.getByTestId("why-access").getByText("Why?").click();
  await bp
    .getByTestId("why-access-text")
    .getByText(/bob has READ on web2: decided at level 1/)
    .waitFor();
  // His profile lists his own sessions (auth.sessions answers a fleet user with its own rows only).
  await go(bp, "/profile");
  const sessions = bp.getByRole("region", { name: "My sessions" });
  await sessions.getByText("This session").waitFor();
  assert.equal(await sessions.getByText("admin", { exact: true }).count(), 0);
});
