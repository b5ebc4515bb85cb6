import { z } from "zod";
import { defineMethod } from "../method.js";
import { openSessionIds } from "../../auth/session-list.js";

export const authTerminateOtherSessions = defineMethod({
  name: "auth.terminate_other_sessions",
  description: "Ends every session except the caller's.",
  args: [],
  returns: z.literal(true),
  roles: ["AUTH_SESSIONS_WRITE"],
  handler: async (ctx) => {
    for (const id of await openSessionIds(ctx.app.store.db)) if (id !== ctx.session?.id) await ctx.app.auth.terminateSession(id);
    return true as const;
  },
});
