// The extended-JSON codec lives in src/shared/ejson.ts, shared with the web UI.
export { WireSet, fromWire, stringifyWire, toWire } from "../shared/ejson.js";
