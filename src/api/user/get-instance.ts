import { z } from "zod";
import { arg, defineMethod } from "../method.js";
import { instanceNotFound } from "../../server/errors.js";
import { queryUsers } from "../../accounts/user-entry.js";
import { USER_SECRET_FIELDS } from "../../accounts/context.js";
import { instanceResult } from "../../server/wire-schema.js";
import { UserEntrySchema } from "../../accounts/schemas.js";

export const userGetInstance = defineMethod({
  name: "user.get_instance",
  description: "One user by DB id (options as in user.query, e.g. select).",
  args: [arg("id", z.number().int()), arg("options", z.record(z.string(), z.any()), () => ({}))],
  returns: instanceResult(UserEntrySchema),
  roles: ["ACCOUNT_READ"],
  secretFields: USER_SECRET_FIELDS,
  secretsRole: "ACCOUNT_WRITE",
  handler: async (ctx, id, options) => {
    const rows = (await queryUsers(ctx.app.store, [["id", "=", id]], { ...options, get: false, limit: 1, offset: 0 })) as unknown[];
    if (!rows.length) instanceNotFound("User", id, "user.not_found");
    return rows[0];
  },
});
