// Input models of api_key.create / api_key.update (reference §6 as adapted by SPEC: optional
// `roles`, a subset of what both the owner and the caller hold). They check shapes only; the rules
// and their messages live in api-key-admin.ts, which takes the parsed types derived here.

import { z } from "zod";
import { renderableText } from "../server/input-bounds.js";

const name = renderableText(1, 200);
// {"$date": ms} arrives as a Date; ISO-8601 text (CLI) is accepted too.
const expiresAt = z.preprocess((v) => (typeof v === "string" ? new Date(v) : v), z.date()).nullable();
const roles = z.array(z.string()).nullable();

export const apiKeyCreateSchema = z.strictObject({
  name,
  username: z.string().min(1),
  expires_at: expiresAt.default(null),
  roles: roles.default(null),
});
export type ApiKeyCreateInput = z.output<typeof apiKeyCreateSchema>;

export const apiKeyUpdateSchema = z.strictObject({
  name: name.optional(),
  expires_at: expiresAt.optional(),
  roles: roles.optional(),
  reset: z.boolean().default(false),
});
export type ApiKeyUpdateInput = z.output<typeof apiKeyUpdateSchema>;
