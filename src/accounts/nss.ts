// user.get_user_obj / group.get_group_obj (reference §1.9, §2): passwd- and group-style records,
// looked up by name or numeric id like getpwnam/getpwuid and getgrnam/getgrgid.

import { z } from "zod";
import { CallError, ValidationErrors } from "../server/errors.js";
import type { Tx } from "../store/db.js";
import { serverSid } from "./account-settings.js";
import { groupSid } from "./group-entry.js";
import { securityConfig } from "../auth/policy.js";
import type { GroupObjSchema, UserObjSchema } from "./schemas.js";

/** user.get_user_obj's argument. */
export const userObjQuerySchema = z.strictObject({
  username: z.string().nullable().optional(),
  uid: z.number().int().nullable().optional(),
  get_groups: z.boolean().optional(),
  sid_info: z.boolean().optional(),
});
export type UserObjQuery = z.output<typeof userObjQuerySchema>;

/** group.get_group_obj's argument. */
export const groupObjQuerySchema = z.strictObject({ groupname: z.string().nullable().optional(), gid: z.number().int().nullable().optional(), sid_info: z.boolean().optional() });
export type GroupObjQuery = z.output<typeof groupObjQuerySchema>;

function sourceOf(source: string): string {
  return source === "LOCAL" ? "LOCAL" : source;
}

export async function getUserObj(db: Tx, q: UserObjQuery): Promise<z.infer<typeof UserObjSchema>> {
  const v = new ValidationErrors();
  const hasName = !!q.username;
  const hasUid = q.uid !== null && q.uid !== undefined;
  if (!hasName && !hasUid) v.add("get_user_obj.username", 'Either "username" or "uid" must be specified.', "core.argument_conflict");
  if (hasName && hasUid) v.add("get_user_obj.username", '"username" and "uid" may not be simultaneously specified', "core.argument_conflict");
  v.check();
  let query = db
    .selectFrom("users")
    .innerJoin("groups", "groups.id", "users.group_id")
    .select(["users.id", "users.username", "users.full_name", "users.home", "users.shell", "users.uid", "users.smb", "users.source", "groups.gid"]);
  query = hasName ? query.where("users.username", "=", q.username!) : query.where("users.uid", "=", q.uid!).orderBy("users.id");
  const u = await query.executeTakeFirst();
  if (!u) {
    throw new CallError(hasName ? `${q.username}: user with this name does not exist` : `${q.uid}: user with this id does not exist`, "user.not_found");
  }
  let grouplist: number[] | null = null;
  if (q.get_groups) {
    const aux = await db.selectFrom("memberships").innerJoin("groups", "groups.id", "memberships.group_id").select("groups.gid").where("memberships.user_id", "=", u.id).execute();
    grouplist = [...new Set([u.gid, ...aux.map((a) => a.gid)])];
  }
  let sid: string | null = null;
  if (q.sid_info && u.smb && !(await securityConfig(db)).enable_gpos_stig) sid = `${await serverSid(db)}-${20000 + u.id}`;
  return {
    pw_name: u.username,
    pw_gecos: u.full_name,
    pw_dir: u.home,
    pw_shell: u.shell,
    pw_uid: u.uid,
    pw_gid: u.gid,
    grouplist,
    sid,
    source: sourceOf(u.source),
    local: u.source === "LOCAL",
  };
}

export async function getGroupObj(db: Tx, q: GroupObjQuery): Promise<z.infer<typeof GroupObjSchema>> {
  const v = new ValidationErrors();
  const hasName = !!q.groupname;
  const hasGid = q.gid !== null && q.gid !== undefined;
  if (!hasName && !hasGid) v.add("get_group_obj.groupname", 'Either "groupname" or "gid" must be specified.', "core.argument_conflict");
  if (hasName && hasGid) v.add("get_group_obj.groupname", '"groupname" and "gid" may not be simultaneously specified', "core.argument_conflict");
  v.check();
  let query = db.selectFrom("groups").selectAll();
  query = hasName ? query.where("name", "=", q.groupname!) : query.where("gid", "=", q.gid!).orderBy("id");
  const g = await query.executeTakeFirst();
  if (!g) {
    throw new CallError(hasName ? `${q.groupname}: group with this name does not exist` : `${q.gid}: group with this id does not exist`, "group.not_found");
  }
  // gr_mem lists auxiliary members, as getgrnam(3) does.
  const members = await db
    .selectFrom("memberships")
    .innerJoin("users", "users.id", "memberships.user_id")
    .select("users.username")
    .where("memberships.group_id", "=", g.id)
    .orderBy("users.id")
    .execute();
  const smb = !!g.smb && !(await securityConfig(db)).enable_gpos_stig;
  return {
    gr_name: g.name,
    gr_gid: g.gid,
    gr_mem: members.map((m) => m.username),
    sid: q.sid_info ? groupSid(await serverSid(db), { ...g, smb }) : null,
    source: "LOCAL",
    local: true,
  };
}
