// Secret arguments (issue 9, point 2). Each method declares which of its arguments are secrets
// (`secretArgs`: an argument's name, or a path into an object argument). The dispatcher uses these
// declarations — not guesses from key names — to keep secrets out of audit rows, logs, job
// listings and error messages: a positional password (`user.setup_local_administrator("admin",
// "…")`) has no key name to guess from. `redactParams`'s key-name list stays as a second net.

import type { MethodDef } from "../api/method.js";
import { CallError, RpcError, ValidationErrors, fieldError, fieldErrorCode } from "../server/errors.js";
import { REDACTED, redactParams } from "./audit.js";

/** What the dispatcher needs to resolve inner calls (core.bulk names the method it calls). */
export interface MethodLookup {
  get(name: string): MethodDef | undefined;
}

/** A declared secret argument, resolved: the positional index and the path inside that argument. */
interface Location {
  index: number;
  path: string[];
}

const locationCache = new WeakMap<MethodDef, Location[]>();

/**
 * Where `def`'s secret arguments are. An argument name may itself contain dots
 * (`user.set_password`), so the longest argument name that prefixes the path wins.
 */
export function secretArgLocations(def: MethodDef): Location[] {
  let locs = locationCache.get(def);
  if (locs) return locs;
  locs = [];
  for (const declared of def.secretArgs ?? []) {
    let best = -1;
    def.args.forEach((a, i) => {
      if ((declared === a.name || declared.startsWith(`${a.name}.`)) && (best < 0 || a.name.length > def.args[best]!.name.length)) best = i;
    });
    // A declaration that names no argument is a programming error: fail loudly at first use.
    if (best < 0) throw new Error(`${def.name}: secretArgs entry "${declared}" names no argument`);
    const rest = declared.slice(def.args[best]!.name.length + 1);
    locs.push({ index: best, path: rest ? rest.split(".") : [] });
  }
  locationCache.set(def, locs);
  return locs;
}

/** Copy `value` with the thing at `path` replaced by REDACTED (`*` walks every list element). */
function redactAt(value: unknown, path: string[]): unknown {
  if (value === null || value === undefined) return value;
  if (!path.length) return REDACTED;
  const [seg, ...rest] = path as [string, ...string[]];
  if (Array.isArray(value)) {
    if (seg === "*") return value.map((v) => redactAt(v, rest));
    if (/^[0-9]+$/.test(seg) && Number(seg) < value.length) {
      const out = [...value];
      out[Number(seg)] = redactAt(value[Number(seg)], rest);
      return out;
    }
    return value;
  }
  if (typeof value === "object" && Object.hasOwn(value, seg)) {
    return { ...(value as Record<string, unknown>), [seg]: redactAt((value as Record<string, unknown>)[seg], rest) };
  }
  return value;
}

/**
 * The call's positional parameters as they may be stored or shown: every declared secret argument
 * replaced by REDACTED, then every value under a well-known secret key name too. `core.bulk`'s
 * inner parameter lists are redacted by the declarations of the method they call (a bulk of bulks
 * too: the recursion is bounded by the parameters' nesting, which the dispatcher limits).
 */
export function redactCallParams(methods: MethodLookup, def: MethodDef, params: unknown[]): unknown[] {
  let out: unknown[] = params;
  for (const { index, path } of secretArgLocations(def)) {
    if (index < out.length) {
      if (out === params) out = [...params];
      out[index] = redactAt(out[index], path);
    }
  }
  if (def.name === "core.bulk" && typeof out[0] === "string" && Array.isArray(out[1])) {
    const inner = methods.get(out[0]);
    if (inner) {
      out = [...out];
      out[1] = (out[1] as unknown[]).map((p) => (Array.isArray(p) ? redactCallParams(methods, inner, p) : p));
    }
  }
  return redactParams(out) as unknown[];
}

