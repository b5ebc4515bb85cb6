// The mail queue shared by two real Gatehouse server processes on one PostgreSQL (issue 12: "several
// processes share the queue safely (SKIP LOCKED)"): 200 queued messages — one address
// verification code per new account, the accounts made through both processes — each reach a
// real SMTP server exactly once, and both processes send some of them (the SMTP server names the
// process holding each connection's socket, from /proc). Then an SMTP outage: password-reset mails
// queued through both processes fail, one process stops for good, and the other retries every
// one of them once the server is back — none is lost, none is sent twice.

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { startServerProcess, type ServerProcess } from "./process-harness.js";
import { addressFor, codeIn, configureMail, startSmtp, type ReceivedMail, type TestSmtp } from "./mail-helpers.js";
import type { RpcClient } from "../src/cli/client.js";

const MESSAGES = 200;
const OUTAGE_MESSAGES = 20;
const run = `q${Date.now().toString(36)}`;
const nameOf = (i: number) => `${run}u${i}`;

/** Inode of the loopback TCP socket whose local port is `port` and peer port `peerPort` (/proc/net/tcp). */
function socketInode(port: number, peerPort: number): string | null {
  const hex = (n: number) => n.toString(16).toUpperCase().padStart(4, "0");
  for (const line of readFileSync("/proc/net/tcp", "utf8").split("\n").slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length > 9 && f[1]!.endsWith(`:${hex(port)}`) && f[2]!.endsWith(`:${hex(peerPort)}`)) return f[9]!;
  }
  return null;
}

/** Which of `procs` holds the socket with local port `port` connected to `peerPort` ("?" when none). */
function ownerOf(procs: Record<string, number>, port: number, peerPort: number): string {
  const inode = socketInode(port, peerPort);
  if (!inode) return "?";
  for (const [name, pid] of Object.entries(procs)) {
    try {
      for (const fd of readdirSync(`/proc/${pid}/fd`)) {
        try {
          if (readlinkSync(`/proc/${pid}/fd/${fd}`) === `socket:[${inode}]`) return name;
        } catch {
          // closed meanwhile
        }
      }
    } catch {
      // the process is gone
    }
  }
  return "?";
}

/** Messages to `address` whose subject matches. */
const mailsTo = (smtp: TestSmtp, address: string, subject: RegExp): ReceivedMail[] => smtp.received.filter((m) => m.to.includes(address) && subject.test(m.subject));

