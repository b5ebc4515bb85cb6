// Issue 13 point 7: the on-host socket. A real server process listens on a Unix socket; `gatehouse
// call` run on the same machine is signed in by its peer credentials (SO_PEERCRED through the
// native addon): as root it is the full administrator, as another local uid it is the store's user
// with that uid and that user's roles only, with no password. Fifty quick calls meet no rate limit;
// a refused call exits non-zero saying why and a rate-limited `call -u … -p …` never hangs.

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, rmSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import pino from "pino";
import { RpcClient } from "../src/cli/client.js";
import { startServerProcess, type ServerProcess } from "./process-harness.js";
import { ADMIN_PASSWORD, uniq, withTestApp } from "./harness.js";
import { GATEHOUSE_ARGS } from "./gatehouse-command.js";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const OTHER_UID = 42_424;

interface Run {
  code: number | null;
  out: string;
  err: string;
  ms: number;
}

/** `gatehouse call …` as a separate process (optionally as another uid, through setpriv). */
function cli(args: string[], env: Record<string, string>, asUid?: number): Promise<Run> {
  const node = [process.execPath, ...GATEHOUSE_ARGS, ...args];
  const cmd = asUid === undefined ? node : ["setpriv", `--reuid=${asUid}`, `--regid=${asUid}`, "--clear-groups", ...node];
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(cmd[0]!, cmd.slice(1), { cwd: ROOT, env: { ...process.env, HOME: os.tmpdir(), ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    // "Never hangs": a run still going after 45 s fails the test (and is stopped, by its pid).
    const timer = setTimeout(() => child.kill("SIGKILL"), 45_000);
    child.once("error", reject);
    child.once("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, out, err, ms: Date.now() - started });
    });
  });
}

