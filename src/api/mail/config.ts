import { defineMethod } from "../method.js";
import { mailConfig, MailConfigSchema } from "../../mail/settings.js";

export const mailConfigMethod = defineMethod({
  name: "mail.config",
  description: "The outgoing mail (SMTP) settings. The SMTP password is never returned (`pass_set` says whether one is stored).",
  args: [],
  returns: MailConfigSchema,
  roles: ["MAIL_WRITE", "READONLY_ADMIN"],
  handler: (ctx) => mailConfig(ctx.app.store.db),
});
