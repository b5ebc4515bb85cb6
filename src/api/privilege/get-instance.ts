import { z } from "zod";
import { arg, defineMethod } from "../method.js";
import { privilegeById } from "./common.js";
import { PrivilegeEntrySchema } from "../../access/schemas.js";

export const privilegeGetInstance = defineMethod({
  name: "privilege.get_instance",
  description: "One privilege by id.",
  args: [arg("id", z.number().int()), arg("options", z.record(z.string(), z.any()), () => ({}))],
  returns: PrivilegeEntrySchema,
  roles: ["PRIVILEGE_READ"],
  handler: (ctx, id) => privilegeById(ctx.app.store.db, id),
});
