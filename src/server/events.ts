// Event subscriptions (reference §8.3). Publishers call `publish(collection, msg, id, fields)`;
// each connection keeps its own subscriptions and receives `collection_update` notifications.

import { randomUUID } from "node:crypto";
import type { MethodDef } from "../api/method.js";
import type { Session } from "../auth/session.js";
import { redactResult } from "./rpc.js";

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

export class EventBus {
  private readonly byName = new Map<string, Map<string, Subscription>>();

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
 * by that method's secret fields, a job (`core.get_jobs`) by the secret fields of the method it ran.
 * Publishers redact too, but this is the one place every notification passes, so a publisher that
 * forgets cannot leak. null: nobody is signed in on the connection any more — deliver nothing.
 */
export function redactEventPayload(methods: { get(name: string): MethodDef | undefined }, session: Session | null, payload: EventPayload): EventPayload | null {
  if (!session) return null;
  if (payload.fields === undefined) return payload;
  if (payload.collection === "core.get_jobs") {
    const entry = payload.fields as { method?: unknown; result?: unknown } | null;
    const def = entry && typeof entry.method === "string" ? methods.get(entry.method) : undefined;
    if (!def || entry!.result === null || entry!.result === undefined) return payload;
    const result = redactResult(def, session, entry!.result);
    return result === entry!.result ? payload : { ...payload, fields: { ...entry, result } };
  }
  const def = methods.get(payload.collection);
  if (!def) return payload;
  const fields = redactResult(def, session, payload.fields);
  return fields === payload.fields ? payload : { ...payload, fields };
}
