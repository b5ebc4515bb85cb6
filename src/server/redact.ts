// Secret fields of results, replaced by "********" for sessions that may not see them. Used by
// the dispatcher (src/server/rpc.ts), the event bus and the job listings; it needs of a method
// only its secret fields and the role that may see them, so it imports no method definitions.

import { holdsFullAdmin } from "../access/authorize.js";
import { REDACTED } from "../audit/audit.js";
import type { Session } from "../auth/session.js";

/** What redaction reads of a method definition (src/api/method.ts MethodDef satisfies it). */
export interface Redactable {
  secretFields?: readonly string[];
  secretsRole?: string;
  /** Fields only the call's own answer carries (`true`: the whole result); see MethodOptions.showOnce. */
  showOnce?: true | readonly string[];
}

/** Is the session a user session that must not see `def`'s secrets? */
export function mustRedact(def: Redactable, session: Session | null): boolean {
  // Holding FULL_ADMIN shows secrets even under STIG, where it no longer acts as a wildcard.
  if (!session || holdsFullAdmin(session)) return false;
  if (def.secretsRole && session.roles.has(def.secretsRole)) return false;
  return true;
}

function redactEntry(entry: unknown, fields: readonly string[]): unknown {
  if (!entry || typeof entry !== "object") return entry;
  if (Array.isArray(entry)) return entry.map((e) => redactEntry(e, fields));
  const out = { ...(entry as Record<string, unknown>) };
  for (const f of fields) if (f in out) out[f] = REDACTED;
  return out;
}

/**
 * Does `redactEntry(value)` depend only on frozen containers? It reads the arrays it walks and the
 * own fields of their objects (nested values are shared, not read), so then its output for this
 * value can never change.
 */
function redactionIsFixed(value: unknown): boolean {
  if (!value || typeof value !== "object") return true;
  if (!Object.isFrozen(value)) return false;
  if (Array.isArray(value)) {
    for (const e of value) if (e && typeof e === "object" && !redactionIsFixed(e)) return false;
  }
  return true;
}

/** Freeze the containers `redactEntry` created (the rest of a fixed value is frozen already). */
function freezeRedacted(value: unknown): unknown {
  if (value && typeof value === "object" && !Object.isFrozen(value)) {
    Object.freeze(value);
    if (Array.isArray(value)) for (const e of value) freezeRedacted(e);
  }
  return value;
}

/**
 * Redacted copies of frozen results (the query cache hands out deep-frozen results), by result and
 * set of secret fields. The copy of an immutable value is itself frozen, so it can be handed to
 * every caller that may not see the secrets.
 */
const redactedCopies = new WeakMap<object, { fields: readonly string[]; copy: unknown; more?: Map<readonly string[], unknown> }>();

export function redactedCopy(result: unknown, fields: readonly string[]): unknown {
  if (!result || typeof result !== "object" || !Object.isFrozen(result)) return redactEntry(result, fields);
  const memo = redactedCopies.get(result);
  if (memo) {
    if (memo.fields === fields) return memo.copy;
    const other = memo.more?.get(fields);
    if (other !== undefined) return other;
  }
  const copy = redactEntry(result, fields);
  if (!redactionIsFixed(result)) return copy;
  freezeRedacted(copy);
  // Usually one set of secret fields per result (the method that produced it); others go aside.
  if (!memo) redactedCopies.set(result, { fields, copy });
  else (memo.more ??= new Map()).set(fields, copy);
  return copy;
}

export function redactResult(def: Redactable, session: Session | null, result: unknown): unknown {
  if (!def.secretFields?.length || !mustRedact(def, session)) return result;
  return redactedCopy(result, def.secretFields);
}

/**
 * `def`'s secret fields redacted whoever asks: job listings and job events (reference §9: always
 * redacted, unless a session that may see them asks for `extra.raw_result`).
 */
export function redactAlways(def: Redactable, result: unknown): unknown {
  return redactShowOnce(def, def.secretFields?.length ? redactedCopy(result, def.secretFields) : result);
}

/** `def`'s show-once fields redacted (job listings and events, for everyone). */
export function redactShowOnce(def: Redactable, result: unknown): unknown {
  const once = def.showOnce;
  if (!once || result === null || result === undefined) return result;
  return once === true ? REDACTED : redactedCopy(result, once);
}
