// The caller's own e-mail address (mail.send's default recipient).

import type { Tx } from "../store/db.js";

export async function callerEmail(db: Tx, userId: number | null): Promise<string | null> {
  if (userId === null) return null;
  const row = await db.selectFrom("users").select("email").where("id", "=", userId).executeTakeFirst();
  return row?.email || null;
}
