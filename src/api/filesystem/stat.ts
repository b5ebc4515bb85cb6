import { z } from "zod";
import { arg, defineMethod } from "../method.js";
import { entity } from "../../server/wire-schema.js";
import { pathLengthProblem } from "../../server/input-bounds.js";
import { statInStorageRoots } from "../../filesystem/stat.js";

/** A path longer than Linux allows answers EINVAL (bounded input), not a lookup error. */
const boundedPath = z.string().superRefine((p, ctx) => {
  const problem = pathLengthProblem(p);
  if (problem) ctx.addIssue({ code: "custom", message: problem });
});

const PathStatSchema = entity("PathStat", "The attributes of one path inside a storage root (links not followed).", {
  realpath: z.string().describe("The path (no link is followed on the way to it)."),
  type: z.enum(["DIRECTORY", "FILE", "SYMLINK", "OTHER"]).describe("Type of the path itself (a link is reported as SYMLINK)."),
  size: z.number().int().describe("Size in bytes."),
  allocation_size: z.number().int().describe("Bytes allocated on disk."),
  mode: z.number().int().describe("Mode bits (st_mode)."),
  acl: z.literal(false).describe("Always false (no ACLs)."),
  uid: z.number().int().describe("Owner uid."),
  gid: z.number().int().describe("Owner gid."),
  atime: z.number().describe("Last access, seconds since the epoch."),
  mtime: z.number().describe("Last modification, seconds since the epoch."),
  ctime: z.number().describe("Last status change, seconds since the epoch."),
  dev: z.number().int().describe("Device number."),
  inode: z.number().int().describe("Inode number."),
  nlink: z.number().int().describe("Number of hard links."),
  is_mountpoint: z.boolean().describe("A mount point."),
  is_ctldir: z.literal(false).describe("Always false."),
});

export const filesystemStat = defineMethod({
  name: "filesystem.stat",
  description: "The attributes (mode, owner, size, times) of one path inside a storage root, without following links; e.g. a home directory's mode.",
  args: [arg("path", boundedPath)],
  returns: PathStatSchema,
  roles: ["FILESYSTEM_ATTRS_READ"],
  handler: (ctx, p) => statInStorageRoots(ctx.app, p),
});
