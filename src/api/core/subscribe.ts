import { z } from "zod";
import { arg, defineMethod } from "../method.js";
import { canSubscribe, seesAllJobs } from "../../access/authorize.js";
import { CallError } from "../../server/errors.js";
import { stringifyWire } from "../../server/ejson.js";
import { redactEventPayload, type EventPayload } from "../../server/events.js";

export const coreSubscribe = defineMethod({
  name: "core.subscribe",
  fleetUser: true,
  description: 'Subscribes to an event (e.g. "user.query", "core.get_jobs"); returns the subscription id. Notifications arrive as collection_update.',
  args: [arg("name", z.string().min(1))],
  returns: z.string(),
  authorizationRequired: false,
  handler: (ctx, name) => {
    const session = ctx.session!;
    if (!canSubscribe(ctx.app.registry, session, name)) throw new CallError("Not authorized", "core.not_authorized");
    const conn = ctx.conn;
    const ownJobsOnly = name === "core.get_jobs" && !seesAllJobs(session);
    const id = ctx.app.events.subscribe(name, {
      deliver(_subId, payload) {
        if (ownJobsOnly) {
          const job = ctx.app.jobs.get(payload.id as number);
          if (!job || job.owner.sessionId !== conn.session?.id) return;
        }
        // Secret fields as this session may see them, decided at delivery (rights change).
        const send = (p: EventPayload) => {
          const visible = redactEventPayload(ctx.app.registry, conn.session, p);
          if (visible) conn.send(stringifyWire({ jsonrpc: "2.0", method: "collection_update", params: visible }));
        };
        // A collection with a delivery rule (EventGate): only what this session may see of it.
        const gate = conn.session ? ctx.app.events.gateOf(payload.collection) : undefined;
        if (!gate) return send(payload);
        Promise.resolve(gate(conn.session!, payload)).then(
          (p) => p && send(p),
          () => {},
        );
      },
    });
    conn.subscriptions.set(id, name);
    return id;
  },
});

export const coreUnsubscribe = defineMethod({
  name: "core.unsubscribe",
  fleetUser: true,
  description: "Ends a subscription made with core.subscribe.",
  args: [arg("id", z.string())],
  returns: z.null(),
  authorizationRequired: false,
  handler: (ctx, id) => {
    if (ctx.conn.subscriptions.delete(id)) ctx.app.events.unsubscribe(id);
    return null;
  },
});
