// Settings the account area reads: where automatic ids start, the SMB server SID and the password
// hash cost. (The password policy of `system.security` belongs to the auth area: src/auth/policy.ts.)

import { randomInt } from "node:crypto";
import type { Config } from "../config.js";
import type { Store } from "../store/db.js";
import type { Tx } from "../store/db.js";
import { getSetting } from "../store/settings.js";
import { DEFAULT_ROUNDS } from "../auth/password-hash.js";

/** Seed 001: automatic UIDs and GIDs start at 1000 (the reference uses 3000). */
export const DEFAULT_ID_START = 1000;
/** Highest explicit local id (reference §1.3 / §2.2). */
export const MAX_LOCAL_ID = 90_000_000;

export async function idStart(db: Tx): Promise<number> {
  const v = await getSetting<unknown>(db, "id_start", DEFAULT_ID_START);
  return typeof v === "number" && Number.isInteger(v) && v >= 0 ? v : DEFAULT_ID_START;
}

/** The rounds new password hashes get: configured, else the stored setting. */
export async function hashRounds(app: { readonly config: Pick<Config, "hashRounds">; readonly store: Store }): Promise<number> {
  if (app.config.hashRounds) return app.config.hashRounds;
  const v = await getSetting<unknown>(app.store.db, "password_hash_rounds", DEFAULT_ROUNDS);
  return typeof v === "number" && Number.isInteger(v) ? v : DEFAULT_ROUNDS;
}

// Keyed by the store handle (a transaction handle simply misses and reads).
const cachedSid = new WeakMap<object, string>();

/**
 * The SMB server SID (`S-1-5-21-a-b-c`), generated once into the settings table. Concurrent
 * first calls from several processes agree because the insert ignores conflicts and we read back.
 */
export async function serverSid(db: Tx): Promise<string> {
  const hit = cachedSid.get(db);
  if (hit) return hit;
  let row = await db.selectFrom("settings").select("value").where("key", "=", "smb.server_sid").executeTakeFirst();
  if (!row) {
    const sid = `S-1-5-21-${randomInt(1, 2 ** 32 - 1)}-${randomInt(1, 2 ** 32 - 1)}-${randomInt(1, 2 ** 32 - 1)}`;
    await db
      .insertInto("settings")
      .values({ key: "smb.server_sid", value: JSON.stringify(sid) })
      .onConflict((oc) => oc.column("key").doNothing())
      .execute();
    row = await db.selectFrom("settings").select("value").where("key", "=", "smb.server_sid").executeTakeFirstOrThrow();
  }
  const sid = JSON.parse(row.value) as string;
  cachedSid.set(db, sid);
  return sid;
}
