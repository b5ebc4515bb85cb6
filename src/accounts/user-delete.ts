// user.delete (reference §1.8; SPEC: the home is kept, only its `.ssh` goes). One transaction
// removes the user, its memberships and per-user records, and — with delete_group — its primary
// group when nobody else uses it.

import { CallError, instanceNotFound } from "../server/errors.js";
import type { Tx } from "../store/db.js";
import type { AccountContext } from "./context.js";
import { hostPathOfHome } from "./context.js";
import { recordAccountChange } from "./account-change.js";
import { provisionerOf } from "../provision/index.js";
import { removeSshDir } from "./home.js";
import { ADMIN_UID } from "./user-entry.js";
import { wouldOrphanLocalAdministrator } from "./admins.js";
import { privilegeRows } from "./privileges.js";

export interface DeletedUser {
  id: number;
  username: string;
  home: string;
  /** The primary group, when delete_group removed it. */
  groupId: number | null;
  /** Groups whose member lists changed (primary and auxiliary). */
  touchedGroups: number[];
}

/**
 * Checks and row deletion inside `trx` (shared with group.delete's delete_users). Returns what
 * the caller needs for the filesystem clean-up after commit.
 */
export async function deleteUserRows(ctx: AccountContext, trx: Tx, id: number, deleteGroup: boolean): Promise<DeletedUser> {
  const user = await trx.selectFrom("users").selectAll().where("id", "=", id).executeTakeFirst();
  if (!user) instanceNotFound("User", id, "user.not_found");
  if (ctx.session?.userId === id) throw new CallError("Cannot delete the currently active user", "user.delete_self");
  if (user.builtin) throw new CallError("Cannot delete a built-in user", "user.delete_builtin");
  if (user.uid === ADMIN_UID) throw new CallError("Cannot delete an immutable user", "user.delete_immutable");
  if (await wouldOrphanLocalAdministrator(trx, id)) {
    throw new CallError("After deleting this user no local user will have built-in privilege 'Local Administrator'.", "user.delete_last_local_administrator");
  }

  const aux = (await trx.selectFrom("memberships").select("group_id").where("user_id", "=", id).execute()).map((m) => m.group_id);
  await trx.deleteFrom("memberships").where("user_id", "=", id).execute();
  await trx.deleteFrom("team_members").where("user_id", "=", id).execute();
  await trx.deleteFrom("fleet_access").where("owner_kind", "=", "USER").where("owner_id", "=", id).execute();
  await trx.deleteFrom("attributes").where("user_id", "=", id).execute();
  await trx.deleteFrom("onetime_codes").where("user_id", "=", id).execute();
  await trx.deleteFrom("users").where("id", "=", id).execute();

  let groupId: number | null = null;
  if (deleteGroup) {
    // Only a private group: not built-in, no other members, not named by a privilege.
    const group = await trx.selectFrom("groups").selectAll().where("id", "=", user.group_id).executeTakeFirst();
    if (group && !group.builtin) {
      const primaryUsers = await trx.selectFrom("users").select("id").where("group_id", "=", group.id).executeTakeFirst();
      const auxUsers = await trx.selectFrom("memberships").select("user_id").where("group_id", "=", group.id).executeTakeFirst();
      const privileged = (await privilegeRows(trx)).some((p) => p.gids.has(group.gid));
      if (!primaryUsers && !auxUsers && !privileged) {
        await trx.deleteFrom("groups").where("id", "=", group.id).execute();
        groupId = group.id;
      }
    }
  }
  return { id, username: user.username, home: user.home, groupId, touchedGroups: [user.group_id, ...aux] };
}

/** After commit: drop `<home>/.ssh`, announce the removal. */
export async function afterUserDeleted(ctx: AccountContext, deleted: DeletedUser): Promise<void> {
  const { app } = ctx;
  const target = hostPathOfHome(app, deleted.home);
  if (target) {
    await removeSshDir(target, app.config.storageRoots);
    // A provisioning run that read the store before this delete committed may still write the
    // keys file after us; once provisioning settles, remove `.ssh` again — unless the directory
    // has become someone else's home meanwhile.
    void provisionerOf(app)
      .whenIdle()
      .then(async () => {
        const owner = await app.store.db.selectFrom("users").select("id").where("home", "=", deleted.home).executeTakeFirst();
        if (!owner) await removeSshDir(target, app.config.storageRoots);
      })
      .catch(() => undefined);
  }
  ctx.app.events.publish("user.query", "removed", deleted.id);
  if (deleted.groupId !== null) ctx.app.events.publish("group.query", "removed", deleted.groupId);
}

export async function deleteUser(ctx: AccountContext, id: number, opts: { delete_group: boolean }): Promise<number> {
  const deleted = await ctx.app.store.db.transaction().execute(async (trx) => {
    const user = await trx.selectFrom("users").select("username").where("id", "=", id).executeTakeFirst();
    if (user) ctx.auditSubject = user.username; // the label names it even when the delete is refused
    const rows = await deleteUserRows(ctx, trx, id, opts.delete_group);
    return { rows, change: await recordAccountChange(trx, [], rows.touchedGroups, { users: [id] }) };
  });
  await afterUserDeleted(ctx, deleted.rows);
  ctx.app.changed(deleted.change);
  return id;
}
