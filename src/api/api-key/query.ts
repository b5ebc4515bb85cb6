import { z } from "zod";
import { arg, defineMethod } from "../method.js";
import { queryRows } from "../../store/query-rows.js";
import { apiKeyEntries } from "../../auth/api-keys.js";
import { API_KEY_SECRETS } from "./common.js";
import { queryResult } from "../../server/wire-schema.js";
import { ApiKeyEntrySchema } from "../../auth/schemas.js";

export const apiKeyQuery = defineMethod({
  name: "api_key.query",
  description: "Lists API keys (never the keys themselves), with query-filters and query-options.",
  args: [arg("filters", z.array(z.any()), () => []), arg("options", z.record(z.string(), z.any()), () => ({}))],
  returns: queryResult(ApiKeyEntrySchema),
  roles: ["API_KEY_READ"],
  secretFields: API_KEY_SECRETS,
  secretsRole: "API_KEY_WRITE",
  handler: async (ctx, filters, options) => queryRows(await apiKeyEntries(ctx.app.store.db), filters, options),
});
