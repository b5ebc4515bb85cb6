import { z } from "zod";
import { defineMethod } from "../method.js";
import { reserveNextId } from "../../accounts/ids.js";

export const groupGetNextGid = defineMethod({
  name: "group.get_next_gid",
  description: "The lowest free GID at or above the id_start setting (default 1000), skipping GIDs named by privileges; reserved briefly so successive calls differ.",
  args: [],
  returns: z.number().int(),
  roles: ["ACCOUNT_READ"],
  handler: (ctx) => reserveNextId(ctx.app.store.db, "gid"),
});
