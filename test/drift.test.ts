// Drift is repaired on its own (issue 13 point 8): a running server, with a short
// GATEHOUSE_PROVISION_INTERVAL_MS, notices host account files edited behind its back, rewrites
// them, logs and audits what it found; a system account a package script added is adopted as a
// built-in instead; a user's own edit of authorized_keys stays until the key changes through
// Gatehouse. (test/provision-host.test.ts does the same against a real host root in a private
// mount namespace.)

import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import { forEachStore, startServer, uniq, type TestServer } from "./harness.js";

const INTERVAL = 300;
const KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl gatehouse@drift";
const KEY2 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMDO0HZ2zCZiBd2m2ytGC4xCWitMlGApKjBwfgOJ+m39 gatehouse@drift2";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, fn: () => T | Promise<T>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

forEachStore("drift repaired by a running server", (store) => {
  let ts: TestServer;
  let saved: string | undefined;
  const file = (rel: string) => path.join(ts.config.hostRoot, rel);

  before(async () => {
    saved = process.env.GATEHOUSE_PROVISION_INTERVAL_MS;
    process.env.GATEHOUSE_PROVISION_INTERVAL_MS = String(INTERVAL);
    ts = await startServer({ store });
    await ts.adminClient();
    // the start-up run may still be writing (a loaded machine): no file yet is "not yet"
    await until("first provisioning", () => existsSync(file("etc/passwd")) && readFileSync(file("etc/passwd"), "utf8").includes("admin:"));
  });
  after(async () => {
    if (saved === undefined) delete process.env.GATEHOUSE_PROVISION_INTERVAL_MS;
    else process.env.GATEHOUSE_PROVISION_INTERVAL_MS = saved;
    await ts?.stop();
  });

  async function auditEntries(method: string): Promise<{ event_data: { description: string; params: unknown[] } }[]> {
    const c = await ts.adminClient();
    const rows = (await c.call("audit.query", { "query-filters": [["event", "=", "METHOD_CALL"]], "query-options": { limit: 1000 } })) as {
      event_data: { method: string; description: string; params: unknown[] };
    }[];
    return rows.filter((r) => r.event_data.method === method);
  }

  test("an intruder line in passwd and a changed shadow entry are reverted, logged and audited", async () => {
    const passwd = readFileSync(file("etc/passwd"), "utf8");
    const shadow = readFileSync(file("etc/shadow"), "utf8");
    writeFileSync(file("etc/passwd"), `${passwd}intruder:x:0:0::/root:/bin/bash\n`);
    writeFileSync(file("etc/shadow"), shadow.replace(/^admin:[^:]*:/m, "admin::"));
    await until("passwd repaired", () => readFileSync(file("etc/passwd"), "utf8") === passwd);
    await until("shadow repaired", () => readFileSync(file("etc/shadow"), "utf8") === shadow);
    const audited = await until("drift audited", async () => {
      const rows = await auditEntries("provision.drift");
      return rows.length && rows.some((r) => r.event_data.description.includes("etc/shadow")) ? rows : null;
    });
    const text = JSON.stringify(audited);
    assert.match(text, /etc\/passwd \(content: intruder\)/);
    assert.match(text, /etc\/shadow \(content: admin\)/);
    assert.doesNotMatch(text, /\$6\$|\$y\$/, "no hash reaches the audit log");
  });

  test("a system account a package added is adopted as a built-in, not reverted", async () => {
    const c = await ts.adminClient();
    const name = `pkg${uniq("").slice(-6)}`;
    const passwd = readFileSync(file("etc/passwd"), "utf8");
    const group = readFileSync(file("etc/group"), "utf8");
    // like `adduser --system --group`: a group and a user below 1000
    writeFileSync(file("etc/group"), `${group}${name}:x:987:\n`);
    writeFileSync(file("etc/passwd"), `${passwd}${name}:x:987:987:Package daemon,,,:/var/lib/${name}:/usr/sbin/nologin\n`);
    const user = await until("user adopted", async () => ((await c.call("user.query", [["username", "=", name]])) as { builtin: boolean; uid: number; home: string }[])[0]);
    assert.equal(user.builtin, true);
    assert.equal(user.uid, 987);
    assert.equal(user.home, `/var/lib/${name}`);
    const g = ((await c.call("group.query", [["name", "=", name]])) as { builtin: boolean; gid: number }[])[0];
    assert.equal(g.builtin, true);
    assert.equal(g.gid, 987);
    await until("adoption audited", async () => (await auditEntries("provision.adopt_system_accounts")).some((r) => r.event_data.description.includes(name)));
    await sleep(INTERVAL * 3);
    assert.match(readFileSync(file("etc/passwd"), "utf8"), new RegExp(`^${name}:x:987:987:`, "m"), "still in passwd");
    // an account in root's group, or a taken uid, is not adopted but reverted
    const p2 = readFileSync(file("etc/passwd"), "utf8");
    writeFileSync(file("etc/passwd"), `${p2}sneaky:x:988:0::/root:/bin/sh\n`);
    await until("sneaky reverted", () => readFileSync(file("etc/passwd"), "utf8") === p2);
    assert.equal(((await c.call("user.query", [["username", "=", "sneaky"]])) as unknown[]).length, 0);
  });

  test("a user's own edit of authorized_keys stays until the key changes through Gatehouse", async () => {
    const c = await ts.adminClient();
    const homes = path.join(ts.config.storageRoots[0], "homes");
    mkdirSync(homes, { recursive: true });
    const name = uniq("k");
    const u = (await c.call("user.create", { username: name, full_name: name, password_disabled: true, smb: false, group_create: true, home: homes, home_create: true, sshpubkey: KEY })) as {
      id: number;
      home: string;
    };
    const keys = path.join(u.home, ".ssh/authorized_keys");
    assert.equal(readFileSync(keys, "utf8"), `${KEY}\n`);
    const own = `${KEY}\n# my laptop\n${KEY2}\n`;
    writeFileSync(keys, own);
    await c.call("user.update", u.id, { full_name: "Renamed" }); // a change that is not the key
    await sleep(INTERVAL * 4);
    assert.equal(readFileSync(keys, "utf8"), own, "the user's edit stays");
    await c.call("user.update", u.id, { sshpubkey: KEY2 });
    await until("key written through Gatehouse", () => readFileSync(keys, "utf8") === `${KEY2}\n`);
  });
});
