import { readFileSync } from "node:fs";
import { z } from "zod";
import { defineMethod } from "../method.js";

// The package's version, read once (the appliance answers e.g. "TrueNAS-SCALE-25.10.0").
const VERSION = `Gatehouse-${(JSON.parse(readFileSync(new URL("../../../package.json", import.meta.url), "utf8")) as { version: string }).version}`;

export const systemVersion = defineMethod({
  name: "system.version",
  description: "The server's product and version (e.g. \"Gatehouse-0.1.0\"), as the appliance's system.version; a fleet manager refreshes its cache of this system's method list when it changes.",
  args: [],
  returns: z.string(),
  // Any authenticated session, as on the appliance (no role needed).
  authorizationRequired: false,
  handler: () => VERSION,
});
