// Result schemas of the mail area's methods.

import { z } from "zod";
import { timestamp } from "../server/wire-schema.js";

export const QueueEntrySchema = z.object({
  id: z.number().int(),
  user_id: z.number().int().describe("The account the mail is for."),
  username: z.string().nullable().describe("Its name (null: the account was deleted)."),
  kind: z.string().describe("VERIFY_EMAIL, LOGIN_CODE, PASSWORD_RESET or PASSWORD_CHANGED."),
  state: z.string().describe("PENDING, SENT, DROPPED (nothing to send: no verified address) or FAILED (given up)."),
  attempts: z.number().int(),
  created_at: timestamp,
  next_attempt_at: timestamp.nullable().describe("When the next try is due (PENDING only)."),
  sent_at: timestamp.nullable(),
  last_error: z.string().nullable(),
  last_error_code: z.string().nullable().describe("Stable code of the last failure (mail.unreachable, mail.auth_refused, …)."),
});
