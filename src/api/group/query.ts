import { z } from "zod";
import { arg, defineMethod } from "../method.js";
import { queryGroups } from "../../accounts/group-entry.js";
import { queryResult } from "../../server/wire-schema.js";
import { GroupEntrySchema } from "../../accounts/schemas.js";

export const groupQuery = defineMethod({
  name: "group.query",
  description: "Lists local groups (reference group entry), with query-filters and query-options; filters on stored fields run in the database.",
  args: [arg("filters", z.array(z.any()), () => []), arg("options", z.record(z.string(), z.any()), () => ({}))],
  returns: queryResult(GroupEntrySchema),
  roles: ["ACCOUNT_READ"],
  handler: (ctx, filters, options) => {
    const { store } = ctx.app;
    const run = () => queryGroups(store, filters, options);
    return store.queryCache ? store.queryCache.get(`group.query\0${JSON.stringify([filters, options])}`, run) : run();
  },
});
