// How tests run the `gatehouse` command as a child process. The test command (scripts/test)
// compiles dist/ from this very tree just before the tests and sets GATEHOUSE_TEST_BUILT=1; the
// children then run the compiled code, which starts with about a second less CPU than compiling
// the sources through tsx (the suite starts dozens of servers). A test file run on its own runs
// the TypeScript sources, so it never tests a stale build.
import { execFile } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const built = process.env.GATEHOUSE_TEST_BUILT === "1";

/** node arguments that run `gatehouse` (append the subcommand and its flags). */
export const GATEHOUSE_ARGS: readonly string[] = built ? [path.join(ROOT, "dist/cli/main.js")] : ["--import", "tsx", path.join(ROOT, "src/cli/main.ts")];

/** environment for `bin/gatehouse.js` (the user's entry point): sources unless the tree was just built. */
export const BIN_ENV: Readonly<Record<string, string>> = built ? {} : { GATEHOUSE_FROM_SOURCE: "1" };

export interface CommandRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** `gatehouse …` through bin/gatehouse.js, as a user runs it, asynchronously (a synchronous spawn
 * would stop an in-process server it talks to); never rejects: the exit status is in `code`. */
export function gatehouse(args: string[], env: Record<string, string> = {}, timeoutMs = 90_000): Promise<CommandRun> {
  return new Promise((resolve) => {
    execFile(process.execPath, [path.join(ROOT, "bin/gatehouse.js"), ...args], { env: { ...process.env, ...BIN_ENV, ...env }, timeout: timeoutMs }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === "number" ? (err as { code: number }).code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}
