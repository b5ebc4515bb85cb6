import { z } from "zod";
import { arg, defineMethod } from "../method.js";
import { queryUsers } from "../../accounts/user-entry.js";
import { USER_SECRET_FIELDS } from "../../accounts/context.js";
import { queryResult } from "../../server/wire-schema.js";
import { UserEntrySchema } from "../../accounts/schemas.js";

export const userQuery = defineMethod({
  name: "user.query",
  description: "Lists local users (reference user entry), with query-filters and query-options; filters on stored fields run in the database.",
  args: [arg("filters", z.array(z.any()), () => []), arg("options", z.record(z.string(), z.any()), () => ({}))],
  returns: queryResult(UserEntrySchema),
  roles: ["ACCOUNT_READ"],
  secretFields: USER_SECRET_FIELDS,
  secretsRole: "ACCOUNT_WRITE",
  handler: (ctx, filters, options) => {
    const { store } = ctx.app;
    const run = () => queryUsers(store, filters, options);
    return store.queryCache ? store.queryCache.get(`user.query\0${JSON.stringify([filters, options])}`, run) : run();
  },
});
