// The fleet-proxy bench's "checked relay": the bare relay plus the least a proxy keeping
// Gatehouse's guarantees must do for each call, made of the manager's own parts with nothing
// between them — the store's change stamp read (rights are computed when checked: a decision is
// kept only while the stamp stands still), the caller's access looked up by (account, system) and
// the method's kind by name, the call's audit entry written to a call journal before the call is
// forwarded, its outcome noted after the answer, and every few milliseconds the answered entries
// folded into the audit table in one transaction. No dispatcher, no argument validation, no
// promise chain, no error shapes. Beside the bare relay it shows what these guarantees cost at
// their least; beside the proxy, what the layers around them cost.

import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import WebSocket, { WebSocketServer } from "ws";
import { foldAuditRows, foldAuditRowsNow, type AuditContext, type AuditRow } from "../src/audit/audit.js";
import { CallJournal } from "../src/fleet/call-journal.js";

/**
 * An upstream connection that signs in with the key (API_KEY_PLAIN) once; what is sent before
 * the sign-in answered waits for it. Every other message goes to `onAnswer`, parsed. (The bare
 * relay in ./fleet-proxy.bench.ts uses it too.)
 */
export function signedInUpstream(url: string, apiKey: string, onAnswer: (msg: { id?: unknown; result?: unknown; error?: unknown }) => void): { ws: WebSocket; send: (text: string) => void } {
  const ws = new WebSocket(url, { perMessageDeflate: false });
  const queued: string[] = [];
  let ready = false;
  ws.on("open", () => ws.send(JSON.stringify({ jsonrpc: "2.0", id: "relay-login", method: "auth.login_ex", params: [{ mechanism: "API_KEY_PLAIN", username: "", api_key: apiKey }] })));
  ws.on("message", (data) => {
    const msg = JSON.parse(data.toString());
    if (msg.id !== "relay-login") return onAnswer(msg);
    ready = true;
    for (const q of queued.splice(0)) ws.send(q);
  });
  return { ws, send: (text) => (ready ? ws.send(text) : queued.push(text)) };
}

/** How often answered entries are folded into the audit table (the proxy's default). */
const FOLD_MS = 10;

interface Waiting {
  clientId: unknown;
  row: AuditRow;
}

/**
 * A relay on loopback for fleet.call requests ([system, method, params]) made by `username`, who
 * holds READ_WRITE on `systemId`; each client connection gets one upstream connection, signed in
 * with the key once (as the bare relay's). Entries go to a journal in a directory of its own and
 * then to `app`'s audit table (SQLite).
 */
export async function startCheckedRelay(
  app: AuditContext,
  upstreamUrl: string,
  apiKey: string,
  systemId: number,
  username: string,
  opts: { fold?: boolean } = {},
): Promise<{ url: string; close: () => Promise<void> }> {
  // fold: false measures what the audit table's writes take: entries are journaled, never folded
  // (answered ones dropped) — a way no proxy may run, shown only to size that part of the cost.
  const folding = opts.fold !== false;
  const dir = mkdtempSync(path.join(os.tmpdir(), "gh-bench-checked-"));
  const journal = new CallJournal(dir);
  // The decisions (what resolveTarget and the method list would have answered), by caller and system.
  const access = new Map<string, "READ" | "READ_WRITE">([[`${username}:${systemId}`, "READ_WRITE"]]);
  const readMethods = new Set(["user.query", "group.query"]);
  const serviceData = JSON.stringify({ vers: { major: 0, minor: 1 }, origin: "127.0.0.1", protocol: "WEBSOCKET", credentials: null });
  const session = randomUUID();
  const answered: AuditRow[] = [];
  let foldTimer: NodeJS.Timeout | null = null;
  const folds: Promise<unknown>[] = [];
  let decidedAt: string | null = null;
  let level: "READ" | "READ_WRITE" | undefined;
  const fold = () => {
    foldTimer = null;
    const rows = answered.splice(0);
    // At once when the store's connection is free (the proxy's way), else awaited.
    if (rows.length && !foldAuditRowsNow(app, rows, [])) folds.push(foldAuditRows(app, rows, []));
  };

  const wss = new WebSocketServer({ host: "127.0.0.1", port: 0 });
  wss.on("connection", (client) => {
    const waiting = new Map<number, Waiting>();
    let nextId = 1;
    let turn: { line: string; text: string }[] = [];
    const up = signedInUpstream(upstreamUrl, apiKey, (msg) => {
      const w = waiting.get(msg.id as number);
      if (!w) return;
      waiting.delete(msg.id as number);
      client.send(JSON.stringify(msg.error ? { jsonrpc: "2.0", id: w.clientId, error: msg.error } : { jsonrpc: "2.0", id: w.clientId, result: msg.result }));
      w.row[9] = w.row[9].replace(',"answered":false', "");
      w.row[10] = msg.error ? 0 : 1;
      if (!folding) return;
      answered.push(w.row);
      foldTimer ??= setTimeout(fold, FOLD_MS);
    });
    const sendTurn = () => {
      const calls = turn;
      turn = [];
      let lines = "";
      for (const c of calls) lines += c.line;
      journal.append(lines);
      for (const c of calls) up.send(c.text);
    };
    client.on("message", (data) => {
      const msg = JSON.parse(data.toString());
      const [system, method, params] = msg.params as [number, string, unknown[]];
      // The decision stands while the store's stamp does; a moved stamp means deciding again.
      const stamp = app.store.changes.stamp();
      if (stamp === null || stamp !== decidedAt) {
        level = access.get(`${username}:${system}`);
        decidedAt = stamp;
      }
      if (!level || (level === "READ" && !readMethods.has(method))) {
        client.send(JSON.stringify({ jsonrpc: "2.0", id: msg.id, error: { code: -32001, message: "Method call error" } }));
        return;
      }
      const now = Date.now();
      const eventData = `{"method":"fleet.call","params":[${system},${JSON.stringify(method)},"********"],"description":"Fleet call","answered":false}`;
      const row: AuditRow = [randomUUID(), Math.floor(now / 1000), now, "127.0.0.1", username, session, "MIDDLEWARE", serviceData, "METHOD_CALL", eventData, 0];
      const id = nextId++;
      waiting.set(id, { clientId: msg.id, row });
      // The entries of one read share one journal write, as the proxy's do; the calls leave after it.
      turn.push({ line: `${JSON.stringify(row)}\n`, text: `{"jsonrpc":"2.0","id":${id},"method":${JSON.stringify(method)},"params":${JSON.stringify(params)}}` });
      if (turn.length === 1) process.nextTick(sendTurn);
    });
    client.on("close", () => up.ws.close());
    up.ws.on("close", () => client.close());
  });
  await new Promise<void>((r) => wss.once("listening", () => r()));
  const addr = wss.address() as { port: number };
  return {
    url: `ws://127.0.0.1:${addr.port}/api/current`,
    close: async () => {
      await new Promise<void>((r) => wss.close(() => r()));
      if (foldTimer) clearTimeout(foldTimer);
      fold();
      await Promise.all(folds);
      journal.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
