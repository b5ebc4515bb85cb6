import { arg, defineMethod } from "../method.js";
import { statInStorageRoots } from "../../filesystem/stat.js";
import { boundedPath, PathStatSchema } from "../../filesystem/schemas.js";

export const filesystemStat = defineMethod({
  name: "filesystem.stat",
  description: "The attributes (mode, owner, size, times) of one path inside a storage root, without following links; e.g. a home directory's mode.",
  args: [arg("path", boundedPath)],
  returns: PathStatSchema,
  roles: ["FILESYSTEM_ATTRS_READ"],
  handler: (ctx, p) => statInStorageRoots(ctx.app, p),
});
