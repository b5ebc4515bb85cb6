import { z } from "zod";
import { arg, defineMethod } from "../method.js";
import { queryRows } from "../../store/query-rows.js";
import { sessionEntries } from "../../auth/session-list.js";
import { queryResult } from "../../server/wire-schema.js";
import { SessionEntrySchema } from "../../auth/schemas.js";

export const authSessions = defineMethod({
  name: "auth.sessions",
  description: "Lists the active sessions of every server process sharing the store.",
  args: [arg("filters", z.array(z.any()), () => []), arg("options", z.record(z.string(), z.any()), () => ({}))],
  returns: queryResult(SessionEntrySchema),
  roles: ["AUTH_SESSIONS_READ"],
  // Without the role (a fleet user, any user session): only the caller's own sessions.
  owner: "own-rows-or-role",
  fleetUser: true,
  handler: async (ctx, filters, options) => queryRows(await sessionEntries(ctx.app.store.db, ctx.rowScope ?? { all: false, userId: -1 }, ctx.session?.id), filters, options),
});
