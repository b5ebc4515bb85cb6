// Forgot password end to end in the browser (issue 12 points 7 and 8): the sign-in page's
// "Forgot password?" asks for a code, the code is read from the message a real SMTP server on
// loopback received, it signs in, the new password is chosen, and the old password and the code
// are dead. Settings → Mail sends a test message to the same server.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { clientWithRoles } from "../harness.js";
import { PASSWORD, adminSession, heading, newPage, shot, startEnv, stopEnv, type Env } from "./ui-helpers.js";
import { codeIn, configureMail, startSmtp, verifyAddress, type TestSmtp } from "../mail-helpers.js";

const NEW_PASSWORD = "Fresh-pass-word-42!";

let env: Env;
let smtp: TestSmtp;

describe("issue 12: password reset and mail settings in the browser", { timeout: 4 * 60_000 }, () => {
  before(async () => {
    env = await startEnv();
    smtp = await startSmtp();
    await configureMail(await env.ts.adminClient(), smtp.port);
  });
  after(async () => {
    await stopEnv(env);
    await smtp?.close();
  });

  test("Forgot password: code from the mail, sign in with it, choose a new password", { timeout: 120_000 }, async (t) => {
    const api = await env.ts.adminClient();
    const u = await clientWithRoles(env.ts, ["READONLY_ADMIN"], { password: PASSWORD });
    await u.client.close();
    const email = await verifyAddress(api, smtp, { id: u.userId, username: u.username });
    const { ctx, page } = await newPage(env);
    t.after(() => ctx.close());
    await page.goto(env.ts.httpUrl + "/");
    await page.getByRole("button", { name: "Forgot password?" }).click();
    await heading(page, "Reset your password");
    await page.locator("#reset-username").fill(u.username);
    const before = smtp.received.length;
    await page.getByRole("button", { name: "Send reset code" }).click();
    await page.getByTestId("reset-sent").waitFor();
    await shot(page, "reset-code-step");
    const mail = await smtp.waitFor((m) => smtp.received.indexOf(m) >= before && m.to.includes(email) && /Password Reset/.test(m.subject));
    await page.locator("#reset-code").fill(codeIn(mail));
    await page.getByTestId("reset-code-submit").click();
    await heading(page, "Choose a new password");
    await page.getByLabel("New password", { exact: true }).fill(NEW_PASSWORD);
    await page.getByLabel("Confirm new password").fill(NEW_PASSWORD);
    await page.getByRole("button", { name: "Save new password" }).click();
    await page.getByRole("button", { name: "Sign out" }).waitFor();
    // A notice went to the address; the old password and the code no longer sign in.
    await smtp.waitFor((m) => m.to.includes(email) && /password was changed/.test(m.subject));
    const c = await env.ts.client();
    assert.equal((await c.login(u.username, PASSWORD)).response_type, "AUTH_ERR");
    assert.equal((await c.login(u.username, codeIn(mail))).response_type, "AUTH_ERR");
    assert.equal((await c.login(u.username, NEW_PASSWORD)).response_type, "SUCCESS");
  });

  test("User form: the administrator pastes the mailed code (seed 002) and turns on e-mailed codes", { timeout: 90_000 }, async (t) => {
    const { api, admin } = await adminSession(env, t, "/users");
    const u = await clientWithRoles(env.ts, ["READONLY_ADMIN"], { password: PASSWORD });
    await u.client.close();
    const email = `${u.username}@example.test`;
    const before = smtp.received.length;
    await api.call("user.update", u.userId, { email });
    const mail = await smtp.waitFor((m) => smtp.received.indexOf(m) >= before && m.to.includes(email) && /Verify/.test(m.subject));
    await admin.goto(`${env.ts.httpUrl}/users/${u.userId}/edit`);
    await admin.getByTestId("email-status").getByText("Not verified", { exact: false }).waitFor();
    await admin.getByLabel("Confirmation code").fill(codeIn(mail));
    await admin.getByTestId("verify-email").click();
    await admin.getByTestId("email-status").getByText("Verified").waitFor();
    await admin.getByTestId("use-email-codes").click();
    await admin.getByText("Sign-in codes will be sent by e-mail.").waitFor();
    await shot(admin, "user-email-verified");
    const row = await env.ts.app.store.db.selectFrom("users").select(["email_verified", "twofactor_email"]).where("id", "=", u.userId).executeTakeFirstOrThrow();
    assert.deepEqual({ ...row }, { email_verified: 1, twofactor_email: 1 });
    // The next sign-in asks for the mailed code, and the code step says so.
    const { ctx, page } = await newPage(env);
    t.after(() => ctx.close());
    const n = smtp.received.length;
    await page.goto(env.ts.httpUrl + "/");
    await page.locator("#username").fill(u.username);
    await page.locator("#password").fill(PASSWORD);
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
    await page.getByTestId("otp-form").getByText("sent to your address", { exact: false }).waitFor();
    const code = await smtp.waitFor((m) => smtp.received.indexOf(m) >= n && m.to.includes(email) && /Sign-in code/.test(m.subject));
    await page.getByLabel("Authentication code").fill(codeIn(code));
    await page.getByRole("button", { name: "Verify" }).click();
    await page.getByRole("button", { name: "Sign out" }).waitFor();
  });

  test("Settings → Mail: send a test email", { timeout: 60_000 }, async (t) => {
    const { admin } = await adminSession(env, t, "/mail");
    await heading(admin, "Mail");
    assert.equal(await admin.getByRole("textbox", { name: "Outgoing mail server" }).inputValue(), "127.0.0.1");
    await admin.getByLabel("Send to").fill("tester@example.test");
    await admin.getByTestId("send-test-mail").click();
    await admin.getByText("The server accepted the message").waitFor();
    const m = await smtp.waitFor((x) => x.to.includes("tester@example.test") && /test message/.test(x.subject));
    assert.match(m.text, /Gatehouse/);
    await shot(admin, "mail-settings");
  });
});
