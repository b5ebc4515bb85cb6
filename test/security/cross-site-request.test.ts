// Threat: cross-site request forgery. The one-shot HTTP endpoint takes a JSON body whatever the
// Content-Type (curl's form-encoded default, text/plain, none) — exactly the requests a page on
// another site can make from an administrator's browser without a CORS preflight, with the
// browser adding the Basic credentials it has cached for the server. So a request whose Origin
// (or, without one, Sec-Fetch-Site) names another site is refused before anything runs.

import { after, before, it } from "node:test";
import assert from "node:assert/strict";
import { ADMIN_PASSWORD, forEachStore, startServer, uniq, type TestServer } from "../harness.js";

forEachStore("security: cross-site request", (store) => {
  let ts: TestServer;
  const basic = `Basic ${Buffer.from(`admin:${ADMIN_PASSWORD}`).toString("base64")}`;

  before(async () => {
    ts = await startServer({ store });
    await ts.adminClient();
  });
  after(async () => {
    await ts?.stop();
  });

  async function post(path: string, body: unknown, headers: Record<string, string>) {
    const r = await fetch(`${ts.httpUrl}${path}`, { method: "POST", headers: { authorization: basic, ...headers }, body: JSON.stringify(body) });
    return { status: r.status, body: (await r.json()) as any };
  }

  async function userExists(username: string): Promise<boolean> {
    const c = await ts.adminClient();
    return ((await c.call("user.query", [["username", "=", username]])) as unknown[]).length === 1;
  }

  const createBody = (username: string) => ({ method: "user.create", params: [{ username, full_name: username, password_disabled: true, smb: false, group_create: true }] });

  for (const [what, headers] of [
    ["a form post from another site", { "content-type": "application/x-www-form-urlencoded", origin: "http://evil.example" }],
    ["a text/plain fetch from another site", { "content-type": "text/plain", origin: "https://evil.example" }],
    ["a page on the same host but another port", { "content-type": "text/plain", origin: "http://127.0.0.1:1" }],
    ["a sandboxed frame (Origin: null)", { "content-type": "text/plain", origin: "null" }],
    ["a browser that sends only Sec-Fetch-Site", { "content-type": "text/plain", "sec-fetch-site": "cross-site" }],
  ] as const) {
    it(`refuses ${what} and changes nothing`, async () => {
      const username = uniq("csrf");
      for (const path of ["/api/current", "/api/v25.10.0"]) {
        const r = await post(path, createBody(username), headers);
        assert.equal(r.status, 403);
        assert.equal(r.body.error.data.code, "auth.cross_site_refused");
      }
      assert.equal(await userExists(username), false);
    });
  }

  it("accepts the same call from the server's own origin and from scripts (no Origin), whatever the Content-Type", async () => {
    const own = uniq("own");
    const r1 = await post("/api/current", createBody(own), { "content-type": "text/plain", origin: ts.httpUrl, "sec-fetch-site": "same-origin" });
    assert.equal(r1.status, 200, JSON.stringify(r1.body));
    assert.equal(r1.body.result?.username, own, JSON.stringify(r1.body));
    const script = uniq("cli");
    const r2 = await post("/api/current", createBody(script), { "content-type": "application/x-www-form-urlencoded" });
    assert.equal(r2.body.result?.username, script, JSON.stringify(r2.body));
    const r3 = await fetch(`${ts.httpUrl}/api/current`, { method: "POST", headers: { authorization: basic }, body: Buffer.from(JSON.stringify({ method: "core.ping" })) });
    assert.equal(((await r3.json()) as { result?: unknown }).result, "pong");
  });

  it("answers a body that is not JSON with an error, not a crash", async () => {
    const r = await fetch(`${ts.httpUrl}/api/current`, { method: "POST", headers: { authorization: basic, "content-type": "text/plain" }, body: "method=user.query" });
    assert.equal(r.status, 400);
    const ok = await post("/api/current", { method: "core.ping" }, {});
    assert.equal(ok.body.result, "pong");
  });
});
