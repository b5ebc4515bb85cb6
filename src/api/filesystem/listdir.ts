import { z } from "zod";
import { arg, defineMethod } from "../method.js";
import { listDirectory } from "../../filesystem/listdir.js";
import { queryResult } from "../../server/wire-schema.js";
import { boundedPath, FsEntrySchema } from "../../filesystem/schemas.js";

export const filesystemListdir = defineMethod({
  name: "filesystem.listdir",
  description: 'Lists a directory inside a storage root (symlinks not followed), with query-filters and query-options, e.g. [["type", "=", "DIRECTORY"]] and {"order_by": ["name"]}.',
  args: [arg("path", boundedPath), arg("filters", z.array(z.any()), () => []), arg("options", z.record(z.string(), z.any()), () => ({}))],
  returns: queryResult(FsEntrySchema),
  roles: ["FILESYSTEM_ATTRS_READ", "ACCOUNT_READ"],
  handler: (ctx, given, filters, options) => listDirectory(ctx.app, given, filters, options),
});
