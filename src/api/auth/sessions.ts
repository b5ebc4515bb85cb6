import { z } from "zod";
import { arg, defineMethod } from "../method.js";
import { queryRows } from "../../store/query-rows.js";
import { liveSessionRows } from "../../auth/session-list.js";
import { queryResult } from "../../server/wire-schema.js";
import { SessionEntrySchema } from "../../auth/schemas.js";

function revive(data: Record<string, unknown>): Record<string, unknown> {
  const out = { ...data };
  if (typeof out.login_at === "string") out.login_at = new Date(out.login_at);
  return out;
}

export const authSessions = defineMethod({
  name: "auth.sessions",
  description: "Lists the active sessions of every server process sharing the store.",
  args: [arg("filters", z.array(z.any()), () => []), arg("options", z.record(z.string(), z.any()), () => ({}))],
  returns: queryResult(SessionEntrySchema),
  roles: ["AUTH_SESSIONS_READ"],
  handler: async (ctx, filters, options) => {
    const now = Date.now();
    const rows = await liveSessionRows(ctx.app.store.db, now);
    const entries = rows.map((r) => ({
      id: r.id,
      current: r.id === ctx.session?.id,
      internal: false,
      origin: r.origin,
      credentials: r.credentials,
      credentials_data: revive(JSON.parse(r.credentials_data)),
      created_at: new Date(Number(r.created_at)),
      secure_transport: !!r.secure_transport,
    }));
    return queryRows(entries, filters, options);
  },
});
