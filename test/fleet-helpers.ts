import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { startServerProcess, type ServerProcess } from "./process-harness.js";
import { makeCa, makeServerCert } from "./test-certs.js";
import type { RpcClient } from "../src/cli/client.js";

export interface ManagedSystem {
  proc: ServerProcess;
  /** A FULL_ADMIN key of the system's administrator. */
  apiKey: string;
  /** A key limited to READONLY_ADMIN. */
  readKey: string;
  admin: RpcClient;
  dataDir: string;
}

export interface TestCa {
  dir: string;
  caPem: string;
  certFile: string;
  keyFile: string;
  /** A self-signed certificate (not from the CA) for 127.0.0.1. */
  selfSigned: { certFile: string; keyFile: string };
}

/** A CA, a server certificate it signs for 127.0.0.1 / localhost, and a self-signed one. */
export function makeTestCa(dir: string): TestCa {
  const ca = makeCa(dir, "Gatehouse Test CA");
  const server = makeServerCert(dir, ca);
  const self = makeServerCert(dir, null, "self");
  return { dir, caPem: ca.pem, certFile: server.certFile, keyFile: server.keyFile, selfSigned: { certFile: self.certFile, keyFile: self.keyFile } };
}

/** Start a Gatehouse process as a managed system and make two API keys on it. */
export async function startManagedSystem(opts: { dataDir?: string; port?: number; tls?: { cert: string; key: string } } = {}): Promise<ManagedSystem> {
  const dataDir = opts.dataDir ?? mkdtempSync(path.join(os.tmpdir(), "gh-managed-"));
  const proc = await startServerProcess({ dataDir, port: opts.port, tls: opts.tls });
  const admin = await proc.adminClient();
  const key = await admin.call("api_key.create", { name: `fleet-${Date.now()}`, username: "admin" });
  const readKey = await admin.call("api_key.create", { name: `fleet-read-${Date.now()}`, username: "admin", roles: ["READONLY_ADMIN"] });
  return { proc, apiKey: key.key, readKey: readKey.key, admin, dataDir };
}

/** Restart a stopped managed system on its old port and data dir (its keys still valid). */
export async function restartManagedSystem(sys: ManagedSystem): Promise<ManagedSystem> {
  const proc = await startServerProcess({ dataDir: sys.dataDir, port: sys.proc.port });
  const admin = await proc.adminClient();
  return { ...sys, proc, admin };
}

export function tempDir(prefix: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Poll `fn` until it returns a truthy value (or fail after `ms`). */
export async function eventually<T>(fn: () => Promise<T | null | undefined | false>, ms = 15_000, what = "condition"): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ""}`);
}
