// auth.set_attribute: a user's UI preferences (key → JSON value), stored per account and
// returned by auth.me.

import type { Tx } from "../store/db.js";
import type { Session } from "./session.js";
import { CallError, ValidationErrors } from "../server/errors.js";

/**
 * Bounds on a user's stored UI attributes (the reference has none): any logged-in user may call
 * this, so without them one account could store megabytes per call, and every auth.me carries them.
 */
export const MAX_ATTRIBUTES = 64;
export const MAX_ATTRIBUTE_BYTES = 4096;
export const MAX_KEY_LENGTH = 256;

/** Store `key` → `value` for the session's own account, within the bounds above. */
export async function setUserAttribute(db: Tx, session: Session, key: string, value: unknown): Promise<void> {
  const userId = session.userId;
  if (userId === null) throw new CallError(`You are logged in using ${session.credentials}`, "auth.not_a_user_session");
  const size = Buffer.byteLength(JSON.stringify(value ?? null), "utf8");
  if (size > MAX_ATTRIBUTE_BYTES) throw new ValidationErrors().add("value", `Value exceeds ${MAX_ATTRIBUTE_BYTES} bytes as JSON (${size})`, "auth.attribute_too_large");
  await db.transaction().execute(async (trx) => {
    const row = await trx.selectFrom("attributes").select("attributes").where("user_id", "=", userId).executeTakeFirst();
    const attrs = row ? (JSON.parse(row.attributes) as Record<string, unknown>) : {};
    if (!Object.hasOwn(attrs, key) && Object.keys(attrs).length >= MAX_ATTRIBUTES) {
      throw new ValidationErrors().add("key", `At most ${MAX_ATTRIBUTES} attributes may be stored per user`, "auth.too_many_attributes");
    }
    // defineProperty: a key such as "__proto__" is stored as a key, never sets the prototype.
    Object.defineProperty(attrs, key, { value: value ?? null, enumerable: true, writable: true, configurable: true });
    const text = JSON.stringify(attrs);
    await trx
      .insertInto("attributes")
      .values({ user_id: userId, attributes: text })
      .onConflict((oc) => oc.column("user_id").doUpdateSet({ attributes: text }))
      .execute();
  });
}
