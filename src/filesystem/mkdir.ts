// filesystem.mkdir: one directory inside a storage root, made relative to its parent's fd opened
// beneath the root without following links, with a mode that cannot hand the directory to others.

import { lstat, realpath } from "node:fs/promises";
import path from "node:path";
import { z } from "zod";
import { pathLengthProblem } from "../server/input-bounds.js";
import { unrenderableChar } from "../accounts/names.js";
import { CallError, validationError } from "../server/errors.js";
import { errCode } from "../accounts/safe-fs.js";
import { confine, entryOf, insideReal, mkdirBeneath, outsideMessage, resolveRoots, type StoragePathsContext } from "./storage-paths.js";
import type { FsEntry } from "./schemas.js";

const posix = path.posix;
const ARG = "filesystem_mkdir";

/**
 * Modes a directory made through the API may have (beyond the reference): no setuid, setgid or
 * sticky bit (they change who files inside belong to or who may remove them) and no write for
 * others (anyone could plant files in a directory the administrator made).
 */
function modeProblem(mode: string): string | null {
  const m = parseInt(mode, 8);
  if (m & 0o7000) return "Mode may not set the setuid, setgid or sticky bit";
  if (m & 0o002) return "Mode may not make the directory writable by others";
  return null;
}

/** The path as a whole and the new directory's name: bounded, renderable, a real name. */
function pathProblem(p: string): string | null {
  const long = pathLengthProblem(p);
  if (long) return long;
  const bad = unrenderableChar(p);
  if (bad !== null) return "Path may not contain control or formatting characters";
  const name = p.replace(/\/+$/, "").split("/").pop() ?? "";
  if (name === "." || name === "..") return "The new directory needs a name (not . or ..)";
  return null;
}

export const MkdirArgs = z.strictObject({
  path: z.string().superRefine((p, ctx) => {
    const problem = pathProblem(p);
    if (problem) ctx.addIssue({ code: "custom", message: problem });
  }),
  options: z
    .strictObject({
      mode: z
        .string()
        .regex(/^[0-7]{3,4}$/, "Mode must be an octal string such as 755")
        .superRefine((m, ctx) => {
          const problem = /^[0-7]{3,4}$/.test(m) ? modeProblem(m) : null;
          if (problem) ctx.addIssue({ code: "custom", message: problem });
        })
        .default("755"),
      raise_chmod_error: z.boolean().default(true),
    })
    .default({ mode: "755", raise_chmod_error: true }),
});

export type MkdirInput = z.output<typeof MkdirArgs>;

/** Make the directory; its listdir entry. */
export async function makeDirectory(app: StoragePathsContext, data: MkdirInput): Promise<FsEntry> {
  const attr = `${ARG}.path`;
  const roots = await resolveRoots(app);
  const { path: target, real } = await confine(data.path, attr, roots, { allowRoot: false });
  if (real !== null || (await lstat(target).catch(() => null))) validationError(attr, "Path already exists", "filesystem.exists");
  const name = posix.basename(target);
  const parentReal = await realpath(posix.dirname(target)).catch(() => null);
  if (parentReal === null) validationError(attr, "Parent directory does not exist", "filesystem.not_found");
  if (!insideReal(parentReal, roots)) validationError(attr, outsideMessage(roots), "filesystem.outside_storage_roots");
  const onDisk = posix.join(parentReal, name);
  const mode = parseInt(data.options.mode, 8);
  // The checks above named the parent by path; the directory is made relative to the parent's
  // fd, opened beneath its storage root without following any link, so a parent swapped for a
  // symlink meanwhile makes the call fail instead of creating or chmod-ing outside the roots.
  try {
    await mkdirBeneath(roots, parentReal, name, mode, data.options.raise_chmod_error);
  } catch (e) {
    const code = errCode(e);
    if (code === "EEXIST") validationError(attr, "Path already exists", "filesystem.exists");
    if (code === "ENOTDIR") validationError(attr, "Parent path is not a directory", "filesystem.not_a_directory");
    if (code === "ELOOP" || code === "EXDEV") validationError(attr, outsideMessage(roots), "filesystem.outside_storage_roots");
    if (code === "ENOENT") validationError(attr, "Parent directory does not exist", "filesystem.not_found");
    if (code === "EACCES" || code === "EPERM") throw new CallError(`${target}: permission denied`, "filesystem.permission_denied");
    if (code === "CHMOD") throw new CallError(`${target}: failed to set mode ${data.options.mode}: ${(e as Error).message}`, "filesystem.chmod_failed");
    throw e;
  }
  const parentDev = (await lstat(parentReal)).dev;
  const entry = await entryOf(target, onDisk, roots, parentDev);
  if (!entry) throw new CallError(`${target}: directory vanished after creation`, "filesystem.vanished");
  return entry;
}
