import { arg, defineMethod } from "../method.js";
import { MailConfigSchema, MailUpdateSchema, updateMailConfig } from "../../mail/settings.js";

export const mailUpdate = defineMethod({
  name: "mail.update",
  description:
    "Changes the outgoing mail settings: server, port, security (PLAIN, SSL, or TLS = STARTTLS), sender, and SMTP authentication. " +
    'The password is stored encrypted; null or "" removes it, leaving it out keeps it.',
  args: [arg("mail_update", MailUpdateSchema)],
  returns: MailConfigSchema,
  roles: ["MAIL_WRITE"],
  secretArgs: ["mail_update.pass"],
  audit: "Mail settings update",
  handler: (ctx, data) => updateMailConfig(ctx.app, data),
});
