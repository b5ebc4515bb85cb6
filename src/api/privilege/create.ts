import { arg, defineMethod } from "../method.js";
import { PrivilegeCreate, privilegeById, validatePrivilege } from "./common.js";

export const privilegeCreate = defineMethod({
  name: "privilege.create",
  description: "Creates a privilege granting roles to local groups (by GID) and directory groups.",
  args: [arg("privilege_create", PrivilegeCreate)],
  roles: ["PRIVILEGE_WRITE"],
  audit: (data) => `Create privilege ${data.name}`,
  handler: async (ctx, data) => {
    const entry = await ctx.app.store.db.transaction().execute(async (trx) => {
      await validatePrivilege(trx, "privilege_create", data, null);
      const row = await trx
        .insertInto("privileges")
        .values({
          builtin_name: null,
          name: data.name,
          local_groups: JSON.stringify(data.local_groups),
          ds_groups: JSON.stringify(data.ds_groups),
          roles: JSON.stringify(data.roles),
          web_shell: data.web_shell ? 1 : 0,
        })
        .returning("id")
        .executeTakeFirstOrThrow();
      return privilegeById(trx, row.id);
    });
    ctx.app.events.publish("privilege.query", "added", entry.id, entry);
    ctx.app.accountsChanged("privilege.create");
    return entry;
  },
});
