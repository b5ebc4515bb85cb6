import { z } from "zod";
import { arg, defineMethod } from "../method.js";

export const authTerminateSession = defineMethod({
  name: "auth.terminate_session",
  description: "Ends a session (on any server process): closes its connection and destroys the tokens it minted. False if unknown.",
  args: [arg("id", z.string())],
  returns: z.boolean(),
  roles: ["AUTH_SESSIONS_WRITE"],
  handler: (ctx, id) => ctx.app.auth.terminateSession(id),
});
