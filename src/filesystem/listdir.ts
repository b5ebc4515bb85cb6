// filesystem.listdir: a directory inside a storage root, listed through an fd opened beneath its
// real root without following links, its entries filtered and ordered like any query.

import path from "node:path";
import { queryRows } from "../store/query-rows.js";
import { validationError } from "../server/errors.js";
import { afterResolve, errCode } from "../accounts/safe-fs.js";
import { confine, entryAt, openBeneathRoot, outsideMessage, resolveRoots, type StoragePathsContext } from "./storage-paths.js";
import type { FsEntry } from "./schemas.js";

/** Entries are stat-ed this many at a time. */
const BATCH = 64;

/** The entries of `given` (inside a storage root), with query-filters and query-options applied. */
export async function listDirectory(app: StoragePathsContext, given: string, filters: unknown[], options: Record<string, unknown>) {
  const roots = await resolveRoots(app);
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
}
