// The mail service of one server process: the queue worker (./queue.ts) and direct sends
// (mail.send). The worker runs when something is queued here (kick), when a retry falls due, and
// every POLL_MS for rows queued by other processes sharing the store.

import type { Tx } from "../store/db.js";
import { CallError } from "../server/errors.js";
import { trustedCas } from "../directory/certificate-authorities.js";
import { DEFAULT_RETRY, enqueueMail, nextDue, runQueueOnce, type MailContext, type RetryPolicy } from "./queue.js";
import { checkMailFields, mailServer, type MailUpdate } from "./settings.js";
import { sendOne, type OutgoingMail } from "./transport.js";
import type { MailKind } from "./messages.js";

const POLL_MS = 5_000;

export class MailService {
  /** Back-off of failed sends (tests shorten it). */
  retry: RetryPolicy = { ...DEFAULT_RETRY };
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private again = false;
  private stopped = true;

  constructor(private readonly ctx: MailContext) {}

  start(): void {
    this.stopped = false;
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running;
  }

  /** Queue a mail for a user and send it soon (the caller's answer never waits for SMTP). */
  async enqueue(db: Tx, userId: number, kind: MailKind): Promise<void> {
    await enqueueMail(db, userId, kind);
    this.kick();
  }

  /** Run the worker now (after a commit that queued mail). */
  kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.schedule(0);
  }

  /** Resolves once everything due now has been tried (tests). */
  async drain(): Promise<void> {
    while (this.running) await this.running;
    await this.runPass();
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.runPass();
    }, ms);
    this.timer.unref();
  }

  private runPass(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      try {
        do {
          this.again = false;
          while ((await runQueueOnce(this.ctx, this.retry)) > 0 && !this.stopped) {
            // more may be due
          }
        } while (this.again && !this.stopped);
        const due = await nextDue(this.ctx.store.db);
        this.schedule(due === null ? POLL_MS : Math.max(50, Math.min(POLL_MS, due - Date.now())));
      } catch (err) {
        this.ctx.log.error({ err }, "mail queue pass failed");
        this.schedule(POLL_MS);
      } finally {
        this.running = null;
      }
    })();
    return this.running;
  }
}

export interface SendMessage {
  subject: string;
  text: string;
  to?: string[];
}

/** mail.send: one message now, with the stored settings or `override` merged over them (a test before saving). */
export async function sendNow(ctx: MailContext, message: SendMessage, override: MailUpdate | undefined, fallbackTo: string | null): Promise<boolean> {
  const to = message.to?.length ? message.to : fallbackTo ? [fallbackTo] : [];
  if (!to.length) throw new CallError("No recipient: give `to` (your account has no e-mail address).", "mail.no_recipient");
  const server = await mailServer(ctx, override);
  if (override) checkMailFields("mail_send.config", server);
  const mail: OutgoingMail = { to, subject: message.subject, text: message.text };
  await sendOne(server, await trustedCas(ctx.store.db), mail);
  return true;
}
