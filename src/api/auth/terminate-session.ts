import { z } from "zod";
import { arg, defineMethod } from "../method.js";
import { terminateSessionIn } from "../../auth/session-list.js";

export const authTerminateSession = defineMethod({
  name: "auth.terminate_session",
  description:
    "Ends a session (on any server process): closes its connection and destroys the tokens it minted. False if unknown. Without AUTH_SESSIONS_WRITE (a fleet user, any user session): only the caller's own account's sessions; another account's answers false.",
  args: [arg("id", z.string())],
  returns: z.boolean(),
  roles: ["AUTH_SESSIONS_WRITE"],
  // Without the role: only the caller's own sessions (not from a key session or a read-only one).
  owner: "own-rows-or-role",
  fleetUser: true,
  handler: (ctx, id) => terminateSessionIn(ctx.app, ctx.rowScope ?? { all: false, userId: -1 }, id),
});
