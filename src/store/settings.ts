// Typed key/value settings kept in the `settings` table (shared by every server process).

import type { Tx } from "./db.js";

export async function getSetting<T>(db: Tx, key: string, fallback: T): Promise<T> {
  const row = await db.selectFrom("settings").select("value").where("key", "=", key).executeTakeFirst();
  if (!row) return fallback;
  const stored = JSON.parse(row.value) as T;
  // Objects gain new default fields when a release adds them.
  if (fallback && typeof fallback === "object" && !Array.isArray(fallback) && stored && typeof stored === "object") {
    return { ...fallback, ...stored };
  }
  return stored;
}

export async function setSetting<T>(db: Tx, key: string, value: T): Promise<void> {
  const text = JSON.stringify(value);
  await db
    .insertInto("settings")
    .values({ key, value: text })
    .onConflict((oc) => oc.column("key").doUpdateSet({ value: text }))
    .execute();
}