/** The string values of a call's declared secret arguments (to scrub them from messages). */
export function secretArgValues(methods: MethodLookup, def: MethodDef, params: unknown[]): string[] {
  const out: string[] = [];
  const collect = (value: unknown, path: string[]): void => {
    if (value === null || value === undefined) return;
    if (!path.length) {
      if (typeof value === "string" && value) out.push(value);
      else if (typeof value === "object") for (const v of Object.values(value)) collect(v, []);
      return;
    }
    const [seg, ...rest] = path as [string, ...string[]];
    if (Array.isArray(value) && seg === "*") for (const v of value) collect(v, rest);
    else if (typeof value === "object" && Object.hasOwn(value, seg)) collect((value as Record<string, unknown>)[seg], rest);
  };
  for (const { index, path } of secretArgLocations(def)) collect(params[index], path);
  if (def.name === "core.bulk" && typeof params[0] === "string" && Array.isArray(params[1])) {
    const inner = methods.get(params[0]);
    if (inner) for (const p of params[1]) if (Array.isArray(p)) out.push(...secretArgValues(methods, inner, p));
  }
  return out;
}

/**
 * Values shorter than this are scrubbed only from the messages about their own argument: replacing
 * every "abc" in every message would garble them, and policy refuses such passwords anyway.
 */
const SCRUB_EVERYWHERE_MIN = 4;

function scrub(text: string, values: readonly string[], everywhereOnly: boolean): string {
  let out = text;
  for (const v of values) if ((!everywhereOnly || v.length >= SCRUB_EVERYWHERE_MIN) && out.includes(v)) out = out.split(v).join(REDACTED);
  return out;
}

/** `value` with every string scrubbed (error `extra` / `data` are small, plain JSON values). */
function scrubDeep(value: unknown, values: readonly string[], depth = 0): unknown {
  if (typeof value === "string") return scrub(value, values, true);
  if (!value || typeof value !== "object" || depth > 8) return value;
  if (Array.isArray(value)) return value.map((v) => scrubDeep(v, values, depth + 1));
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, scrubDeep(v, values, depth + 1)]));
}

/** Does a field error's attribute name a secret argument (or a field inside one)? */
function aboutSecret(attr: string | null, def: MethodDef): boolean {
  if (!attr) return false;
  return (def.secretArgs ?? []).some((p) => attr === p || attr.startsWith(`${p}.`));
}

/**
 * The error without the call's secret argument values, before it is answered, logged or kept in a
 * job: validation messages that echo input, a handler's message, a stack trace, `extra` / `data`.
 * Returns `err` itself when nothing had to change, otherwise a copy of the same class (an error
 * object might be shared, so it is never changed in place).
 */
export function scrubError(err: unknown, def: MethodDef, values: readonly string[]): unknown {
  if (!values.length || !err || typeof err !== "object") return err;
  if (err instanceof ValidationErrors) {
    let changed = false;
    const errors = err.errors.map((triple) => {
      const [attr, message, errno] = triple;
      const clean = scrub(scrub(message, values, true), aboutSecret(attr, def) ? values : [], false);
      const cleanAttr = attr === null ? attr : scrub(attr, values, true);
      if (clean !== message || cleanAttr !== attr) changed = true;
      // The copy keeps the triple's code (and its errno, even where that is not the code's own).
      return fieldError(cleanAttr, clean, { errno, code: fieldErrorCode(triple) });
    });
    return changed ? new ValidationErrors(errors) : err;
  }
  if (!(err instanceof Error)) return err;
  const message = scrub(err.message, values, true);
  const stack = err.stack === undefined ? undefined : scrub(err.stack, values, true);
  let out: Error;
  if (err instanceof CallError) {
    const extra = scrubDeep(err.extra, values);
    if (message === err.message && stack === err.stack && JSON.stringify(extra) === JSON.stringify(err.extra)) return err;
    out = new CallError(message, { errno: err.errno, code: err.code }, extra);
  } else if (err instanceof RpcError) {
    const data = scrubDeep(err.data, values);
    if (message === err.message && stack === err.stack && JSON.stringify(data) === JSON.stringify(err.data)) return err;
    out = new RpcError(err.code, message, data, err.errorCode);
  } else {
    if (message === err.message && stack === err.stack) return err;
    out = new Error(message);
    out.name = err.name;
  }
  out.stack = stack;
  return out;
}
