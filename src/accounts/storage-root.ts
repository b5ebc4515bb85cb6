// Storage-root containment by name: the one rule for "does this path lie in a storage root"
// (accounts, homes, safe-fs, provisioning and the filesystem.* methods all ask it here). Lexical
// only: callers that must also judge where links lead resolve real paths and ask again.

import path from "node:path";

const posix = path.posix;

/** Strip trailing slashes and collapse `//`, `.` and `..` (lexically); "/" stays "/". */
export function normalizeDir(p: string): string {
  const n = posix.normalize(p);
  return n.length > 1 ? n.replace(/\/+$/, "") : n;
}

/** `p` equals `root` or lies below it (both normalized, absolute). */
export function isWithin(p: string, root: string): boolean {
  return p === root || p.startsWith(root === "/" ? "/" : `${root}/`);
}

/**
 * The first storage root (normalized) that `p` lies strictly inside — a root itself is no home —
 * or null. `p` and the roots are normalized here.
 */
export function storageRootOf(p: string, roots: readonly string[]): string | null {
  const h = normalizeDir(p);
  for (const r of roots) {
    const root = normalizeDir(r);
    if (h !== root && isWithin(h, root)) return root;
  }
  return null;
}
