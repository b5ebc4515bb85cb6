// Directory settings in the browser (issue 12 point 8): import the test slapd's CA, add an LDAP
// server with verify SSL on, test it (the step report), test a login (DN and groups, nothing
// created), set the options with a group mapping, preview the sync — then a directory user signs
// in through the sign-in page. A real slapd with TLS (test/slapd-harness.ts) and Chromium.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { adminSession, go, heading, newPage, shot, signIn, startEnv, stopEnv, userByName, type Env } from "./ui-helpers.js";
import { BASE_DN, BIND_DN, BIND_PASSWORD, GROUP, GROUPS_DN, PEOPLE, startSlapd, userDn, type Slapd } from "../slapd-harness.js";

let env: Env;
let slapd: Slapd;

describe("issue 12: directory settings in the browser", { timeout: 5 * 60_000 }, () => {
  before(async () => {
    slapd = await startSlapd();
    env = await startEnv();
  });
  after(async () => {
    await stopEnv(env);
    await slapd?.stop();
  });

  test("CA import, LDAP server add + test + test login, options with a mapping, sync preview, directory sign-in", { timeout: 180_000 }, async (t) => {
    const { api, admin: page } = await adminSession(env, t, "/certificate-authorities");
    await heading(page, "Certificate authorities");
    await page.getByTestId("add-ca").click();
    await page.getByTestId("ca-dialog").getByLabel("Name").fill("Test LDAP CA");
    await page.getByTestId("ca-dialog").getByLabel("Certificate (PEM)").fill(slapd.caPem);
    await page.getByTestId("ca-dialog").getByRole("button", { name: "Import" }).click();
    await page.getByTestId("ca-table").getByText("CN=Gatehouse Test LDAP CA").first().waitFor();
    await shot(page, "settings-certificate-authorities");

    await go(page, "/directory-services");
    await heading(page, "Directory services");
    await page.getByTestId("add-ldap-server").click();
    const dlg = page.getByTestId("ldap-server-dialog");
    await dlg.getByLabel("Hostname").fill(`127.0.0.1:${slapd.ldapsPort}`);
    await dlg.getByLabel("Domain", { exact: true }).fill(BASE_DN);
    await dlg.getByLabel("Group domain").fill(GROUPS_DN);
    await dlg.getByLabel(/^Verify SSL/).check();
    await dlg.getByLabel("Bind DN").fill(BIND_DN);
    await dlg.getByLabel("Bind password").fill(BIND_PASSWORD);
    await dlg.getByTestId("ldap-test-settings").click();
    await dlg.getByTestId("ldap-test-result").getByText("All steps succeeded.").waitFor();
    await dlg.getByRole("button", { name: "Save" }).click();
    await page.getByTestId("ldap-servers").getByText(`127.0.0.1:${slapd.ldapsPort}`).waitFor();
    const [server] = await api.call<any[]>("ldap.server.query");
    assert.equal(server.verify_ssl, true);
    assert.equal(server.bind_password_set, true);

    // Row actions are in the row's menu (issue 14 point 7).
    await page.getByRole("button", { name: `Actions for 127.0.0.1:${slapd.ldapsPort}` }).click();
    await page.getByRole("button", { name: `Test 127.0.0.1:${slapd.ldapsPort}` }).click();
    const report = page.getByTestId("ldap-test-report");
    await report.getByText("All steps succeeded.").waitFor();
    for (const step of ["CONNECT", "TLS", "BIND", "SEARCH"]) await report.locator(`li[data-step=${step}].ok`).waitFor();
    await shot(page, "settings-ldap-test-report");
    await report.getByRole("button", { name: /close/i }).first().click();

    // Options: creation on, cn=staff → a team.
    const team = (await env.ts.app.store.db.insertInto("teams").values({ name: "ldap-staff" }).returning("id").executeTakeFirstOrThrow()).id;
    await page.getByLabel(/^Allow LDAP user creation/).check();
    await page.getByLabel("Group mappings").fill(`${GROUP.staff} = ${team}`);
    await page.getByTestId("ldap-options-save").click();
    await page.getByText("LDAP options saved.").waitFor();
    assert.deepEqual((await api.call<any>("ldap.config")).team_mappings, [{ group_dn: GROUP.staff, team_ids: [team] }]);
    await api.call("privilege.create", { name: "ldap-staff-readers", ds_groups: [GROUP.staff], roles: ["READONLY_ADMIN"], web_shell: false });

    await page.getByTestId("ldap-test-login").click();
    const probe = page.getByTestId("ldap-login-dialog");
    await probe.getByLabel("Username").fill("alice");
    await probe.getByLabel("Password").fill(PEOPLE.alice.password);
    await probe.getByRole("button", { name: "Test" }).click();
    const r = probe.getByTestId("ldap-login-report");
    await r.getByText(userDn("alice")).waitFor();
    await r.getByText(GROUP.staff).waitFor();
    await r.getByText(/would be created/).waitFor();
    await r.getByText("ldap-staff").waitFor();
    await shot(page, "settings-ldap-test-login");
    assert.equal(await userByName(api, "alice"), undefined, "test login created nothing");
    await probe.getByRole("button", { name: "Cancel" }).click();

    // The browser sign-in of a directory user creates the record and applies the mapping.
    const { ctx, page: userPage } = await newPage(env);
    t.after(() => ctx.close());
    await signIn(env, userPage, "alice", PEOPLE.alice.password);
    await userPage.getByTestId("current-user").getByText("alice").waitFor();
    const alice = await userByName(api, "alice");
    assert.equal(alice.source, "LDAP");

    await page.getByTestId("ldap-sync-preview").click();
    await page
      .getByTestId("ldap-sync-report")
      .getByText(/Preview: 1 directory users, 0 with changes/)
      .waitFor();
    await shot(page, "settings-ldap-options");
  });

  test("the user form's LDAP or AD username: a directory user pre-created under another local name signs in with the directory's", { timeout: 120_000 }, async (t) => {
    const { api, admin: page } = await adminSession(env, t, "/users/new");
    // Self-contained: a directory server (verify off) unless the test above left one.
    if (!(await api.call<any[]>("ldap.server.query")).length) {
      await api.call("ldap.server.create", { hostname: `127.0.0.1:${slapd.ldapsPort}`, domain: BASE_DN, group_domain: GROUPS_DN, bind_dn: BIND_DN, bind_password: BIND_PASSWORD });
    }
    await api.call("privilege.create", { name: "ldap-devs-readers", ds_groups: [GROUP.devs], roles: ["READONLY_ADMIN"], web_shell: false });
    await heading(page, "Add user");
    const form = page.getByTestId("user-form");
    await form.getByLabel("Full name").fill("Carol Here");
    await form.getByLabel("Username", { exact: true }).fill("carol-here");
    await form.getByLabel("Directory (LDAP) user").check();
    // A directory user has no local password: no password fields, no SMB.
    assert.equal(await form.getByTestId("password-fields").count(), 0);
    assert.equal(await form.getByLabel("SMB user").count(), 0);
    await form.getByLabel("LDAP or AD username").fill("carol");
    await shot(page, "user-form-directory-user");
    await page.getByTestId("save-user").click();
    await page.getByText("User carol-here created.").first().waitFor();
    const made = await userByName(api, "carol-here");
    assert.equal(made.source, "LDAP");
    assert.equal(made.ldap_username, "carol");
    assert.equal(made.smb, false);

    // carol signs in under the local name with the directory's password for `carol`.
    const { ctx, page: userPage } = await newPage(env);
    t.after(() => ctx.close());
    await signIn(env, userPage, "carol-here", PEOPLE.carol.password);
    await userPage.getByTestId("current-user").getByText("carol-here").waitFor();

    // The edit form shows the link and changes it; emptied, the local name is the directory's.
    await go(page, `/users/${made.id}/edit`);
    await heading(page, "Edit user carol-here");
    const field = form.getByLabel("LDAP or AD username");
    assert.equal(await field.inputValue(), "carol");
    assert.equal(await form.getByLabel("Directory (LDAP) user").isChecked(), true);
    assert.equal(await form.getByLabel("Directory (LDAP) user").isDisabled(), true);
    await field.fill("bob");
    await page.getByTestId("save-user").click();
    await page.getByText("User carol-here saved.").first().waitFor();
    assert.equal((await userByName(api, "carol-here")).ldap_username, "bob");
    const c = await env.ts.client();
    assert.equal((await c.login("carol-here", PEOPLE.carol.password)).response_type, "AUTH_ERR");
    assert.equal((await c.login("carol-here", PEOPLE.bob.password)).response_type, "SUCCESS");
    await go(page, `/users/${made.id}/edit`);
    await heading(page, "Edit user carol-here");
    await form.getByLabel("LDAP or AD username").fill("");
    await page.getByTestId("save-user").click();
    await page.getByText("User carol-here saved.").first().waitFor();
    assert.equal((await userByName(api, "carol-here")).ldap_username, null);
  });
});
