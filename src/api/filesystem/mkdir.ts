import { arg, defineMethod } from "../method.js";
import { makeDirectory, MkdirArgs } from "../../filesystem/mkdir.js";
import { FsEntrySchema } from "../../filesystem/schemas.js";

export const filesystemMkdir = defineMethod({
  name: "filesystem.mkdir",
  description: "Creates one directory inside a storage root (its parent must exist) with the given mode; returns its listdir entry.",
  args: [arg("filesystem_mkdir", MkdirArgs)],
  returns: FsEntrySchema,
  roles: ["FILESYSTEM_DATA_WRITE", "ACCOUNT_WRITE"],
  audit: (data) => `Filesystem mkdir ${data.path}`,
  handler: (ctx, data) => makeDirectory(ctx.app, data),
});
