import { test } from "node:test";
import assert from "node:assert/strict";
import { Secret, TOTP } from "otpauth";
import { withTestApp } from "../../test/harness.js";
import { MAX_TOTP_WINDOW, newTotpSecret, verifyTotp } from "./totp.js";

test("a stored window above the bound is read as 10: a code 11 steps away is refused, 10 steps away accepted", async () => {
  await withTestApp(undefined, async (app) => {
    const secret = newTotpSecret();
    const user = { id: 1, username: "root", twofactor_secret: secret, twofactor_digits: 6, twofactor_interval: 30 };
    const gen = new TOTP({ secret: Secret.fromBase32(secret), digits: 6, period: 30, algorithm: "SHA1" });
    const now = Date.now();
    const at = (steps: number) => gen.generate({ timestamp: now - steps * 30_000 });
    assert.equal(await verifyTotp(app.store.db, user, at(MAX_TOTP_WINDOW + 1), 1000, now), false);
    assert.equal(await verifyTotp(app.store.db, user, at(MAX_TOTP_WINDOW), 1000, now), true);
  });
});
