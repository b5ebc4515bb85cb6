// What a handler sees: the application services, the caller's connection and session, and the
// job it runs in (if any).

export type { CallContext, HandlerApp } from "./method.js";
