import { lstat, realpath } from "node:fs/promises";
import path from "node:path";
import { z } from "zod";
import { arg, defineMethod } from "../method.js";
import { CallError, ERRNO, validationError } from "../../server/errors.js";
import { confine, entryOf, insideReal, mkdirBeneath, outsideMessage, resolveRoots } from "./common.js";
import { errCode } from "../../accounts/safe-fs.js";

const posix = path.posix;
const ARG = "filesystem_mkdir";

const MkdirArgs = z.strictObject({
  path: z.string(),
  options: z
    .strictObject({
      mode: z.string().regex(/^[0-7]{3,4}$/, "Mode must be an octal string such as 755").default("755"),
      raise_chmod_error: z.boolean().default(true),
    })
    .default({ mode: "755", raise_chmod_error: true }),
});

export const filesystemMkdir = defineMethod({
  name: "filesystem.mkdir",
  description: "Creates one directory inside a storage root (its parent must exist) with the given mode; returns its listdir entry.",
  args: [arg(ARG, MkdirArgs)],
  roles: ["FILESYSTEM_DATA_WRITE", "ACCOUNT_WRITE"],
  audit: (data) => `Filesystem mkdir ${data.path}`,
  handler: async (ctx, data) => {
    const attr = `${ARG}.path`;
    const roots = await resolveRoots(ctx.app);
    const { path: target, real } = await confine(data.path, attr, roots, { allowRoot: false });
    if (real !== null || (await lstat(target).catch(() => null))) validationError(attr, "Path already exists", ERRNO.EEXIST);
    const name = posix.basename(target);
    const parentReal = await realpath(posix.dirname(target)).catch(() => null);
    if (parentReal === null) validationError(attr, "Parent directory does not exist", ERRNO.ENOENT);
    if (!insideReal(parentReal, roots)) validationError(attr, outsideMessage(roots), ERRNO.EINVAL);
    const onDisk = posix.join(parentReal, name);
    const mode = parseInt(data.options.mode, 8);
    // The checks above named the parent by path; the directory is made relative to the parent's
    // fd, opened beneath its storage root without following any link, so a parent swapped for a
    // symlink meanwhile makes the call fail instead of creating or chmod-ing outside the roots.
    try {
      await mkdirBeneath(roots, parentReal, name, mode, data.options.raise_chmod_error);
    } catch (e) {
      const code = errCode(e);
      if (code === "EEXIST") validationError(attr, "Path already exists", ERRNO.EEXIST);
      if (code === "ENOTDIR") validationError(attr, "Parent path is not a directory", ERRNO.ENOTDIR);
      if (code === "ELOOP" || code === "EXDEV") validationError(attr, outsideMessage(roots), ERRNO.EINVAL);
      if (code === "ENOENT") validationError(attr, "Parent directory does not exist", ERRNO.ENOENT);
      if (code === "EACCES" || code === "EPERM") throw new CallError(`${target}: permission denied`, ERRNO.EACCES);
      if (code === "CHMOD") throw new CallError(`${target}: failed to set mode ${data.options.mode}: ${(e as Error).message}`, ERRNO.EFAULT);
      throw e;
    }
    const parentDev = (await lstat(parentReal)).dev;
    const entry = await entryOf(target, onDisk, roots, parentDev);
    if (!entry) throw new CallError(`${target}: directory vanished after creation`, ERRNO.ENOENT);
    return entry;
  },
});
