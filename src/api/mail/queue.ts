import { z } from "zod";
import { arg, defineMethod } from "../method.js";
import { listQueue } from "../../mail/queue.js";
import { QueueEntrySchema } from "../../mail/schemas.js";

export const mailQueue = defineMethod({
  name: "mail.queue",
  description:
    "The outgoing mail queue, newest first: mail for sign-in codes, resets, address verification and notices, with its state " +
    "(PENDING, SENT, DROPPED: nothing to send, FAILED: given up), attempts and last error. Never a code.",
  args: [arg("options", z.strictObject({ state: z.enum(["PENDING", "SENT", "DROPPED", "FAILED"]).optional(), limit: z.number().int().min(1).max(1000).default(100) }), () => ({}))],
  returns: z.array(QueueEntrySchema),
  roles: ["MAIL_WRITE", "READONLY_ADMIN"],
  handler: (ctx, options) => listQueue(ctx.app.store.db, options),
});
