// Sending one message over SMTP (nodemailer), and telling the caller why it failed with a stable
// code: the server cannot be reached (mail.unreachable), TLS failed (mail.tls_failed), the login
// was refused (mail.auth_refused), a recipient or the sender was refused, or something else.
//
// Security as the reference names it: PLAIN never starts TLS (not even opportunistically, so the
// behaviour is what the setting says); SSL is TLS from the first byte; TLS is STARTTLS and is
// required (a server that does not offer it fails, it never falls back to plain text). TLS always
// verifies the server's certificate and host name against the system's roots plus the registered
// certificate authorities (the caller passes that list: trustedCas).

import { isIP } from "node:net";
import { createSecureContext, type SecureContext } from "node:tls";
import nodemailer from "nodemailer";
import type SMTPTransport from "nodemailer/lib/smtp-transport/index.js";
import { CallError } from "../server/errors.js";
import type { MailServer } from "./settings.js";

export interface OutgoingMail {
  to: string[];
  subject: string;
  text: string;
}

/** Connect and greeting limits: a dead server fails in seconds, not in nodemailer's default 2 minutes. */
export const MAIL_TIMEOUTS = { connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: 30_000 };

export const PRODUCT_NAME = "Gatehouse";

/** Secure contexts by trust list: trustedCas hands out one array while the registered CAs are unchanged. */
const contexts = new WeakMap<readonly string[], SecureContext>();

/** Built once per trust list and shared: parsing Node's ~145 roots costs tens of milliseconds per message otherwise. */
function secureContextFor(trust: readonly string[]): SecureContext {
  let ctx = contexts.get(trust);
  if (!ctx) {
    ctx = createSecureContext({ ca: [...trust] });
    contexts.set(trust, ctx);
  }
  return ctx;
}

function transportOptions(server: MailServer, trust: readonly string[]): SMTPTransport.Options {
  const tls = {
    rejectUnauthorized: true,
    // Node's roots plus the registered CAs (src/directory/certificate-authorities.ts trustedCas).
    secureContext: secureContextFor(trust),
    ...(isIP(server.outgoingserver) ? {} : { servername: server.outgoingserver }),
  };
  return {
    host: server.outgoingserver,
    port: server.port,
    secure: server.security === "SSL",
    requireTLS: server.security === "TLS",
    ignoreTLS: server.security === "PLAIN",
    auth: server.smtp ? { user: server.user ?? "", pass: server.pass ?? "" } : undefined,
    tls,
    ...MAIL_TIMEOUTS,
  };
}

const TLS_CODES = /CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)|ALTNAME|ERR_SSL|ERR_TLS|EPROTO/;

/** An SMTP failure as a CallError with a stable code and a message that says what happened. */
export function mailError(err: unknown, server: Pick<MailServer, "outgoingserver" | "port">): CallError {
  const e = err as { code?: string; originalCode?: string; command?: string; response?: string; message?: string; rejected?: unknown[] };
  const where = `${server.outgoingserver}:${server.port}`;
  const detail = (e.response ?? e.message ?? String(err)).slice(0, 300);
  const orig = e.originalCode ?? "";
  if (e.code === "ETLS" || TLS_CODES.test(orig) || (e.code === "ESOCKET" && /certificate|TLS|SSL/i.test(e.message ?? ""))) {
    return new CallError(`TLS with the mail server ${where} failed: ${detail}`, "mail.tls_failed");
  }
  if (e.code === "EAUTH") return new CallError(`The mail server ${where} refused the login: ${detail}`, "mail.auth_refused");
  if (e.code === "EENVELOPE" && e.command === "RCPT TO") return new CallError(`The mail server ${where} refused the recipient: ${detail}`, "mail.recipient_refused");
  if (e.code === "EENVELOPE" && e.command === "MAIL FROM") return new CallError(`The mail server ${where} refused the sender: ${detail}`, "mail.sender_refused");
  if (e.code === "EENVELOPE" && /recipient/i.test(e.message ?? "")) return new CallError(`Recipient refused: ${detail}`, "mail.recipient_refused");
  if (["ECONNECTION", "ETIMEDOUT", "EDNS", "ESOCKET"].includes(e.code ?? "")) {
    const why = orig || e.code;
    return new CallError(`The mail server ${where} could not be reached (${why}): ${detail}`, "mail.unreachable");
  }
  return new CallError(`The mail server ${where} did not accept the message: ${detail}`, "mail.send_failed");
}

/** Send one message; throws a CallError (see mailError) on any failure. */
export async function sendOne(server: MailServer, trust: readonly string[], mail: OutgoingMail): Promise<void> {
  if (!server.outgoingserver || !server.fromemail) {
    throw new CallError("No outgoing mail server is configured (mail.update: outgoingserver and fromemail).", "mail.not_configured");
  }
  const transport = nodemailer.createTransport(transportOptions(server, trust));
  try {
    const info = await transport.sendMail({
      from: { name: server.fromname || PRODUCT_NAME, address: server.fromemail },
      to: mail.to,
      subject: mail.subject,
      text: mail.text,
    });
    const rejected = (info.rejected ?? []).map(String);
    if (rejected.length) {
      throw new CallError(`The mail server refused ${rejected.length === 1 ? "the recipient" : "recipients"} ${rejected.join(", ")}.`, "mail.recipient_refused");
    }
  } catch (err) {
    if (err instanceof CallError) throw err;
    throw mailError(err, server);
  } finally {
    transport.close();
  }
}
