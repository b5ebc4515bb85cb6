import { z } from "zod";
import { arg, defineMethod } from "../method.js";
import { sendNow } from "../../mail/service.js";
import { MailUpdateSchema } from "../../mail/settings.js";
import { callerEmail } from "../../mail/caller.js";

export const mailSend = defineMethod({
  name: "mail.send",
  description:
    "Sends a message now (e.g. a test). `to` defaults to the caller's e-mail address; `config` (optional) is merged over the stored " +
    "settings for this message only, so settings can be tried before mail.update. Fails with mail.unreachable, mail.tls_failed, " +
    "mail.auth_refused, mail.recipient_refused, mail.sender_refused or mail.send_failed, saying why.",
  args: [
    arg(
      "message",
      z.strictObject({
        subject: z
          .string()
          .max(998)
          .refine((s) => !/[\r\n]/.test(s), "The subject may not contain line breaks."),
        text: z.string().max(100_000),
        to: z.array(z.email()).max(50).optional(),
      }),
    ),
    arg("config", MailUpdateSchema, () => ({})),
  ],
  returns: z.boolean(),
  roles: ["MAIL_WRITE"],
  secretArgs: ["config.pass"],
  audit: (message) => `Send mail: ${message.subject}`,
  handler: async (ctx, message, config) => sendNow(ctx.app, message, Object.keys(config).length ? config : undefined, await callerEmail(ctx.app.store.db, ctx.session?.userId ?? null)),
});
