// Mail settings (mail.config / mail.update): the outgoing SMTP server as the reference names its
// fields. Kept in `settings` under "mail"; the SMTP password is sealed with the secret box
// (purpose "mail.smtp.pass") and never returned — mail.config says only whether one is set.

import { z } from "zod";
import type { Tx } from "../store/db.js";
import type { SecretBox } from "../store/secret-box.js";
import { getSetting, setSetting } from "../store/settings.js";
import { ValidationErrors } from "../server/errors.js";
import { validateEmail } from "../accounts/names.js";

export const MAIL_KEY = "mail";
const PASS_PURPOSE = "mail.smtp.pass";

/** PLAIN: no TLS; SSL: TLS from the first byte (usually port 465); TLS: STARTTLS required (usually 587). */
export const MAIL_SECURITY = ["PLAIN", "SSL", "TLS"] as const;
export type MailSecurity = (typeof MAIL_SECURITY)[number];

interface StoredMail {
  fromemail: string;
  fromname: string;
  outgoingserver: string;
  port: number;
  security: MailSecurity;
  smtp: boolean;
  user: string | null;
  /** The sealed password (secret box envelope), or null. */
  pass_sealed: string | null;
}

const DEFAULTS: StoredMail = { fromemail: "", fromname: "", outgoingserver: "", port: 25, security: "PLAIN", smtp: false, user: null, pass_sealed: null };

export const MailConfigSchema = z.object({
  id: z.literal(1),
  fromemail: z.string().describe("Sender address of every mail."),
  fromname: z.string().describe("Sender name (the product name is used when empty)."),
  outgoingserver: z.string().describe("SMTP server host name or address (empty: mail is off)."),
  port: z.number().int().describe("SMTP port."),
  security: z.enum(MAIL_SECURITY).describe("PLAIN (no TLS), SSL (implicit TLS) or TLS (STARTTLS, required)."),
  smtp: z.boolean().describe("Log in to the SMTP server (user and pass)."),
  user: z.string().nullable().describe("SMTP user name."),
  pass_set: z.boolean().describe("Gatehouse: an SMTP password is stored (it is never returned)."),
});
export type MailConfig = z.infer<typeof MailConfigSchema>;

export const MailUpdateSchema = z.strictObject({
  fromemail: z.string().max(254).optional(),
  fromname: z.string().max(120).optional(),
  outgoingserver: z.string().max(253).optional(),
  port: z.number().int().min(1).max(65535).optional(),
  security: z.enum(MAIL_SECURITY).optional(),
  smtp: z.boolean().optional(),
  user: z.string().max(256).nullable().optional(),
  /** The SMTP password; null or "" removes it; absent keeps it. */
  pass: z.string().max(1024).nullable().optional(),
});
export type MailUpdate = z.infer<typeof MailUpdateSchema>;

/** What the SMTP client needs: the settings with the password opened. */
export interface MailServer extends Omit<StoredMail, "pass_sealed"> {
  pass: string | null;
}

async function stored(db: Tx): Promise<StoredMail> {
  return getSetting<StoredMail>(db, MAIL_KEY, DEFAULTS);
}

function publicConfig(s: StoredMail): MailConfig {
  const { pass_sealed, ...rest } = s;
  return { id: 1, ...rest, pass_set: !!pass_sealed };
}

export async function mailConfig(db: Tx): Promise<MailConfig> {
  return publicConfig(await stored(db));
}

/** The server settings with the password opened (for sending; never for an answer). */
export async function mailServer(ctx: { store: { db: Tx }; secretBox: SecretBox }, override?: MailUpdate): Promise<MailServer> {
  const s = await stored(ctx.store.db);
  const { pass_sealed, ...rest } = s;
  const pass = pass_sealed ? ctx.secretBox.open(PASS_PURPOSE, pass_sealed) : null;
  const base: MailServer = { ...rest, pass };
  if (!override) return base;
  const merged = { ...base, ...stripUndefined(override) } as MailServer;
  if (override.pass !== undefined) merged.pass = override.pass || null;
  return merged;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

const HOST_RE = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9]([A-Za-z0-9-]{0,62})?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62})?)*\.?)$/;

/** Field checks shared by mail.update and mail.send's override. */
export function checkMailFields(attr: string, next: Omit<MailServer, "pass"> & { pass?: string | null }): void {
  const v = new ValidationErrors();
  if (next.outgoingserver && !HOST_RE.test(next.outgoingserver)) v.add(`${attr}.outgoingserver`, "Not a valid host name or address.", "core.invalid_argument");
  if (next.fromemail) validateEmail(v, `${attr}.fromemail`, next.fromemail);
  if (/[\r\n]/.test(next.fromname)) v.add(`${attr}.fromname`, "The sender name may not contain line breaks.", "core.invalid_argument");
  if (next.smtp && !next.user) v.add(`${attr}.user`, "A user name is required when SMTP authentication is on.", "mail.user_required");
  v.check();
}

/** mail.update: merge, check, seal the password, store; answers mail.config. */
export async function updateMailConfig(ctx: { store: { db: Tx }; secretBox: SecretBox }, input: MailUpdate): Promise<MailConfig> {
  const db = ctx.store.db;
  return db.transaction().execute(async (trx) => {
    const cur = await stored(trx);
    const { pass, ...fields } = input;
    const next: StoredMail = { ...cur, ...stripUndefined(fields) } as StoredMail;
    if (next.user === "") next.user = null;
    checkMailFields("mail_update", next);
    if (pass !== undefined) next.pass_sealed = pass ? ctx.secretBox.seal(PASS_PURPOSE, pass) : null;
    await setSetting(trx, MAIL_KEY, next);
    return publicConfig(next);
  });
}
