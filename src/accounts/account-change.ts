// The typed change event of an account write (src/store/change-event.ts), recorded in the write's
// transaction so every server process learns exactly which users and groups to re-render.

import type { Tx } from "../store/db.js";
import { changeOf, type ChangeEvent, type ChangeParts } from "../store/change-event.js";
import { recordChange } from "../store/changes.js";

/**
 * Record the change to `users` (as they are now, inside the transaction: their primary and
 * auxiliary groups are read) plus `groupsBefore` (groups they left, or that were changed or
 * removed) and anything else in `extra`; returns the event to publish after the commit.
 */
export async function recordAccountChange(trx: Tx, users: readonly number[], groupsBefore: readonly (number | null | undefined)[], extra: ChangeParts = {}): Promise<ChangeEvent> {
  const groups: (number | null | undefined)[] = [...groupsBefore, ...(extra.groups ?? [])];
  if (users.length) {
    // Primary and auxiliary groups in one statement: every account write pays this round trip.
    const rows = await trx
      .selectFrom("users")
      .select("group_id")
      .where("id", "in", [...users])
      .unionAll(
        trx
          .selectFrom("memberships")
          .select("group_id")
          .where("user_id", "in", [...users]),
      )
      .execute();
    for (const r of rows) groups.push(r.group_id);
  }
  const ev = changeOf({ ...extra, users: [...users, ...(extra.users ?? [])], groups });
  await recordChange(trx, ev);
  return ev;
}
