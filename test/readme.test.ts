// Every README line works as written: each ```sh and ```js block of README.md runs, in order,
// against a fresh server (a real `gatehouse serve` process on SQLite), and must succeed.
//
// - The two set-up blocks (`npm ci && npm start`, `npm test`) are skipped: the test is what
//   `npm test` runs, and it starts its own server instead of `npm start`.
// - The server listens on an ephemeral port with its own data directory, so the blocks see
//   `127.0.0.1:<port>` for the README's `127.0.0.1:8440` and that directory for `$PWD/.data`
//   (the only two rewrites). `npx gatehouse` runs the sources, or the build the test
//   command made just before (test/gatehouse-command.ts), never an older build in dist/.
// - Values the README tells a person to set come from the environment, as it says:
//   GATEHOUSE_PASSWORD (chosen by the test), GATEHOUSE_URL and GATEHOUSE_DATA_DIR (the server's),
//   and GATEHOUSE_API_KEY, taken from the `key` the api_key.create block prints.
// Besides running the blocks, the claims the README makes are checked: every method it names
// exists, every picture and local link it shows is there, every package of its dependency table
// is a dependency.

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { startServerProcess, type ServerProcess } from "./process-harness.js";
import { BIN_ENV } from "./gatehouse-command.js";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const README = readFileSync(path.join(ROOT, "README.md"), "utf8");
const SET_UP_BLOCKS = new Set(["npm ci && npm start", "npm test"]);

interface Block {
  lang: "sh" | "js";
  code: string;
  line: number;
}

function blocks(text: string): Block[] {
  const out: Block[] = [];
  const re = /^```(sh|js)\n([\s\S]*?)^```$/gm;
  for (const m of text.matchAll(re)) {
    out.push({ lang: m[1] as "sh" | "js", code: m[2], line: text.slice(0, m.index).split("\n").length });
  }
  return out;
}

describe("README", () => {
  let server: ServerProcess;
  const env: Record<string, string> = {};

  before(async () => {
    server = await startServerProcess();
    Object.assign(env, {
      ...BIN_ENV,
      GATEHOUSE_URL: server.url,
      GATEHOUSE_DATA_DIR: server.dataDir,
      GATEHOUSE_PASSWORD: "readme-test pass phrase 7",
      GATEHOUSE_HASH_ROUNDS: "1000",
    });
  });
  after(async () => {
    await server?.stop();
  });

  const rewrite = (code: string) => code.replaceAll("127.0.0.1:8440", `127.0.0.1:${server.port}`).replaceAll("$PWD/.data", server.dataDir);

  test("has exactly the two set-up blocks and runnable blocks besides", () => {
    const all = blocks(README);
    assert.deepEqual(
      all.filter((b) => SET_UP_BLOCKS.has(b.code.trim())).map((b) => b.code.trim()),
      ["npm ci && npm start", "npm test"],
    );
    assert.ok(all.length >= 6, "README has its examples");
  });

  test("every shell and JS block runs as written, in order", { timeout: 300_000 }, () => {
    for (const b of blocks(README)) {
      if (SET_UP_BLOCKS.has(b.code.trim())) continue;
      const code = rewrite(b.code);
      const r =
        b.lang === "sh"
          ? spawnSync("bash", ["-euo", "pipefail", "-c", code], { cwd: ROOT, env: { ...process.env, ...env }, encoding: "utf8", timeout: 120_000 })
          : spawnSync(process.execPath, ["--input-type=module"], { cwd: ROOT, env: { ...process.env, ...env }, input: code, encoding: "utf8", timeout: 60_000 });
      const where = `README.md:${b.line} (${b.lang})\n${b.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`;
      assert.equal(r.status, 0, `block failed: ${where}`);
      // An RPC error answered to curl is still HTTP 200: no block's output may carry one.
      assert.doesNotMatch(r.stdout, /"error"\s*:/, `block answered an error: ${where}`);
      if (b.code.includes("api_key.create")) {
        const key = JSON.parse(r.stdout).key;
        assert.match(key, /^\d+-/, "api_key.create printed the key");
        env.GATEHOUSE_API_KEY = key;
      }
      if (b.code.includes("curl ")) assert.equal(JSON.parse(r.stdout).result[0].username, "bob", where);
      if (b.lang === "js") assert.match(r.stdout, /admin/, where);
    }
    assert.ok(env.GATEHOUSE_API_KEY, "a block made the API key the later ones use");
    // the demo storage root took carol's home
    assert.ok(existsSync(path.join(server.dataDir, "mnt/homes/carol")), "carol's home was created in the demo storage root");
  });

  test("the versioned one-shot endpoint answers over HTTP POST", async () => {
    const r = await fetch(`${server.httpUrl}/api/v25.10.0`, { method: "POST", body: JSON.stringify({ method: "core.ping", params: [] }) });
    assert.equal(r.status, 200);
    assert.equal(((await r.json()) as { result?: unknown }).result, "pong");
  });

  test("every method the README names exists", async () => {
    const c = await server.client();
    assert.equal((await c.login("admin", env.GATEHOUSE_PASSWORD)).response_type, "SUCCESS");
    const methods = (await c.call("core.get_methods")) as Record<string, unknown>;
    const named = new Set([...README.matchAll(/\b((?:user|group|auth|core|api_key|privilege|system|filesystem|audit)\.[a-z_]+)\b/g)].map((m) => m[1]));
    named.delete("system.security"); // a settings object, named with its fields
    for (const m of named) assert.ok(m in methods, `README names ${m}, which does not exist`);
  });

  test("every picture and local link the README shows exists", () => {
    for (const m of README.matchAll(/\]\(((?!https?:|#)[^)\s]+)\)/g)) assert.ok(existsSync(path.join(ROOT, m[1])), `README links ${m[1]}`);
    for (const m of README.matchAll(/`((?:src|test|bench|docs|web|native|scripts)\/[\w./-]+\.(?:ts|md|json|tsx|sh))`/g)) assert.ok(existsSync(path.join(ROOT, m[1])), `README names ${m[1]}`);
  });

  test("every package of the dependency table is a dependency", () => {
    const pkg = JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8"));
    const deps = new Set([...Object.keys(pkg.dependencies ?? {}), ...Object.keys(pkg.devDependencies ?? {})]);
    const table = README.slice(README.indexOf("## Dependencies and why"));
    const rows = [...table.matchAll(/^\| ([^|]+) \| [^|]+\|$/gm)].map((m) => m[1]).filter((c) => c.trim() !== "package" && !/^-+$/.test(c.trim()));
    assert.ok(rows.length > 10);
    for (const cell of rows) {
      for (const name of cell
        .replace(/\([^)]*\)/g, "")
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean)) {
        assert.ok(deps.has(name), `the table lists ${name}, which package.json does not`);
      }
    }
  });
});
