// Event subscriptions (reference §8.3). Publishers call `publish(collection, msg, id, fields)`;
// each connection keeps its own subscriptions and receives `collection_update` notifications.

import { randomUUID } from "node:crypto";

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
