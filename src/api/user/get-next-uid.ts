import { z } from "zod";
import { defineMethod } from "../method.js";
import { reserveNextId } from "../../accounts/ids.js";

export const userGetNextUid = defineMethod({
  name: "user.get_next_uid",
  description: "The lowest free UID at or above the id_start setting (default 1000); reserved briefly so successive calls differ.",
  args: [],
  returns: z.number().int(),
  roles: ["ACCOUNT_READ"],
  handler: (ctx) => reserveNextId(ctx.app.store.db, "uid"),
});
