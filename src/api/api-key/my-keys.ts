import { defineMethod } from "../method.js";
import { CallError } from "../../server/errors.js";
import { apiKeyEntries } from "../../auth/api-keys.js";
import { API_KEY_SECRETS } from "./common.js";
import { z } from "zod";
import { ApiKeyEntrySchema } from "../../auth/schemas.js";

export const apiKeyMyKeys = defineMethod({
  name: "api_key.my_keys",
  description: "The API keys of the logged-in user.",
  args: [],
  returns: z.array(ApiKeyEntrySchema),
  // Only ever the caller's own keys: every user session may list them (a fleet user too, so it can
  // script); a session limited to a key's roles needs one of these roles.
  roles: ["READONLY_ADMIN", "API_KEY_READ"],
  owner: "own-rows-or-role",
  fleetUser: true,
  secretFields: API_KEY_SECRETS,
  secretsRole: "API_KEY_WRITE",
  handler: async (ctx) => {
    const userId = ctx.session!.userId;
    if (userId === null) throw new CallError("Not a user session", "auth.not_a_user_session");
    return apiKeyEntries(ctx.app.store.db, { userId });
  },
});
