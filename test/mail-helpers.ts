import { mkdtempSync, rmSync } from "node:fs";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { SMTPServer, type SMTPServerOptions } from "smtp-server";
import { makeCa, makeServerCert } from "./test-certs.js";

export interface ReceivedMail {
  from: string;
  to: string[];
  raw: string;
  subject: string;
  /** The body, with quoted-printable soft breaks and escapes undone. */
  text: string;
  /** The user the client logged in as (null: no SMTP auth). */
  user: string | null;
  /** Whether the session was encrypted. */
  secure: boolean;
  /** Who sent it, as SmtpOptions.identify named the connecting client (null: not asked). */
  client: string | null;
}

export interface TestCerts {
  dir: string;
  caPem: string;
  key: string;
  cert: string;
  /** A self-signed certificate no CA vouches for. */
  selfKey: string;
  selfCert: string;
  cleanup(): void;
}

/** A CA and a server certificate it signed (SAN 127.0.0.1, localhost), plus a self-signed one. */
export function makeCerts(): TestCerts {
  const dir = mkdtempSync(path.join(os.tmpdir(), "gatehouse-mail-certs-"));
  const ca = makeCa(dir, "Gatehouse Test Mail CA");
  const server = makeServerCert(dir, ca);
  const self = makeServerCert(dir, null, "self");
  return {
    dir,
    caPem: ca.pem,
    key: server.key,
    cert: server.pem,
    selfKey: self.key,
    selfCert: self.pem,
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export interface SmtpOptions {
  /** none: plain only; implicit: TLS from the first byte; starttls: plain, STARTTLS offered. */
  tls?: "none" | "implicit" | "starttls";
  /** Require this login. */
  auth?: { user: string; pass: string };
  key?: string;
  cert?: string;
  /** Recipients refused at RCPT TO. */
  refuse?: RegExp;
  /** Listen on this port (a restart after an outage); default 0. */
  port?: number;
  /**
   * Name the client of a new connection from its source port, while it is connected (e.g. which
   * server process holds the socket: test/mail-queue-processes.test.ts).
   */
  identify?: (remotePort: number, serverPort: number) => string | null;
}

export interface TestSmtp {
  port: number;
  received: ReceivedMail[];
  /** Wait for a message matching `pred` (default: to `to`). */
  waitFor(pred: (m: ReceivedMail) => boolean, timeoutMs?: number): Promise<ReceivedMail>;
  close(): Promise<void>;
}

function decode(raw: string): { subject: string; text: string } {
  const split = raw.indexOf("\r\n\r\n");
  const head = raw.slice(0, split);
  let body = raw.slice(split + 4);
  const subject = /^Subject: (.*(?:\r\n[ \t].*)*)/im.exec(head)?.[1].replace(/\r\n[ \t]/g, " ") ?? "";
  if (/Content-Transfer-Encoding: quoted-printable/i.test(head)) {
    body = body.replace(/=\r\n/g, "").replace(/=([0-9A-F]{2})/g, (_, h) => String.fromCharCode(Number.parseInt(h, 16)));
  } else if (/Content-Transfer-Encoding: base64/i.test(head)) {
    body = Buffer.from(body.replace(/\s+/g, ""), "base64").toString("utf8");
  }
  return { subject, text: body };
}

export async function startSmtp(opts: SmtpOptions = {}): Promise<TestSmtp> {
  const tls = opts.tls ?? "none";
  const received: ReceivedMail[] = [];
  const waiters: (() => void)[] = [];
  const clients = new Map<string, string | null>();
  let listening = 0;
  const options: SMTPServerOptions = {
    secure: tls === "implicit",
    key: opts.key,
    cert: opts.cert,
    logger: false,
    disabledCommands: [...(opts.auth ? [] : ["AUTH"]), ...(tls === "none" ? ["STARTTLS"] : [])],
    allowInsecureAuth: tls === "none",
    authOptional: !opts.auth,
    onAuth(auth, _session, cb) {
      if (opts.auth && auth.username === opts.auth.user && auth.password === opts.auth.pass) return cb(null, { user: auth.username });
      return cb(Object.assign(new Error("Invalid username or password"), { responseCode: 535 }));
    },
    onConnect(session, cb) {
      if (opts.identify) clients.set(session.id, opts.identify(session.remotePort, listening));
      cb();
    },
    onClose(session) {
      clients.delete(session.id);
    },
    onRcptTo(address, _session, cb) {
      if (opts.refuse?.test(address.address)) return cb(Object.assign(new Error(`Mailbox ${address.address} unavailable`), { responseCode: 550 }));
      cb();
    },
    onData(stream, session, cb) {
      const chunks: Buffer[] = [];
      stream.on("data", (c: Buffer) => chunks.push(c));
      stream.on("end", () => {
        const raw = Buffer.concat(chunks).toString("utf8");
        received.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : "",
          to: session.envelope.rcptTo.map((r) => r.address),
          raw,
          ...decode(raw),
          user: (session.user as string | undefined) ?? null,
          secure: session.secure,
          client: clients.get(session.id) ?? null,
        });
        for (const w of waiters.splice(0)) w();
        cb();
      });
    },
  };
  if (tls === "none") options.hideSTARTTLS = true;
  const server = new SMTPServer(options);
  server.on("error", () => {});
  await new Promise<void>((resolve, reject) => {
    server.server.once("error", reject);
    server.listen(opts.port ?? 0, "127.0.0.1", () => resolve());
  });
  const port = (server.server.address() as AddressInfo).port;
  listening = port;
  return {
    port,
    received,
    async waitFor(pred, timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const m = received.find(pred);
        if (m) return m;
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`no matching mail within ${timeoutMs} ms (received ${received.length}: ${received.map((r) => r.subject).join("; ")})`);
        await new Promise<void>((r) => {
          const t = setTimeout(r, Math.min(left, 250));
          waiters.push(() => {
            clearTimeout(t);
            r();
          });
        });
      }
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/** The first code in a mail (`label: 123456` or `label: 1234-5678`). */
export function codeIn(mail: ReceivedMail, label: RegExp = /(?:code): ([0-9-]{6,9})/i): string {
  const m = label.exec(mail.text);
  if (!m) throw new Error(`no code in mail: ${mail.text}`);
  return m[1];
}

/** Point the server's mail settings at `smtp` (PLAIN, no auth unless given). */
export async function configureMail(admin: { call<T = unknown>(method: string, ...params: unknown[]): Promise<T> }, port: number, extra: Record<string, unknown> = {}): Promise<void> {
  await admin.call("mail.update", { outgoingserver: "127.0.0.1", port, security: "PLAIN", smtp: false, fromemail: "gatehouse@example.test", fromname: "", ...extra });
}

/** A unique address for a test account. */
export function addressFor(username: string): string {
  return `${username}@example.test`;
}

/** Give an account an address and verify it with the mailed code (as an administrator would, seed 002). */
export async function verifyAddress(admin: { call<T = unknown>(method: string, ...params: unknown[]): Promise<T> }, smtp: TestSmtp, user: { id: number; username: string }): Promise<string> {
  const email = addressFor(user.username);
  const before = smtp.received.length;
  await admin.call("user.update", user.id, { email });
  const mail = await smtp.waitFor((m, i = smtp.received.indexOf(m)) => i >= before && m.to.includes(email) && /Verify/.test(m.subject));
  await admin.call("user.verify_email", user.id, { code: codeIn(mail) });
  return email;
}
