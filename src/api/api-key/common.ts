// Shared by the api_key.* methods: the argument fields (reference §6 as adapted by SPEC: optional
// `roles`, a subset of what both the owner and the caller hold). The rules and writes live in
// src/auth/api-key-admin.ts; who may manage whose keys is declared on the methods.

import { z } from "zod";
import { renderableText } from "../../server/input-bounds.js";

export { API_KEY_SECRETS, apiKeyById } from "../../auth/api-key-admin.js";

export const ApiKeyFields = {
  name: renderableText(1, 200),
  username: z.string().min(1),
  // {"$date": ms} arrives as a Date; ISO-8601 text (CLI) is accepted too.
  expires_at: z.preprocess((v) => (typeof v === "string" ? new Date(v) : v), z.date()).nullable(),
  roles: z.array(z.string()).nullable(),
};
