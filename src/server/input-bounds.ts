// Bounds on the shape of call parameters, checked before anything walks them: every decoder,
// validator and filter compiler after this point recurses, and a value nested thousands of levels
// deep would otherwise end as a stack overflow (answered EFAULT, an internal error). Here it is a
// validation error (EINVAL) naming the offending field. The size of a call is bounded already by
// the message limit (64 kB for a session, 8 kB anonymous; 1 MiB for an HTTP body).

import { z } from "zod";
import { ValidationErrors } from "./errors.js";
import { unrenderableChar } from "../accounts/names.js";

/**
 * Deepest nesting of arrays/objects accepted in a call's parameters. A query filter may nest 16
 * `OR` levels (src/store/query-filters.ts), three array levels each, plus the call's own levels:
 * 64 leaves room for every valid query and is far below where recursion gets near the stack limit.
 */
export const MAX_PARAM_DEPTH = 64;

/**
 * Whether `value` nests deeper than `max` (the value itself is depth `depth`). Recursive but
 * bounded: it never descends more than `max` + 1 levels, so it cannot overflow the stack. Called on
 * every call's parameters, so it allocates nothing (the path is found only for a refused call).
 */
function nestsDeeperThan(value: object, depth: number, max: number): boolean {
  if (depth > max) return true;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const c: unknown = value[i];
      if (c !== null && typeof c === "object" && nestsDeeperThan(c, depth + 1, max)) return true;
    }
    return false;
  }
  for (const k in value) {
    if (!Object.hasOwn(value, k)) continue;
    const c = (value as Record<string, unknown>)[k];
    if (c !== null && typeof c === "object" && nestsDeeperThan(c, depth + 1, max)) return true;
  }
  return false;
}

/**
 * The path (keys and indices) of the first value nested deeper than `max`, or null. Iterative, so a
 * hostile depth cannot overflow the stack here either.
 */
export function tooDeepPath(value: unknown, max: number): (string | number)[] | null {
  if (value === null || typeof value !== "object") return null;
  // Each entry links to its parent: the path is built only for the one value that is too deep.
  interface Node {
    v: object;
    depth: number;
    parent: Node | null;
    key: string | number;
  }
  const stack: Node[] = [{ v: value, depth: 1, parent: null, key: "" }];
  while (stack.length) {
    const node = stack.pop()!;
    if (node.depth > max) {
      const path: (string | number)[] = [];
      for (let n: Node | null = node; n?.parent; n = n.parent) path.unshift(n.key);
      return path;
    }
    const v = node.v;
    if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) {
        const c = v[i];
        if (c !== null && typeof c === "object") stack.push({ v: c, depth: node.depth + 1, parent: node, key: i });
      }
    } else {
      for (const k of Object.keys(v)) {
        const c = (v as Record<string, unknown>)[k];
        if (c !== null && typeof c === "object") stack.push({ v: c as object, depth: node.depth + 1, parent: node, key: k });
      }
    }
  }
  return null;
}

/**
 * A validation error for parameters nested deeper than MAX_PARAM_DEPTH (null when they are not).
 * The attribute is the argument's name followed by the first few keys of the path.
 */
export function paramsDepthError(args: readonly { readonly name: string }[], params: readonly unknown[]): ValidationErrors | null {
  for (let i = 0; i < params.length; i++) {
    const p = params[i];
    if (p === null || typeof p !== "object") continue;
    // The positional level counts as the first: params[i] itself is depth 1.
    if (!nestsDeeperThan(p, 1, MAX_PARAM_DEPTH)) continue;
    const path = tooDeepPath(p, MAX_PARAM_DEPTH);
    if (path === null) continue;
    const shown = path.slice(0, 4).join(".");
    const attr = [args[i]?.name ?? String(i), shown].filter(Boolean).join(".") + (path.length > 4 ? ".…" : "");
    return new ValidationErrors().add(attr, `Value is nested too deeply (at most ${MAX_PARAM_DEPTH} levels)`, "core.params_too_deep");
  }
  return null;
}

/** Linux PATH_MAX (4096, with the terminating NUL) and NAME_MAX, in bytes. */
export const PATH_MAX_BYTES = 4095;
export const NAME_MAX_BYTES = 255;

/** Why `p` cannot be a Linux path (too long as a whole or in one component), or null. */
export function pathLengthProblem(p: string): string | null {
  if (Buffer.byteLength(p, "utf8") > PATH_MAX_BYTES) return `Path is too long (at most ${PATH_MAX_BYTES} bytes)`;
  for (const c of p.split("/")) {
    if (Buffer.byteLength(c, "utf8") > NAME_MAX_BYTES) return `A path component is too long (at most ${NAME_MAX_BYTES} bytes)`;
  }
  return null;
}

/**
 * A name or label shown in the UI and written to logs: `min`–`max` characters, none of them a
 * control or formatting character (see src/accounts/names.ts `unrenderableChar`).
 */
export function renderableText(min: number, max: number) {
  return z
    .string()
    .min(min)
    .max(max)
    .refine((s) => unrenderableChar(s) === null, "Control and formatting characters are not allowed");
}
