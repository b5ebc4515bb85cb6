// From a stored system to the Endpoint a connection is made with: the sealed keys opened with the
// store's secret box, the certificate authority's PEM read from the registered CAs, and the URL
// rule (ws:// only to a loopback host: an appliance revokes a key that crossed a network in clear).

import { isIP } from "node:net";
import type { Store, Tx } from "../store/db.js";
import type { SecretBox } from "../store/secret-box.js";
import { param, prepare } from "../auth/prepared.js";
import { caPemById } from "../directory/certificate-authorities.js";
import { ConnectFailure, type Endpoint } from "./remote-connection.js";

export const API_KEY_PURPOSE = "fleet.system.api_key";
export const READ_API_KEY_PURPOSE = "fleet.system.read_api_key";

/** The columns of fleet_systems a connection needs. */
export interface SystemRow {
  id: number;
  name: string;
  url: string;
  username: string | null;
  api_key: string;
  read_api_key: string | null;
  verify_ssl: number;
  ca: number | null;
}

export const SYSTEM_ROW_COLUMNS = ["id", "name", "url", "username", "api_key", "read_api_key", "verify_ssl", "ca"] as const;

// Read on every proxied call: compiled once per store.
const systemRowById = prepare<[number]>()(1, (db) => db.selectFrom("fleet_systems").select(SYSTEM_ROW_COLUMNS).where("id", "=", param<number>(0)).compile());

export async function systemRow(db: Tx, id: number): Promise<SystemRow | undefined> {
  return systemRowById.first(db, id);
}

/** Every system row a connection needs (the poller's round). */
export async function allSystemRows(db: Tx): Promise<SystemRow[]> {
  return db.selectFrom("fleet_systems").select(SYSTEM_ROW_COLUMNS).orderBy("id").execute();
}

/** The PEM of a registered certificate authority (null: no such CA). */
export async function caPem(db: Tx, id: number): Promise<string | null> {
  return caPemById(db, id);
}

/** Is `host` (a URL's hostname) a loopback address or name? */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, "").toLowerCase();
  if (h === "localhost" || h.endsWith(".localhost")) return true;
  if (isIP(h) === 4) return h.startsWith("127.");
  if (isIP(h) === 6) return h === "::1" || h === "0:0:0:0:0:0:0:1" || /^::ffff:127\./.test(h);
  return false;
}

/** Why `url` is not an acceptable system URL (null: it is), with the stable code. */
export function urlProblem(url: string): { message: string; code: "fleet.system_invalid_url" | "fleet.system_insecure_url" } | null {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return { message: "Not a URL (expected wss://host[:port]/api/current)", code: "fleet.system_invalid_url" };
  }
  if (u.protocol !== "ws:" && u.protocol !== "wss:") return { message: "The URL must start with ws:// or wss://", code: "fleet.system_invalid_url" };
  if (u.username || u.password) return { message: "The URL must not carry credentials (use api_key)", code: "fleet.system_invalid_url" };
  if (!/^\/api\/(current|v[0-9][0-9.]*)$/.test(u.pathname)) return { message: "The URL's path must be /api/current (or /api/<version>)", code: "fleet.system_invalid_url" };
  if (u.search || u.hash) return { message: "The URL must not have a query or fragment", code: "fleet.system_invalid_url" };
  if (u.protocol === "ws:" && !isLoopbackHost(u.hostname)) {
    return { message: "Plain ws:// is only allowed to a loopback host; use wss:// (an API key must not cross a network in clear)", code: "fleet.system_insecure_url" };
  }
  return null;
}

/** Opened keys by sealed text, per secret box (bounded; oldest dropped first). */
const openedKeys = new WeakMap<SecretBox, Map<string, string>>();
const OPENED_MAX = 20_000;

/**
 * A sealed key opened, remembered by its sealed text: opening (AES-GCM) on every proxied call cost
 * more than the call's access check. A replaced key is a new sealed text, so nothing goes stale;
 * the plaintext is what the pooled connection holds anyway.
 */
function openKey(box: SecretBox, purpose: string, sealed: string): string {
  let cache = openedKeys.get(box);
  if (!cache) openedKeys.set(box, (cache = new Map()));
  const k = `${purpose}\n${sealed}`;
  let plain = cache.get(k);
  if (plain === undefined) {
    try {
      plain = box.open(purpose, sealed);
    } catch {
      // Sealed with another store key (a data dir restored without private/secret.key, a copied
      // row) or damaged: no connection can be made until the key is replaced. The box's own reason
      // ("not a sealed value") would mislead; say what the operator must do.
      const which = purpose === READ_API_KEY_PURPOSE ? "read-only API key" : "API key";
      throw new ConnectFailure(
        "fleet.system_key_unreadable",
        `stored credential cannot be opened: the system's ${which} was sealed with another secret-box key or is damaged; set it again (fleet.system.update)`,
      );
    }
    if (cache.size >= OPENED_MAX) cache.delete(cache.keys().next().value as string);
    cache.set(k, plain);
  }
  return plain;
}

/** The endpoint of `row`: "main" with its API key, "read" with its read-only key (the main key when it has none). */
export async function endpointOf(app: { store: Pick<Store, "db">; secretBox: SecretBox }, row: SystemRow, which: "main" | "read"): Promise<Endpoint> {
  const useRead = which === "read" && row.read_api_key !== null;
  const apiKey = useRead ? openKey(app.secretBox, READ_API_KEY_PURPOSE, row.read_api_key!) : openKey(app.secretBox, API_KEY_PURPOSE, row.api_key);
  const ca = row.ca === null ? null : await caPem(app.store.db, row.ca);
  return { url: row.url, apiKey, username: row.username ?? "", verifySsl: !!row.verify_ssl, ca };
}
