import { z } from "zod";
import { defineMethod } from "../method.js";
import { writeAudit } from "../../audit/audit.js";

export const authLogout = defineMethod({
  name: "auth.logout",
  fleetUser: true,
  description: "Ends this connection's session and its subscriptions.",
  args: [],
  returns: z.literal(true),
  authorizationRequired: false,
  handler: async (ctx) => {
    const session = ctx.session!;
    for (const id of ctx.conn.subscriptions.keys()) ctx.app.events.unsubscribe(id);
    ctx.conn.subscriptions.clear();
    await writeAudit(ctx.app, {
      event: "LOGOUT",
      eventData: { credentials: { credentials: session.credentials, credentials_data: session.credentialsData } },
      success: true,
      conn: ctx.conn,
      session,
    });
    await ctx.app.auth.logout(ctx.conn, { explicit: true });
    return true as const;
  },
});
