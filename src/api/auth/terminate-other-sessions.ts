import { z } from "zod";
import { defineMethod } from "../method.js";

export const authTerminateOtherSessions = defineMethod({
  name: "auth.terminate_other_sessions",
  description: "Ends every session except the caller's.",
  args: [],
  returns: z.literal(true),
  roles: ["AUTH_SESSIONS_WRITE"],
  handler: async (ctx) => {
    const rows = await ctx.app.store.db.selectFrom("sessions").select("id").where("terminated", "=", 0).execute();
    for (const r of rows) if (r.id !== ctx.session?.id) await ctx.app.auth.terminateSession(r.id);
    return true as const;
  },
});
