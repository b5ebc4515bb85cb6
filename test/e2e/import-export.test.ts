// The Import and export page (issue 13 point 6) in a real browser (Chromium via playwright-core):
// a small users CSV with bad rows is uploaded through the page (user.import's job-bound upload),
// every bad row is listed with its line and the field it names, the job's progress is shown, and
// nothing is imported; the good rows then import, and the users CSV export is downloaded and
// holds them.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { adminSession, heading, ok, startEnv, stopEnv, userByName, type Env } from "./ui-helpers.js";

const HASH = `$6$rounds=5000$saltsaltsaltsalt$${"A".repeat(86)}`;
const HEADER = "username,uid,full_name,group,shell,unixhash";
const GOOD = [`iepage1,320001,Page One,545,/usr/sbin/nologin,${HASH}`, `iepage2,320002,Page Two,545,/usr/sbin/nologin,${HASH}`];
// line 4: a uid that is not a number; line 5: an unknown shell; line 6: a group that does not exist
const BAD = [`iepage3,32x003,Page Three,545,/usr/sbin/nologin,${HASH}`, `iepage4,320004,Page Four,545,/bin/nonesuch,${HASH}`, `iepage5,320005,Page Five,424242,/usr/sbin/nologin,${HASH}`];

let env: Env;

describe("the Import and export page", { timeout: 5 * 60_000 }, () => {
  before(async () => {
    env = await startEnv();
  });
  after(async () => {
    await stopEnv(env);
  });

  test("a CSV with bad rows: each named with its line and field, progress shown, nothing imported; then import and export", { timeout: 180_000 }, async (t) => {
    const { api, admin } = await adminSession(env, t, "/import-export");
    await heading(admin, "Import and export");
    const file = admin.locator('input[type="file"]');
    const upload = (name: string, rows: string[]) => file.setInputFiles({ name, mimeType: "text/csv", buffer: Buffer.from(`${[HEADER, ...rows].join("\n")}\n`) });

    // all or nothing: the real import (not a dry run) of the file with three bad rows is refused
    await upload("bad.csv", [...GOOD, ...BAD]);
    await admin.getByLabel("Only check (dry run)").uncheck();
    await admin.getByRole("button", { name: "Import", exact: true }).click();
    await admin.getByTestId("ie-status").getByText("3 problem(s): nothing was imported.").waitFor();
    const rows = await admin
      .getByRole("table", { name: "Problems" })
      .locator("tbody tr")
      .evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll("td")].map((td) => td.textContent ?? "")));
    assert.deepEqual(
      rows.map((r) => [r[0], r[1], r[2]]),
      [
        ["4", "iepage3", "uid"],
        ["5", "iepage4", "shell"],
        ["6", "iepage5", "group"],
      ],
      "each bad row with its line, record and field",
    );
    // the job's progress, as the job itself reported it (its last step: validation of all 5 rows)
    const progress = admin.getByTestId("ie-progress");
    assert.match((await progress.textContent()) ?? "", /100% — validate: 5 of 5/);
    ok((await progress.locator("progress").getAttribute("value")) === "100", "the progress bar is full");
    assert.equal(await userByName(api, "iepage1"), undefined, "nothing was imported");

    // the good rows import
    await upload("good.csv", GOOD);
    await admin.getByRole("button", { name: "Import", exact: true }).click();
    await admin.getByTestId("ie-status").getByText("Imported 2 users and 0 groups.").waitFor();
    assert.equal((await userByName(api, "iepage2"))?.uid, 320002);

    // the users CSV export is downloaded once, and holds them
    const [download] = await Promise.all([admin.waitForEvent("download"), admin.getByRole("button", { name: "Users CSV" }).click()]);
    assert.equal(download.suggestedFilename(), "accounts.csv");
    const path = await download.path();
    ok(path, "the download was saved");
    const csv = readFileSync(path, "utf8");
    assert.match(csv, /^username,uid,full_name,/);
    assert.match(csv, /^iepage1,320001,Page One,/m);
    assert.match(csv, /^iepage2,320002,Page Two,/m);
    assert.doesNotMatch(csv, /\$6\$/, "no password hashes in an ordinary export");
    await admin
      .getByTestId("ie-status")
      .getByText(/^Exported \d+ users and \d+ groups\.$/)
      .waitFor();
  });
});
