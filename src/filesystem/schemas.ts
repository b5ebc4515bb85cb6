// Schemas of the filesystem methods: the bounded path argument, a directory entry
// (filesystem.listdir, filesystem.mkdir, built by storage-paths.ts) and one path's attributes
// (filesystem.stat, stat.ts). The attributes both results report are declared once
// (fileAttributes); the services' result types are inferred from these schemas.

import { z } from "zod";
import { entity } from "../server/wire-schema.js";
import { pathLengthProblem } from "../server/input-bounds.js";

/** A path longer than Linux allows answers EINVAL (bounded input), not a lookup error. */
export const boundedPath = z.string().superRefine((p, ctx) => {
  const problem = pathLengthProblem(p);
  if (problem) ctx.addIssue({ code: "custom", message: problem });
});

/** What lstat tells of a path, as both results report it (links are not followed). */
const fileAttributes = {
  size: z.number().int().describe("Size in bytes."),
  allocation_size: z.number().int().describe("Bytes allocated on disk."),
  mode: z.number().int().describe("Mode bits (st_mode)."),
  acl: z.literal(false).describe("Always false (no ACLs)."),
  uid: z.number().int().describe("Owner uid."),
  gid: z.number().int().describe("Owner gid."),
};
export const entryType = z.enum(["DIRECTORY", "FILE", "SYMLINK", "OTHER"]);

export const FsEntrySchema = entity("FsEntry", "A directory entry inside a storage root.", {
  name: z.string().describe("Entry name."),
  path: z.string().describe("Path as given (inside a storage root)."),
  realpath: z.string().describe("Path with links resolved."),
  type: entryType.describe("Entry type (links are not followed)."),
  ...fileAttributes,
  is_mountpoint: z.boolean().describe("A mount point."),
  is_ctldir: z.literal(false).describe("Always false."),
});

export const PathStatSchema = entity("PathStat", "The attributes of one path inside a storage root (links not followed).", {
  realpath: z.string().describe("The path (no link is followed on the way to it)."),
  type: entryType.describe("Type of the path itself (a link is reported as SYMLINK)."),
  ...fileAttributes,
  atime: z.number().describe("Last access, seconds since the epoch."),
  mtime: z.number().describe("Last modification, seconds since the epoch."),
  ctime: z.number().describe("Last status change, seconds since the epoch."),
  dev: z.number().int().describe("Device number."),
  inode: z.number().int().describe("Inode number."),
  nlink: z.number().int().describe("Number of hard links."),
  is_mountpoint: z.boolean().describe("A mount point."),
  is_ctldir: z.literal(false).describe("Always false."),
});

export type EntryType = z.infer<typeof entryType>;
export type FsEntry = z.infer<typeof FsEntrySchema>;
export type PathStat = z.infer<typeof PathStatSchema>;
