#!/usr/bin/env node
// Runs the compiled CLI (npm run build); from a source checkout without a build, runs the
// TypeScript sources through tsx (so does GATEHOUSE_FROM_SOURCE=1, for tests that must run the
// code under test rather than an older build).
import { existsSync } from "node:fs";
import { fileURLToPath, pathToFileURL } from "node:url";
import path from "node:path";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const built = path.join(root, "dist/cli/main.js");
if (existsSync(built) && !process.env.GATEHOUSE_FROM_SOURCE) {
  await import(pathToFileURL(built).href);
} else {
  const { register } = await import("tsx/esm/api");
  register();
  await import(pathToFileURL(path.join(root, "src/cli/main.ts")).href);
}