describe("the on-host Unix socket", { concurrency: false }, () => {
  let proc: ServerProcess;
  let sockDir: string;
  let sock: string;
  let readonlyUser: string;
  before(async () => {
    sockDir = mkdtempSync(path.join(os.tmpdir(), "gatehouse-sock-"));
    chmodSync(sockDir, 0o755); // another uid reaches the socket; the socket's own mode decides
    sock = path.join(sockDir, "gatehouse.sock");
    proc = await startServerProcess({ env: { GATEHOUSE_SOCKET: sock, GATEHOUSE_SOCKET_MODE: "0666", GATEHOUSE_TEST_LIMITER_EXEMPT: "0" } });
    // A store user whose uid is the other local uid, with read-only rights.
    const admin = await proc.adminClient();
    readonlyUser = uniq("ro");
    const groupId = await admin.call<number>("group.create", { name: `${readonlyUser}_g`, smb: false });
    const gid = (await admin.call("group.get_instance", groupId)).gid;
    await admin.call("privilege.create", { name: `${readonlyUser}_p`, local_groups: [gid], ds_groups: [], roles: ["READONLY_ADMIN"], web_shell: false });
    await admin.call("user.create", { username: readonlyUser, full_name: "Read only", uid: OTHER_UID, password: "Test-pass-1234", group: groupId, smb: false });
  });
  after(async () => {
    await proc?.stop();
    const left = existsSync(sock);
    rmSync(sockDir, { recursive: true, force: true });
    assert.equal(left, false, "the socket file is removed when the server stops");
  });

  it("the socket exists with the asked mode (removed on stop: checked after the suite)", () => {
    const st = statSync(sock);
    assert.ok(st.isSocket());
    assert.equal(st.mode & 0o777, 0o666);
  });

  it("root: full administrator with no password, audited with the socket origin", async () => {
    const r = await cli(["call", "--socket", sock, "auth.sessions", "[]", "{}"], {});
    assert.equal(r.code, 0, r.err);
    const c = await RpcClient.connect(`ws+unix://${sock}:/api/current`);
    try {
      const me = await c.call("auth.me").catch((e: Error) => e.message);
      // The internal session is not a user session: auth.me says so, as the reference does.
      assert.match(String(me), /UNIX_SOCKET|internal|INTERNAL|logged in/i);
      assert.ok(Array.isArray(await c.call("user.query", [["username", "=", "root"]])));
      const created = await c.call("group.create", { name: uniq("sockg"), smb: false });
      assert.equal(typeof created, "number", "a write as root works");
    } finally {
      await c.close();
    }
    const admin = await proc.adminClient();
    const audit = await admin.call<any[]>("audit.query", { "query-filters": [["event", "=", "AUTHENTICATION"]], "query-options": { order_by: ["-message_timestamp"], limit: 20 } });
    const entry = audit.find((e) => e.event_data?.credentials?.credentials === "UNIX_SOCKET");
    assert.ok(entry, "the socket sign-in is audited");
    assert.match(JSON.stringify(entry), /UNIX socket \(pid=\d+ uid=0 gid=0\)/);
    // The root session's own calls are audited with the socket origin too.
    const calls = await admin.call<any[]>("audit.query", { "query-filters": [["event", "=", "METHOD_CALL"]], "query-options": { order_by: ["-message_timestamp"], limit: 50 } });
    const write = calls.find((e) => JSON.stringify(e).includes("group.create") && JSON.stringify(e).includes("UNIX socket"));
    assert.ok(write, "the group.create over the socket is audited with its origin");
  });

  it("another local user: that user's roles, by uid, with no password", async () => {
    const me = await cli(["call", "--socket", sock, "auth.me"], {}, OTHER_UID);
    assert.equal(me.code, 0, me.err);
    assert.equal(JSON.parse(me.out).pw_name, readonlyUser);
    const write = await cli(["call", "--socket", sock, "group.create", JSON.stringify({ name: uniq("nope"), smb: false })], {}, OTHER_UID);
    assert.notEqual(write.code, 0, "a read-only user cannot write");
    assert.match(write.err, /Not authorized/);
    // A uid the store does not know is not signed in.
    const stranger = await cli(["call", "--socket", sock, "auth.me"], {}, OTHER_UID + 1);
    assert.notEqual(stranger.code, 0);
    assert.match(stranger.err, /Not authenticated/);
  });

  it("fifty quick calls over the socket meet no rate limit", async () => {
    const results = await Promise.all(
      Array.from({ length: 50 }, async () => {
        const c = await RpcClient.connect(`ws+unix://${sock}:/api/current`);
        try {
          return await c.call("auth.mechanism_choices");
        } finally {
          await c.close();
        }
      }),
    );
    assert.equal(results.length, 50);
    assert.ok(results.every((r) => Array.isArray(r)));
  });

  it("a refused or rate-limited CLI call exits non-zero with the reason, never hangs", async () => {
    const url = proc.url;
    const wrong = await cli(["call", "--url", url, "-u", "admin", "-p", "wrong-password", "auth.me"], {});
    assert.equal(wrong.code, 1);
    assert.match(wrong.err, /login refused \(AUTH_ERR\)/);
    // Use up the anonymous limit on auth.login_ex from this address (20 a minute).
    // All at once (three connections: at most 20 calls in flight on one), so the failed logins'
    // delays cannot stretch them past the limiter's one-minute window.
    const conns = await Promise.all([0, 1, 2].map(() => RpcClient.connect(url)));
    try {
      await Promise.all(Array.from({ length: 21 }, (_, i) => conns[i % 3]!.call("auth.login_ex", { mechanism: "PASSWORD_PLAIN", username: `nobody${i}`, password: "x" }).catch(() => null)));
    } finally {
      for (const c of conns) await c.close();
    }
    const limited = await cli(["call", "--url", url, "-u", "admin", "-p", ADMIN_PASSWORD, "--timeout", "30", "auth.me"], {});
    assert.equal(limited.code, 1, `exits non-zero: ${limited.err}`);
    assert.match(limited.err, /Rate Limit Exceeded/i);
    // Over the socket the same script is not limited at all.
    const viaSocket = await cli(["call", "--socket", sock, "-u", "admin", "-p", ADMIN_PASSWORD, "auth.me"], {});
    assert.equal(viaSocket.code, 0, viaSocket.err);
    assert.equal(JSON.parse(viaSocket.out).pw_name, "admin");
  });
});

describe("a second server on the same socket path", () => {
  it("leaves the live server's socket alone and runs without one", async () => {
    const { listenUnixSocket } = await import("../src/server/unix-socket.js");
    const dir = mkdtempSync(path.join(os.tmpdir(), "gatehouse-twice-"));
    const sockPath = path.join(dir, "g.sock");
    try {
      await withTestApp(undefined, async (app) => {
        const first = await listenUnixSocket(app, sockPath, {});
        assert.ok(first);
        const lines: string[] = [];
        const log = pino({ level: "warn" }, { write: (l: string) => void lines.push(l) });
        assert.equal(await listenUnixSocket({ ...app, log } as typeof app, sockPath, {}), null);
        assert.match(lines.join(""), /another server is listening/);
        const c = await RpcClient.connect(`ws+unix://${sockPath}:/api/current`);
        assert.equal(await c.call("core.ping"), "pong", "the first server still answers");
        await c.close();
        await first.close();
        assert.equal(existsSync(sockPath), false);
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("without the native addon", () => {
  it("the server runs without its socket and says why", async () => {
    const { listenUnixSocket } = await import("../src/server/unix-socket.js");
    const dir = mkdtempSync(path.join(os.tmpdir(), "gatehouse-noaddon-"));
    const lines: string[] = [];
    try {
      await withTestApp(undefined, async (app) => {
        const log = pino({ level: "warn" }, { write: (l: string) => void lines.push(l) });
        const s = await listenUnixSocket({ ...app, log } as typeof app, path.join(dir, "g.sock"), {}, path.join(dir, "missing.node"));
        assert.equal(s, null);
        assert.match(lines.join(""), /Unix socket disabled: native addon gatehouse_peercred not loadable/);
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
