// Methods of the filesystem area: the storage roots, and listing / creating directories inside
// them (for the home-directory browser). Nothing outside a storage root is ever listed or made.

import type { MethodDef } from "../method.js";
import { filesystemStorageRoots } from "./storage-roots.js";
import { filesystemListdir } from "./listdir.js";
import { filesystemMkdir } from "./mkdir.js";
import { filesystemStat } from "./stat.js";

export const filesystemMethods: MethodDef[] = [filesystemStorageRoots, filesystemListdir, filesystemMkdir, filesystemStat];
