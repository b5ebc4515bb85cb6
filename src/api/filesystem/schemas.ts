// Result schema of a directory entry (filesystem.listdir, filesystem.mkdir), as common.ts builds it.

import { z } from "zod";
import { entity } from "../../server/wire-schema.js";

export const FsEntrySchema = entity("FsEntry", "A directory entry inside a storage root.", {
  name: z.string().describe("Entry name."),
  path: z.string().describe("Path as given (inside a storage root)."),
  realpath: z.string().describe("Path with links resolved."),
  type: z.enum(["DIRECTORY", "FILE", "SYMLINK", "OTHER"]).describe("Entry type (links are not followed)."),
  size: z.number().int().describe("Size in bytes."),
  allocation_size: z.number().int().describe("Bytes allocated on disk."),
  mode: z.number().int().describe("Mode bits (st_mode)."),
  acl: z.literal(false).describe("Always false (no ACLs)."),
  uid: z.number().int().describe("Owner uid."),
  gid: z.number().int().describe("Owner gid."),
  is_mountpoint: z.boolean().describe("A mount point."),
  is_ctldir: z.literal(false).describe("Always false."),
});
