import { z } from "zod";
import { arg, defineMethod } from "../method.js";
import { CallError, ERRNO } from "../../server/errors.js";
import { privilegeById } from "./common.js";

export const privilegeDelete = defineMethod({
  name: "privilege.delete",
  description: "Deletes a custom privilege.",
  args: [arg("id", z.number().int())],
  returns: z.literal(true),
  roles: ["PRIVILEGE_WRITE"],
  audit: (id) => `Delete privilege ${id}`,
  handler: async (ctx, id) => {
    await ctx.app.store.db.transaction().execute(async (trx) => {
      const old = await privilegeById(trx, id);
      if (old.builtin_name) throw new CallError("Unable to delete built-in privilege", ERRNO.EPERM);
      await trx.deleteFrom("privileges").where("id", "=", id).execute();
    });
    ctx.app.events.publish("privilege.query", "removed", id);
    ctx.app.accountsChanged("privilege.delete");
    return true as const;
  },
});
