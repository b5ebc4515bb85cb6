// Administrator-safety rules (reference §1.4, §1.8, §2 has_password_enabled_user): a change may
// never leave the server without an unlocked FULL_ADMIN, nor the built-in "Local Administrator"
// privilege without a member who can log in with a password.

import type { Tx } from "../store/db.js";
import { privilegeRows } from "./privileges.js";

export interface MemberRow {
  id: number;
  username: string;
  locked: number;
  password_disabled: number;
  source: string;
}

/** Users whose primary or auxiliary group has one of `gids`. */
export async function membersOfGids(db: Tx, gids: number[]): Promise<MemberRow[]> {
  if (!gids.length) return [];
  const [primary, aux] = await Promise.all([
    db
      .selectFrom("users")
      .innerJoin("groups", "groups.id", "users.group_id")
      .select(["users.id", "users.username", "users.locked", "users.password_disabled", "users.source"])
      .where("groups.gid", "in", gids)
      .execute(),
    db
      .selectFrom("memberships")
      .innerJoin("groups", "groups.id", "memberships.group_id")
      .innerJoin("users", "users.id", "memberships.user_id")
      .select(["users.id", "users.username", "users.locked", "users.password_disabled", "users.source"])
      .where("groups.gid", "in", gids)
      .execute(),
  ]);
  const byId = new Map<number, MemberRow>();
  for (const u of [...primary, ...aux]) byId.set(u.id, u);
  return [...byId.values()];
}

export async function usersByIds(db: Tx, ids: number[]): Promise<MemberRow[]> {
  if (!ids.length) return [];
  return db.selectFrom("users").select(["id", "username", "locked", "password_disabled", "source"]).where("id", "in", ids).execute();
}

/** GIDs of privileges granting `role` directly. */
async function gidsWithRole(db: Tx, role: string): Promise<number[]> {
  return (await privilegeRows(db)).filter((p) => p.roles.includes(role)).flatMap((p) => [...p.gids]);
}

/** GIDs of the built-in LOCAL_ADMINISTRATOR privilege. */
export async function localAdministratorGids(db: Tx): Promise<number[]> {
  return (await privilegeRows(db)).filter((p) => p.builtinName === "LOCAL_ADMINISTRATOR").flatMap((p) => [...p.gids]);
}

export async function isFullAdminUser(db: Tx, userId: number): Promise<boolean> {
  return (await membersOfGids(db, await gidsWithRole(db, "FULL_ADMIN"))).some((u) => u.id === userId);
}

/** Would another unlocked local user with FULL_ADMIN remain if `userId` were locked? */
export async function otherUnlockedFullAdminExists(db: Tx, userId: number): Promise<boolean> {
  const members = await membersOfGids(db, await gidsWithRole(db, "FULL_ADMIN"));
  return members.some((u) => u.id !== userId && !u.locked && u.source === "LOCAL");
}

/** Password-enabled members of `gids`, except `exclude` (group.has_password_enabled_user). */
export async function passwordEnabledMembers(db: Tx, gids: number[], exclude: number[] = []): Promise<MemberRow[]> {
  const skip = new Set(exclude);
  return (await membersOfGids(db, gids)).filter((u) => !skip.has(u.id) && !u.password_disabled);
}

/**
 * For a change to `userId` (password disabled, locked or deleted): true when it would leave the
 * Local Administrator privilege without a password-enabled, unlocked member — only relevant when
 * the user is such a member now.
 */
export async function wouldOrphanLocalAdministrator(db: Tx, userId: number): Promise<boolean> {
  const gids = await localAdministratorGids(db);
  const members = await membersOfGids(db, gids);
  const usable = members.filter((u) => !u.password_disabled && !u.locked);
  if (!usable.some((u) => u.id === userId)) return false;
  return !usable.some((u) => u.id !== userId);
}