async function until(what: string, cond: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe("two server processes share the mail queue", { skip: !process.env.GATEHOUSE_TEST_PG && "GATEHOUSE_TEST_PG is not set", timeout: 300_000 }, () => {
  let one: ServerProcess;
  let two: ServerProcess | null;
  let smtp: TestSmtp;
  let a1: RpcClient;
  let a2: RpcClient;
  const pids: Record<string, number> = {};
  const identify = (remotePort: number, serverPort: number) => ownerOf(pids, remotePort, serverPort);
  const ids: number[] = [];

  before(async () => {
    smtp = await startSmtp({ identify });
    one = await startServerProcess({ store: "postgres" });
    two = await startServerProcess({ databaseUrl: one.databaseUrl! });
    pids.one = one.pid;
    pids.two = two.pid;
    a1 = await one.adminClient();
    a2 = await two.adminClient();
    await configureMail(a1, smtp.port);
  });
  after(async () => {
    await two?.stop();
    await one?.stop();
    await smtp?.close();
  });

  it(`${MESSAGES} verification mails queued through both processes are each delivered exactly once, by both`, async () => {
    // Accounts made alternately through each process, twenty at a time (in the built-in users
    // group: no group to make each time): each queues its mail in the process that made it, and
    // both workers poll the shared table.
    const [users] = await a1.call<{ id: number }[]>("group.query", [["gid", "=", 545]]);
    for (let start = 0; start < MESSAGES; start += 20) {
      const made = await Promise.all(
        Array.from({ length: 20 }, (_, k) => start + k).map((i) =>
          (i % 2 ? a2 : a1).call<{ id: number }>("user.create", {
            username: nameOf(i),
            full_name: `Queue ${i}`,
            email: addressFor(nameOf(i)),
            password_disabled: true,
            smb: false,
            group: users!.id,
          }),
        ),
      );
      ids.push(...made.map((u) => u.id));
    }
    await until(`${MESSAGES} verification mails`, () => smtp.received.filter((m) => /Verify/.test(m.subject)).length >= MESSAGES, 90_000);
    // Let any duplicate (a row claimed twice) arrive before counting.
    await new Promise((r) => setTimeout(r, 1500));
    const bySender = { one: 0, two: 0, "?": 0 } as Record<string, number>;
    for (let i = 0; i < MESSAGES; i++) {
      const got = mailsTo(smtp, addressFor(nameOf(i)), /Verify/);
      assert.equal(got.length, 1, `${nameOf(i)} got ${got.length} verification mails`);
      bySender[got[0]!.client ?? "?"]!++;
    }
    assert.equal(smtp.received.filter((m) => /Verify/.test(m.subject)).length, MESSAGES, "no other verification mail");
    assert.equal(bySender["?"], 0, `every connection traced to a process: ${JSON.stringify(bySender)}`);
    assert.ok(bySender.one! > 0 && bySender.two! > 0, `both processes sent: ${JSON.stringify(bySender)}`);
    const queue = await a1.call<any[]>("mail.queue", { limit: 1000 });
    const rows = queue.filter((q) => ids.includes(q.user_id) && q.kind === "VERIFY_EMAIL");
    assert.equal(rows.length, MESSAGES);
    assert.ok(
      rows.every((q) => q.state === "SENT" && q.attempts === 1),
      "each row sent at its first attempt",
    );
    // The code in the one mail is the live one: the address verifies with it (on either process).
    for (let i = 0; i < OUTAGE_MESSAGES; i++) {
      const [mail] = mailsTo(smtp, addressFor(nameOf(i)), /Verify/);
      await (i % 2 ? a2 : a1).call("user.verify_email", ids[i], { code: codeIn(mail!) });
    }
    // Reset mails need a usable password: the first OUTAGE_MESSAGES accounts get one (and a role,
    // to sign in with the mailed code at the end).
    const [readonly] = await a1.call<{ id: number }[]>("group.query", [["gid", "=", 951]]);
    for (let i = 0; i < OUTAGE_MESSAGES; i++) {
      await a1.call("user.update", ids[i], { password_disabled: false, password: `Queue-pass-${i}-x9`, groups: [readonly!.id] });
    }
  });

  it("an SMTP outage: mails that failed in either process are retried by the other after it stops, each delivered once", async () => {
    const port = smtp.port;
    await smtp.close();
    const c1 = await one.client();
    const c2 = await two!.client();
    for (let i = 0; i < OUTAGE_MESSAGES; i++) assert.equal(await (i % 2 ? c2 : c1).call("auth.password_reset.request", { username: nameOf(i) }), true);
    // Every reset mail has failed at least once (mail.unreachable), in one process or the other.
    const failedRows = async () => (await a1.call<any[]>("mail.queue", { limit: 1000 })).filter((q) => ids.slice(0, OUTAGE_MESSAGES).includes(q.user_id) && q.kind === "PASSWORD_RESET");
    await until("every reset mail to fail once", async () => (await failedRows()).filter((q) => q.state === "PENDING" && q.last_error_code === "mail.unreachable").length === OUTAGE_MESSAGES, 60_000);
    // Process two stops for good (its failed rows stay queued); the server comes back.
    await two!.stop();
    two = null;
    smtp = await startSmtp({ port, identify });
    await until(`${OUTAGE_MESSAGES} reset mails after the outage`, () => smtp.received.filter((m) => /Password Reset/.test(m.subject)).length >= OUTAGE_MESSAGES, 60_000);
    await new Promise((r) => setTimeout(r, 1500));
    for (let i = 0; i < OUTAGE_MESSAGES; i++) {
      const got = mailsTo(smtp, addressFor(nameOf(i)), /Password Reset/);
      assert.equal(got.length, 1, `${nameOf(i)} got ${got.length} reset mails`);
      assert.equal(got[0]!.client, "one", "sent by the process still running");
    }
    const rows = await failedRows();
    assert.equal(rows.length, OUTAGE_MESSAGES);
    assert.ok(
      rows.every((q) => q.state === "SENT" && q.attempts >= 2),
      JSON.stringify(rows.map((q) => [q.state, q.attempts])),
    );
    // The mailed code is the live one: it signs in (PASSWORD_CHANGE_REQUIRED follows).
    const [mail] = mailsTo(smtp, addressFor(nameOf(1)), /Password Reset/);
    assert.equal((await (await one.client()).login(nameOf(1), codeIn(mail!))).response_type, "SUCCESS");
  });
});
