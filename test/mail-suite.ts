// The set-up of a suite that needs mail: a test server whose outgoing mail goes to a real SMTP
// server on loopback (test/mail-helpers.ts startSmtp), configured through mail.update.

import type { RpcClient } from "../src/cli/client.js";
import type { TestServer } from "./harness.js";
import { configureMail, startSmtp, type TestSmtp } from "./mail-helpers.js";

export interface MailSuite {
  ts: TestServer;
  /** An administrator's client of `ts`. */
  admin: RpcClient;
  smtp: TestSmtp;
  /** Stop the server, then the SMTP server. */
  stop(): Promise<void>;
}

/** `start()`'s server, an administrator's client, and a fresh SMTP server the server sends to. */
export async function startWithMail(start: () => Promise<TestServer>): Promise<MailSuite> {
  const ts = await start();
  const admin = await ts.adminClient();
  const smtp = await startSmtp();
  await configureMail(admin, smtp.port);
  const stop = async () => {
    await ts.stop();
    await smtp.close();
  };
  return { ts, admin, smtp, stop };
}
