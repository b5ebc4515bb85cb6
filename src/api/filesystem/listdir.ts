import path from "node:path";
import { z } from "zod";
import { arg, defineMethod } from "../method.js";
import { queryRows } from "../../store/query-rows.js";
import { validationError } from "../../server/errors.js";
import { confine, entryAt, openBeneathRoot, outsideMessage, resolveRoots, type FsEntry } from "./common.js";
import { afterResolve, errCode } from "../../accounts/safe-fs.js";
import { pathLengthProblem } from "../../server/input-bounds.js";
import { queryResult } from "../../server/wire-schema.js";
import { FsEntrySchema } from "./schemas.js";

/** A path longer than Linux allows answers EINVAL (bounded input), not a lookup error. */
const boundedPath = z.string().superRefine((p, ctx) => {
  const problem = pathLengthProblem(p);
  if (problem) ctx.addIssue({ code: "custom", message: problem });
});

/** Entries are stat-ed this many at a time. */
const BATCH = 64;

export const filesystemListdir = defineMethod({
  name: "filesystem.listdir",
  description:
    "Lists a directory inside a storage root (symlinks not followed), with query-filters and query-options, e.g. [[\"type\", \"=\", \"DIRECTORY\"]] and {\"order_by\": [\"name\"]}.",
  args: [arg("path", boundedPath), arg("filters", z.array(z.any()), () => []), arg("options", z.record(z.string(), z.any()), () => ({}))],
  returns: queryResult(FsEntrySchema),
  roles: ["FILESYSTEM_ATTRS_READ", "ACCOUNT_READ"],
  handler: async (ctx, given, filters, options) => {
    const roots = await resolveRoots(ctx.app);
    const { path: dir, real } = await confine(given, "path", roots, { allowRoot: true });
    if (real === null) validationError("path", "Directory does not exist", "filesystem.not_found");
    // Listed through an fd opened beneath its real storage root without following links: a
    // directory swapped for a link after the checks is not listed (nor stat-ed) through it.
    let opened;
    try {
      opened = openBeneathRoot(roots, real);
    } catch (e) {
      const code = errCode(e);
      if (code === "ENOTDIR") validationError("path", "Path is not a directory", "filesystem.not_a_directory");
      if (code === "ENOENT") validationError("path", "Directory does not exist", "filesystem.not_found");
      if (code === "ELOOP" || code === "EXDEV") validationError("path", outsideMessage(roots), "filesystem.outside_storage_roots");
      throw e;
    }
    const rows: FsEntry[] = [];
    try {
      await afterResolve("filesystem.listdir", real);
      const dev = opened.stat().dev;
      const names = opened.list();
      for (let i = 0; i < names.length; i += BATCH) {
        const batch = await Promise.all(names.slice(i, i + BATCH).map((n) => entryAt(opened, n, path.posix.join(dir, n), path.posix.join(real, n), roots, dev)));
        for (const e of batch) if (e) rows.push(e);
      }
    } finally {
      opened.close();
    }
    return queryRows(rows, filters, options);
  },
});
