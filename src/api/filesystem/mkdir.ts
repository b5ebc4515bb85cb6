import { chmod, lstat, mkdir, realpath, rmdir } from "node:fs/promises";
import path from "node:path";
import { z } from "zod";
import { arg, defineMethod } from "../method.js";
import { CallError, ERRNO, validationError } from "../../server/errors.js";
import { confine, entryOf, insideReal, outsideMessage, resolveRoots } from "./common.js";

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
    try {
      await mkdir(onDisk, { mode: 0o700 });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === "EEXIST") validationError(attr, "Path already exists", ERRNO.EEXIST);
      if (code === "ENOTDIR") validationError(attr, "Parent path is not a directory", ERRNO.ENOTDIR);
      if (code === "EACCES" || code === "EPERM") throw new CallError(`${target}: permission denied`, ERRNO.EACCES);
      throw e;
    }
    // A parent swapped for a symlink between the checks and mkdir must not leave a directory
    // outside the roots.
    const createdReal = await realpath(onDisk).catch(() => null);
    if (createdReal === null || !insideReal(createdReal, roots)) {
      await rmdir(onDisk).catch(() => {});
      validationError(attr, outsideMessage(roots), ERRNO.EINVAL);
    }
    try {
      await chmod(onDisk, mode);
    } catch (e) {
      if (data.options.raise_chmod_error) throw new CallError(`${target}: failed to set mode ${data.options.mode}: ${(e as Error).message}`, ERRNO.EFAULT);
    }
    const parentDev = (await lstat(parentReal)).dev;
    const entry = await entryOf(target, onDisk, roots, parentDev);
    if (!entry) throw new CallError(`${target}: directory vanished after creation`, ERRNO.ENOENT);
    return entry;
  },
});
