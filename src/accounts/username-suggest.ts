// user.suggest_username: a free username derived from a full name (./names.ts suggestUsername),
// checked against the names already taken.

import type { Tx } from "../store/db.js";
import { suggestUsername } from "./names.js";

export async function suggestFreeUsername(db: Tx, fullName: string): Promise<string> {
  const base = suggestUsername(fullName);
  // Every name that could collide starts with the base (its numbered variants too).
  const rows = await db.selectFrom("users").select("username").where("username", ">=", base).where("username", "<", `${base}\uffff`).execute();
  const taken = new Set(rows.map((r) => r.username));
  return suggestUsername(fullName, (n) => taken.has(n));
}
