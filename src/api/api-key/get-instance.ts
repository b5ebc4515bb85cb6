import { z } from "zod";
import { arg, defineMethod } from "../method.js";
import { API_KEY_SECRETS, apiKeyById } from "./common.js";
import { ApiKeyEntrySchema } from "../../auth/schemas.js";

export const apiKeyGetInstance = defineMethod({
  name: "api_key.get_instance",
  description: "One API key by id.",
  args: [arg("id", z.number().int()), arg("options", z.record(z.string(), z.any()), () => ({}))],
  returns: ApiKeyEntrySchema,
  roles: ["API_KEY_READ"],
  secretFields: API_KEY_SECRETS,
  secretsRole: "API_KEY_WRITE",
  handler: (ctx, id) => apiKeyById(ctx.app.store.db, id),
});
