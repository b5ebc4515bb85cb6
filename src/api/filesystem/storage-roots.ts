import { z } from "zod";
import { defineMethod } from "../method.js";
import { storageRoots } from "../../filesystem/storage-paths.js";

export const filesystemStorageRoots = defineMethod({
  name: "filesystem.storage_roots",
  description: "Lists the configured storage roots: the directories home directories may be created in (Gatehouse-specific).",
  args: [],
  returns: z.array(z.string()),
  roles: ["ACCOUNT_READ", "FILESYSTEM_ATTRS_READ"],
  handler: (ctx) => storageRoots(ctx.app),
});
