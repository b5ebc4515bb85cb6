// Connections to directory servers: TLS always (LDAPS or StartTLS), verified against Node's roots
// plus the registered CAs when verify_ssl is on; separate connect and operation timeouts; a server
// that could not be reached is skipped for DEAD_MS; failures are told apart: an outage
// (unreachable, timeout, TLS) is never a wrong password. Indirect bind keeps one pooled
// connection per server bound as the bind DN (or anonymous) for searches; every user password is
// checked with a bind on a fresh connection, closed right after.

import { isIP } from "node:net";
import { createSecureContext, type ConnectionOptions, type SecureContext } from "node:tls";
import { Client, InvalidCredentialsError, type Entry, type SearchOptions } from "ldapts";
import type { LdapServer } from "./ldap-types.js";

/** How long a server that failed to answer is skipped (issue 12: 60 s). */
export const DEAD_MS = 60_000;

/** A server could not be used: unreachable, timed out, or TLS failed. Never a wrong password. */
export class LdapUnavailableError extends Error {
  override name = "LdapUnavailableError";
  constructor(
    message: string,
    readonly step: "CONNECT" | "TLS" | "BIND" | "SEARCH",
    readonly certificate = false,
  ) {
    super(message);
  }
}

const deadUntil = new Map<number, number>();
const pools = new Map<number, { key: string; client: Promise<Client> }>();

/** Forget what this process knows of a server (it was changed or removed). */
export function forgetServerState(id: number): void {
  deadUntil.delete(id);
  const p = pools.get(id);
  pools.delete(id);
  if (p) void p.client.then((c) => c.unbind()).catch(() => {});
}

export function isDead(id: number, now = Date.now()): boolean {
  return (deadUntil.get(id) ?? 0) > now;
}

export function markDead(id: number): void {
  deadUntil.set(id, Date.now() + DEAD_MS);
}

export function markAlive(id: number): void {
  deadUntil.delete(id);
}

/** Tests and shutdown: close pooled connections. */
export async function closeAllPools(): Promise<void> {
  const all = [...pools.values()];
  pools.clear();
  await Promise.allSettled(all.map((p) => p.client.then((c) => c.unbind())));
}

const CERT_CODES = /^(CERT_|UNABLE_TO_|SELF_SIGNED|DEPTH_ZERO|ERR_TLS_CERT|HOSTNAME_MISMATCH|ERR_SSL_)/;

/** Turn a connection-level failure into LdapUnavailableError (LDAP result errors pass through). */
export function asUnavailable(err: unknown, step: LdapUnavailableError["step"]): unknown {
  if (err instanceof LdapUnavailableError) return err;
  const e = err as { code?: string; message?: string; name?: string };
  const code = typeof e?.code === "string" ? e.code : "";
  const msg = String(e?.message ?? err);
  if (CERT_CODES.test(code)) return new LdapUnavailableError(`TLS certificate not trusted: ${code} (${msg})`, "TLS", true);
  if (/^E[A-Z]+$/.test(code)) return new LdapUnavailableError(`${code}: ${msg}`, step === "BIND" || step === "SEARCH" ? step : "CONNECT");
  if (/Connection timeout/i.test(msg)) return new LdapUnavailableError("ETIMEDOUT: connection timed out", "CONNECT");
  if (/Operation timed out/i.test(msg)) return new LdapUnavailableError(`ETIMEDOUT: the server did not answer (${msg})`, step);
  if (/Socket error|Connection closed|socket hang up|not established|TLS|SSL/i.test(msg)) return new LdapUnavailableError(`connection failed: ${msg}`, step);
  return err;
}

/** Secure contexts by trust list (verify SSL on) — trustedCas hands out one array while the CAs are unchanged. */
const verifyingContexts = new WeakMap<readonly string[], SecureContext>();
let plainContext: SecureContext | null = null;

/**
 * The secure context of a connection, built once and shared: building one with Node's ~145 roots
 * costs tens of milliseconds of CPU, and even a plain one a few tenths — per login, had every
 * connection built its own. (A context holds no session to resume: each connection still makes
 * its full handshake.)
 */
function secureContextFor(verify: boolean, trusted: readonly string[]): SecureContext {
  if (!verify) return (plainContext ??= createSecureContext({ minVersion: "TLSv1.2" }));
  let ctx = verifyingContexts.get(trusted);
  if (!ctx) {
    ctx = createSecureContext({ minVersion: "TLSv1.2", ca: [...trusted] });
    verifyingContexts.set(trusted, ctx);
  }
  return ctx;
}

/** TLS options for `server`: a FRESH object each time (ldapts's startTLS mutates the one it gets). */
export function tlsOptionsFor(server: LdapServer, host: string, trusted: readonly string[]): ConnectionOptions {
  const o: ConnectionOptions = { secureContext: secureContextFor(server.verify_ssl, trusted), rejectUnauthorized: server.verify_ssl };
  if (!isIP(host)) o.servername = host;
  return o;
}

