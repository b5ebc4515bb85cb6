// Threat: a managed system (compromised, or not a Gatehouse) smuggling something into the
// manager's reply through its answer (docs/security/fleet-proxy-bypass.md). The proxy passes a
// plain answer on as the system's wire text; the text must be exactly one JSON value, so a second
// "id" (steering the reply to another of the caller's calls), an "error" beside the result, or any
// other member cannot ride along. A hostile WebSocket peer plays the system here; the caller's
// frames are read raw, as its client would see them.

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import WebSocket, { WebSocketServer } from "ws";
import { ADMIN_PASSWORD, startServer, uniq, type TestServer } from "../harness.js";

/** What the hostile system answers to user.query, by the marker in its first parameter (N: the call's id). */
const ANSWERS: Record<string, (id: number) => string> = {
  plain: (id) => `{"jsonrpc":"2.0","id":${id},"result":[{"when":{"$date":5},"tags":{"$set":["a"]}}]}`,
  "second id": (id) => `{"jsonrpc":"2.0","id":${id},"result":{"a":1},"id":${id}}`,
  "error beside": (id) => `{"jsonrpc":"2.0","id":${id},"result":"ok","error":{"code":-32001,"message":"Method call error","data":{"reason":"boom"}}}`,
  "extra member": (id) => `{"jsonrpc":"2.0","id":${id},"result":1,"id":${id},"method":"collection_update"}`,
};

let hostile: WebSocketServer;
let ts: TestServer;
let systemId: number;
let caller: WebSocket;
const frames: string[] = [];

function startHostile(): Promise<string> {
  hostile = new WebSocketServer({ host: "127.0.0.1", port: 0 });
  hostile.on("connection", (ws) => {
    ws.on("message", (data) => {
      const m = JSON.parse(data.toString()) as { id: number; method: string; params: unknown[] };
      const ok = (result: unknown) => ws.send(JSON.stringify({ jsonrpc: "2.0", id: m.id, result }));
      if (m.method === "auth.mechanism_choices") return ok(["API_KEY_PLAIN"]);
      if (m.method === "auth.login_ex") return ok({ response_type: "SUCCESS" });
      if (m.method === "system.version") return ok("Hostile-1");
      if (m.method === "core.ping") return ok("pong");
      if (m.method === "user.query") return ws.send(ANSWERS[String(m.params[0])]!(m.id));
      ws.send(JSON.stringify({ jsonrpc: "2.0", id: m.id, error: { code: -32601, message: "Method does not exist" } }));
    });
  });
  return new Promise((r) => hostile.once("listening", () => r(`ws://127.0.0.1:${(hostile.address() as { port: number }).port}/api/current`)));
}

/** Send one raw frame as the caller and return the raw reply frame with that id. */
async function rawCall(id: string, method: string, params: unknown[]): Promise<string> {
  const before = frames.length;
  caller.send(JSON.stringify({ jsonrpc: "2.0", id, method, params }));
  for (let i = 0; i < 500; i++) {
    const hit = frames.slice(before).find((f) => f.includes(`"${id}"`));
    if (hit) return hit;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`no reply to ${id}`);
}

before(async () => {
  const url = await startHostile();
  ts = await startServer();
  const admin = await ts.adminClient();
  systemId = (await admin.call("fleet.system.create", { name: uniq("hostile"), url, api_key: "1-x" })).id;
  caller = new WebSocket(ts.url);
  caller.on("message", (d) => frames.push(d.toString()));
  await new Promise((r) => caller.once("open", r));
  const login = JSON.parse(await rawCall("login", "auth.login_ex", [{ mechanism: "PASSWORD_PLAIN", username: "admin", password: ADMIN_PASSWORD }]));
  assert.equal(login.result.response_type, "SUCCESS");
});

after(async () => {
  caller?.close();
  await ts?.stop();
  await new Promise((r) => hostile?.close(r));
});

test("a plain answer is passed on as the system's wire text, in a reply of exactly jsonrpc, id and result", async () => {
  const text = await rawCall("c-plain", "fleet.call", [systemId, "user.query", ["plain"]]);
  assert.equal(text, `{"jsonrpc":"2.0","id":"c-plain","result":[{"when":{"$date":5},"tags":{"$set":["a"]}}]}`);
});

test("a second id, an error beside the result or another member never reaches the caller's reply", async () => {
  for (const marker of ["second id", "extra member"]) {
    const id = `c-${marker.replace(/ /g, "-")}`;
    const reply = JSON.parse(await rawCall(id, "fleet.call", [systemId, "user.query", [marker]]));
    assert.deepEqual(Object.keys(reply).sort(), ["id", "jsonrpc", "result"], marker);
    assert.equal(reply.id, id, marker);
  }
  // A result with an error beside it is not a plain answer: the system's error is what the caller gets.
  const err = JSON.parse(await rawCall("c-error", "fleet.call", [systemId, "user.query", ["error beside"]]));
  assert.deepEqual(Object.keys(err).sort(), ["error", "id", "jsonrpc"]);
  assert.equal(err.id, "c-error");
  assert.equal(err.error.data.system.id, systemId);
  assert.equal(err.error.data.reason, "boom");
});
