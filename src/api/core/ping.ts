import { z } from "zod";
import { defineMethod } from "../method.js";

export const corePing = defineMethod({
  name: "core.ping",
  description: 'Answers "pong": a liveness check that needs no login.',
  args: [],
  returns: z.literal("pong"),
  authenticationRequired: false,
  rateLimit: false,
  handler: () => "pong" as const,
});
