// The extended-JSON codec lives in src/shared/ejson.ts, shared with the web UI.
export { RawWire, WireSet, fromWire, stringifyWire, toWire } from "../shared/ejson.js";
