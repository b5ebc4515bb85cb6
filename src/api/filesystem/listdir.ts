import { opendir, stat } from "node:fs/promises";
import path from "node:path";
import { z } from "zod";
import { arg, defineMethod } from "../method.js";
import { queryRows } from "../../store/query-rows.js";
import { ERRNO, validationError } from "../../server/errors.js";
import { confine, entryOf, resolveRoots, type FsEntry } from "./common.js";
import { pathLengthProblem } from "../../server/input-bounds.js";

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
  roles: ["FILESYSTEM_ATTRS_READ", "ACCOUNT_READ"],
  handler: async (ctx, given, filters, options) => {
    const roots = await resolveRoots(ctx.app);
    const { path: dir, real } = await confine(given, "path", roots, { allowRoot: true });
    if (real === null) validationError("path", "Directory does not exist", ERRNO.ENOENT);
    const st = await stat(real);
    if (!st.isDirectory()) validationError("path", "Path is not a directory", ERRNO.ENOTDIR);

    const names: string[] = [];
    const handle = await opendir(real);
    for await (const d of handle) names.push(d.name);
    const rows: FsEntry[] = [];
    for (let i = 0; i < names.length; i += BATCH) {
      const batch = await Promise.all(
        names.slice(i, i + BATCH).map((n) => entryOf(path.posix.join(dir, n), path.posix.join(real, n), roots, st.dev)),
      );
      for (const e of batch) if (e) rows.push(e);
    }
    return queryRows(rows, filters, options);
  },
});