/** A connected, TLS-protected client (not bound). Throws LdapUnavailableError when it cannot. */
export async function connect(server: LdapServer, endpoint: { host: string; port: number }, trusted: readonly string[]): Promise<Client> {
  const host = endpoint.host.includes(":") ? `[${endpoint.host}]` : endpoint.host;
  const common = { connectTimeout: server.connect_timeout * 1000, timeout: server.timeout * 1000, strictDN: true };
  if (server.security === "LDAPS") {
    const client = new Client({ url: `ldaps://${host}:${endpoint.port}`, tlsOptions: tlsOptionsFor(server, endpoint.host, trusted), ...common });
    // ldapts connects lazily: a harmless operation-free connect happens at the first request, so
    // connect explicitly here to tell an outage from what follows.
    try {
      await (client as unknown as { _connect(): Promise<void> })._connect();
    } catch (err) {
      throw asUnavailable(err, "CONNECT");
    }
    return client;
  }
  const client = new Client({ url: `ldap://${host}:${endpoint.port}`, ...common });
  // The StartTLS exchange is part of connecting: a server that accepts TCP and never answers
  // costs the connect timeout, not the (longer) operation timeout.
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new LdapUnavailableError(`ETIMEDOUT: no StartTLS answer within ${server.connect_timeout} s`, "TLS")), server.connect_timeout * 1000);
  });
  try {
    await Promise.race([client.startTLS(tlsOptionsFor(server, endpoint.host, trusted)), deadline]);
  } catch (err) {
    await client.unbind().catch(() => {});
    const e = asUnavailable(err, "TLS");
    throw e instanceof LdapUnavailableError ? e : new LdapUnavailableError(`StartTLS refused: ${(err as Error).message}`, "TLS");
  } finally {
    clearTimeout(timer);
  }
  return client;
}

/** Bind; true on success, false on wrong credentials; outages throw LdapUnavailableError. */
export async function tryBind(client: Client, dn: string, password: string): Promise<boolean> {
  // Never an unauthenticated bind (RFC 4513 §5.1.2): an empty password is refused before the wire.
  if (!password) return false;
  try {
    await client.bind(dn, password);
    return true;
  } catch (err) {
    if (err instanceof InvalidCredentialsError) return false;
    const e = asUnavailable(err, "BIND");
    if (e instanceof LdapUnavailableError) throw e;
    // Any other result (unwilling to perform, invalid DN syntax, …): not authenticated.
    return false;
  }
}

/** A paged search (AD returns at most 1,000 entries a page); referrals are returned, never followed. */
export async function search(client: Client, base: string, opts: SearchOptions): Promise<Entry[]> {
  try {
    const r = await client.search(base, { scope: "sub", derefAliases: "never", paged: { pageSize: 500 }, ...opts });
    return r.searchEntries;
  } catch (err) {
    const e = asUnavailable(err, "SEARCH");
    if (e instanceof LdapUnavailableError) throw e;
    if ((err as { name?: string }).name === "NoSuchObjectError") return [];
    throw err;
  }
}

/** What a pooled connection was made for; kept per server object (a login's servers are kept while the store is unchanged). */
const poolKeys = new WeakMap<LdapServer, { trusted: number; key: string }>();
function poolKey(server: LdapServer, trusted: readonly string[]): string {
  const hit = poolKeys.get(server);
  if (hit && hit.trusted === trusted.length) return hit.key;
  const key = JSON.stringify([server, trusted.length]);
  poolKeys.set(server, { trusted: trusted.length, key });
  return key;
}

/**
 * The pooled search connection of an indirect-bind server: bound as the bind DN with its password,
 * or anonymous when the password is empty (never a bind with a DN and no password). Rebuilt when
 * the server's settings change or the connection fails.
 */
export async function serviceClient(server: LdapServer, endpoint: { host: string; port: number }, trusted: readonly string[]): Promise<Client> {
  const key = poolKey(server, trusted);
  const cur = pools.get(server.id);
  if (cur && cur.key === key) {
    const c = await cur.client.catch(() => null);
    if (c?.isConnected) return c;
  }
  const made = (async () => {
    const c = await connect(server, endpoint, trusted);
    if (server.bind_password) {
      if (!(await tryBind(c, server.bind_dn, server.bind_password))) {
        await c.unbind().catch(() => {});
        throw new LdapUnavailableError("The bind DN and bind password were refused by the server", "BIND");
      }
    }
    return c;
  })();
  pools.set(server.id, { key, client: made });
  made.catch(() => {
    if (pools.get(server.id)?.client === made) pools.delete(server.id);
  });
  return made;
}

/** Drop a pooled connection that failed (the next call makes a new one). */
export function dropServiceClient(id: number): void {
  const p = pools.get(id);
  pools.delete(id);
  if (p) void p.client.then((c) => c.unbind()).catch(() => {});
}

/** First value of an attribute as text ('' when absent). */
export function attr(entry: Entry, name: string): string {
  const key = Object.keys(entry).find((k) => k.toLowerCase() === name.toLowerCase());
  const v = key ? entry[key] : undefined;
  const first = Array.isArray(v) ? v[0] : v;
  return first === undefined ? "" : Buffer.isBuffer(first) ? first.toString("utf8") : String(first);
}

/** Every value of an attribute as text. */
export function attrs(entry: Entry, name: string): string[] {
  const key = Object.keys(entry).find((k) => k.toLowerCase() === name.toLowerCase());
  const v = key ? entry[key] : undefined;
  if (v === undefined) return [];
  return (Array.isArray(v) ? v : [v]).map((x) => (Buffer.isBuffer(x) ? x.toString("utf8") : String(x)));
}
