// Extended JSON (reference §8.6): datetimes travel as {"$date": ms}, sets as {"$set": [...]},
// dates as {"$type":"date","$value":"YYYY-MM-DD"}, times as {"$time":"HH:MM:SS"}, in both directions.
// Inbound sets become plain arrays (every schema takes lists); inbound $date becomes a Date.
// The one codec of the server and the web UI (web/src/api.ts imports it): no imports and no
// Node-only API here, so both builds take it as it is.

/** Wrap a value that must be sent as `{"$set": [...]}` (e.g. auth.me privilege.roles). */
export class WireSet<T = unknown> {
  constructor(readonly items: readonly T[]) {}
}

/**
 * One JSON value already in wire form, kept as its text: the fleet proxy passes a system's answer
 * through without decoding and encoding it again. The server's reply splices the text in; anything
 * else that encodes it (a job's result, an HTTP answer) parses it back.
 */
export class RawWire {
  constructor(readonly json: string) {}
}

/**
 * Wire forms of deeply frozen arrays and objects. Such a value cannot change, so neither can its
 * wire form: values shared by many answers (a role set's sorted roles, its method allowlist — a
 * login's answer carries a hundred entries) are walked once, not on every answer.
 */
const frozenWire = new WeakMap<object, unknown>();

/** Is every array and object inside `value` (itself included) frozen? */
function deeplyFrozen(value: unknown): boolean {
  if (value === null || typeof value !== "object") return true;
  if (!Object.isFrozen(value)) return false;
  for (const v of Object.values(value)) if (!deeplyFrozen(v)) return false;
  return true;
}

export function toWire(value: unknown): unknown {
  if (value === null || typeof value !== "object") return value;
  if (value instanceof RawWire) return JSON.parse(value.json);
  if (value instanceof Date) return { $date: value.getTime() };
  if (value instanceof WireSet) return { $set: toWire(value.items) };
  if (value instanceof Set) return { $set: [...value].map(toWire) };
  if (Object.isFrozen(value) && !(value instanceof Uint8Array)) {
    if (frozenWire.has(value)) return frozenWire.get(value);
    const w = walk(value);
    if (deeplyFrozen(value)) frozenWire.set(value, w);
    return w;
  }
  return walk(value);
}

/** toWire of an array or object: copied on change, else the value itself. */
function walk(value: object): unknown {
  if (Array.isArray(value)) {
    let out: unknown[] | null = null;
    for (let i = 0; i < value.length; i++) {
      const v = value[i];
      const w = toWire(v);
      if (w !== v && !out) out = value.slice(0, i);
      if (out) out.push(w);
    }
    return out ?? value;
  }
  if (value instanceof Uint8Array) return base64(value);
  const src = value as Record<string, unknown>;
  // A plain object's copy starts as a spread of it (one step, the same fast shape: a user entry
  // copied key by key for its one Date became a dictionary, slower to build and to stringify).
  // (Not with an own "__proto__" key, which a key-by-key copy turns into the copy's prototype.)
  const plain = Object.getPrototypeOf(src) === Object.prototype && !Object.hasOwn(src, "__proto__");
  let out: Record<string, unknown> | null = null;
  let undefinedSeen = false;
  for (const key in src) {
    const v = src[key];
    if (v === undefined) {
      undefinedSeen = true;
      continue;
    }
    const w = toWire(v);
    if (w !== v && !out) {
      if (plain) out = { ...src };
      else {
        out = {};
        for (const k in src) {
          if (k === key) break;
          if (src[k] !== undefined) out[k] = src[k];
        }
      }
    }
    if (out) out[key] = w;
  }
  // The copy leaves out undefined values, as a key-by-key copy does.
  if (out && plain && undefinedSeen) for (const k in out) if (out[k] === undefined) delete out[k];
  return out ?? value;
}

/**
 * Decode extended JSON. Copy on change, like `toWire`: a value without any `$date`/`$set`/…
 * inside comes back as the same object (inbound values are freshly parsed JSON).
 */
export function fromWire(value: unknown): unknown {
  if (value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) {
    let out: unknown[] | null = null;
    for (let i = 0; i < value.length; i++) {
      const v = value[i];
      const w = v !== null && typeof v === "object" ? fromWire(v) : v;
      if (w !== v && !out) out = value.slice(0, i);
      if (out) out.push(w);
    }
    return out ?? value;
  }
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj);
  if (keys.length === 1) {
    if (keys[0] === "$date" && typeof obj.$date === "number") return new Date(obj.$date);
    if (keys[0] === "$set" && Array.isArray(obj.$set)) return obj.$set.map(fromWire);
    if (keys[0] === "$time" && typeof obj.$time === "string") return obj.$time;
  }
  if (keys.length === 2 && obj.$type === "date" && typeof obj.$value === "string") return obj.$value;
  let out: Record<string, unknown> | null = null;
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i]!;
    const v = obj[k];
    const w = v !== null && typeof v === "object" ? fromWire(v) : v;
    if (w !== v && !out) {
      out = {};
      for (let j = 0; j < i; j++) out[keys[j]!] = obj[keys[j]!];
    }
    if (out) out[k] = w;
  }
  return out ?? value;
}

/** Bytes (a Node Buffer included) travel as base64, without Node's Buffer API. */
function base64(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

export function stringifyWire(value: unknown): string {
  return value instanceof RawWire ? value.json : JSON.stringify(toWire(value));
}
