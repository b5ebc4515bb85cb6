// Storage-root containment by name: the one rule for "does this path lie in a storage root"
// (accounts, homes, safe-fs, provisioning and the filesystem.* methods all ask it here). Lexical
// only: callers that must also judge where links lead resolve real paths and ask again.

import path from "node:path";

const posix = path.posix;

/**
 * A path normalizeDir leaves as it is: not empty, no empty, `.` or `..` segment, no trailing
 * slash. Most paths asked about (every home, at every full provisioning run) are already so.
 */
const NOT_NORMAL = /^$|\/\/|(^|\/)\.\.?(\/|$)|.\/$/;

/** Strip trailing slashes and collapse `//`, `.` and `..` (lexically); "/" stays "/". */
export function normalizeDir(p: string): string {
  if (!NOT_NORMAL.test(p)) return p;
  const n = posix.normalize(p);
  return n.length > 1 ? n.replace(/\/+$/, "") : n;
}

/** Roots normalized, by the list they came in (a server's configured roots: one list, asked for every home), with the roots they were made from. */
const normalizedRoots = new WeakMap<readonly string[], { from: string[]; normal: string[] }>();

/** `roots` normalized, made again whenever the list no longer holds what they were made from. */
function normalRoots(roots: readonly string[]): string[] {
  const kept = normalizedRoots.get(roots);
  if (kept && kept.from.length === roots.length && kept.from.every((r, i) => r === roots[i])) return kept.normal;
  const made = { from: [...roots], normal: roots.map(normalizeDir) };
  normalizedRoots.set(roots, made);
  return made.normal;
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
  for (const root of normalRoots(roots)) if (h !== root && isWithin(h, root)) return root;
  return null;
}
