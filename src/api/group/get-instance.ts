import { z } from "zod";
import { arg, defineMethod } from "../method.js";
import { instanceNotFound } from "../../server/errors.js";
import { queryGroups } from "../../accounts/group-entry.js";
import { instanceResult } from "../../server/wire-schema.js";
import { GroupEntrySchema } from "../../accounts/schemas.js";

export const groupGetInstance = defineMethod({
  name: "group.get_instance",
  description: "One group by DB id (options as in group.query, e.g. select).",
  args: [arg("id", z.number().int()), arg("options", z.record(z.string(), z.any()), () => ({}))],
  returns: instanceResult(GroupEntrySchema),
  roles: ["ACCOUNT_READ"],
  handler: async (ctx, id, options) => {
    const rows = (await queryGroups(ctx.app.store, [["id", "=", id]], { ...options, get: false, limit: 1, offset: 0 })) as unknown[];
    if (!rows.length) instanceNotFound("Group", id, "group.not_found");
    return rows[0];
  },
});
