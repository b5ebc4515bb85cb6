import { z } from "zod";
import { defineMethod } from "../method.js";
import { terminateOtherSessionsIn } from "../../auth/session-list.js";

export const authTerminateOtherSessions = defineMethod({
  name: "auth.terminate_other_sessions",
  description: "Ends every session except the caller's. Without AUTH_SESSIONS_WRITE (a fleet user, any user session): every other session of the caller's own account.",
  args: [],
  returns: z.literal(true),
  roles: ["AUTH_SESSIONS_WRITE"],
  // Without the role: only the caller's own other sessions (not from a key session or a read-only one).
  owner: "own-rows-or-role",
  fleetUser: true,
  handler: (ctx) => terminateOtherSessionsIn(ctx.app, ctx.rowScope ?? { all: false, userId: -1 }, ctx.session?.id),
});
