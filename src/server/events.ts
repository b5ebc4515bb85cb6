// Event subscriptions (reference §8.3). Publishers call `publish(collection, msg, id, fields)`;
// each connection keeps its own subscriptions and receives `collection_update` notifications.

import { randomUUID } from "node:crypto";
import type { Session } from "../auth/session.js";
import { redactAlways, redactResult, type Redactable } from "./redact.js";

export type EventMessage = "added" | "changed" | "removed";

export interface EventPayload {
  msg: EventMessage;
  collection: string;
  id: unknown;
  fields?: unknown;
  extra?: Record<string, unknown>;
}

export interface Subscriber {
  /** Returns false when the subscriber should not receive this event (e.g. a job it does not own). */
  deliver(subscriptionId: string, payload: EventPayload): void;
}

interface Subscription {
  id: string;
  name: string;
  subscriber: Subscriber;
}

/**
 * What one subscriber's session may receive of an event: the payload (possibly adjusted for it),
 * or null for nothing. A collection whose entries are not all visible to everyone who may
 * subscribe (fleet systems: only those the caller has access to) registers one; core.subscribe
 * runs it at delivery, so it decides with the rights of that moment.
 */
export type EventGate = (session: Session, payload: EventPayload) => EventPayload | null | Promise<EventPayload | null>;

export class EventBus {
  private readonly byName = new Map<string, Map<string, Subscription>>();
  private readonly gates = new Map<string, EventGate>();

  /** Register the delivery rule of a collection (see EventGate). */
  setGate(collection: string, gate: EventGate): void {
    this.gates.set(collection, gate);
  }

  gateOf(collection: string): EventGate | undefined {
    return this.gates.get(collection);
  }

  subscribe(name: string, subscriber: Subscriber): string {
    const id = randomUUID();
    let subs = this.byName.get(name);
    if (!subs) this.byName.set(name, (subs = new Map()));
    subs.set(id, { id, name, subscriber });
    return id;
  }

  unsubscribe(id: string): boolean {
    for (const [name, subs] of this.byName) {
      if (subs.delete(id)) {
        if (!subs.size) this.byName.delete(name);
        return true;
      }
    }
    return false;
  }

  publish(collection: string, msg: EventMessage, id: unknown, fields?: unknown, extra?: Record<string, unknown>): void {
    const payload: EventPayload = { msg, collection, id };
    if (msg !== "removed" && fields !== undefined) payload.fields = fields;
    if (extra) payload.extra = extra;
    for (const name of [collection, "*"]) {
      const subs = this.byName.get(name);
      if (!subs) continue;
      for (const sub of subs.values()) {
        try {
          sub.subscriber.deliver(sub.id, payload);
        } catch {
          // A broken subscriber must not break the publisher.
        }
      }
    }
  }

  subscriberCount(name: string): number {
    return this.byName.get(name)?.size ?? 0;
  }
}

/**
 * A payload as `session` may see it: a collection named after a method (`user.query`) is redacted
 * by that method's secret fields for this session, a job (`core.get_jobs`) by the secret fields of
 * the method it ran, for every session.
 * Publishers redact too, but this is the one place every notification passes, so a publisher that
 * forgets cannot leak. null: nobody is signed in on the connection any more — deliver nothing.
 */
export function redactEventPayload(methods: { get(name: string): Redactable | undefined }, session: Session | null, payload: EventPayload): EventPayload | null {
  if (!session) return null;
  if (payload.fields === undefined) return payload;
  if (payload.collection === "core.get_jobs") {
    const entry = payload.fields as { method?: unknown; arguments?: unknown; result?: unknown } | null;
    if (!entry || typeof entry.method !== "string") return payload;
    // Job events carry results redacted whoever receives them (as core.get_jobs lists them).
    const result = redactJobResult(methods, entry.method, entry.arguments, entry.result, redactAlways);
    return result === entry.result ? payload : { ...payload, fields: { ...entry, result } };
  }
  const def = methods.get(payload.collection);
  if (!def) return payload;
  const fields = redactResult(def, session, payload.fields);
  return fields === payload.fields ? payload : { ...payload, fields };
}

/**
 * A job's result with the secret fields of the method it ran redacted by `redact`; a `core.bulk`
 * job's per-call results by the method it called (a bulk of bulks too).
 */
export function redactJobResult(
  methods: { get(name: string): Redactable | undefined },
  method: string,
  args: unknown,
  result: unknown,
  redact: (def: Redactable, value: unknown) => unknown,
  depth = 0,
): unknown {
  if (result === null || result === undefined) return result;
  const def = methods.get(method);
  if (!def) return result;
  if (method === "core.bulk" && Array.isArray(args) && typeof args[0] === "string" && Array.isArray(result) && depth < 8) {
    const inner = args[0];
    const innerArgs = Array.isArray(args[1]) ? args[1] : [];
    let changed = false;
    const out = result.map((item: unknown, i) => {
      if (!item || typeof item !== "object" || !("result" in item)) return item;
      const r = (item as { result: unknown }).result;
      const red = redactJobResult(methods, inner, innerArgs[i], r, redact, depth + 1);
      if (red === r) return item;
      changed = true;
      return { ...(item as object), result: red };
    });
    return changed ? out : result;
  }
  return redact(def, result);
}
