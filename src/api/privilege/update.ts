import { z } from "zod";
import { arg, defineMethod } from "../method.js";
import { PrivilegeUpdate, privilegeById, validatePrivilege } from "./common.js";

export const privilegeUpdate = defineMethod({
  name: "privilege.update",
  description: "Updates a privilege (built-in privileges keep their name and roles).",
  args: [arg("id", z.number().int()), arg("privilege_update", PrivilegeUpdate)],
  roles: ["PRIVILEGE_WRITE"],
  audit: (id, data) => `Update privilege ${data.name ?? id}`,
  handler: async (ctx, id, data) => {
    const entry = await ctx.app.store.db.transaction().execute(async (trx) => {
      const old = await privilegeById(trx, id);
      const next = {
        name: data.name ?? old.name,
        local_groups: data.local_groups ?? old.local_groups.map((g) => g.gid as number),
        ds_groups: data.ds_groups ?? old.ds_groups.map((g) => (g.gid ?? g.sid ?? g.group) as number | string),
        roles: data.roles ?? old.roles,
        web_shell: data.web_shell ?? old.web_shell,
      };
      await validatePrivilege(trx, "privilege_update", next, old);
      await trx
        .updateTable("privileges")
        .set({
          name: next.name,
          local_groups: JSON.stringify(next.local_groups),
          ds_groups: JSON.stringify(next.ds_groups),
          roles: JSON.stringify(next.roles),
          web_shell: next.web_shell ? 1 : 0,
        })
        .where("id", "=", id)
        .execute();
      return privilegeById(trx, id);
    });
    ctx.app.events.publish("privilege.query", "changed", entry.id, entry);
    ctx.app.accountsChanged("privilege.update");
    return entry;
  },
});
