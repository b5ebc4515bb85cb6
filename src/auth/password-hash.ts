// Password hashing: glibc-compatible crypt(3) strings (`$6$` SHA-512 crypt issued; `$5$`, `$6$` and,
// with the native backend, yescrypt `$y$` verified), Samba NT hashes and random passwords.
//
// Two interchangeable backends compute crypt strings, and neither blocks the event loop (SPEC:
// "Hashing never blocks the event loop"; 656000 rounds is ~130 ms of CPU in C, ~2 s in JS):
//   - "native": native/gatehouse_crypt.node, libxcrypt crypt_rn() on the libuv thread pool. This is
//     the host's own crypt, so hashes are byte-identical to /etc/shadow tooling and $y$ works.
//   - "unixcrypt": pure-JS fallback when the addon was not built (no compiler at install time),
//     run in a small worker_threads pool. Only $5$/$6$.
// The same policy (prefixes, limits, salt format) sits in front of both, so the results do not
// depend on which backend happens to be active.

import { randomBytes, randomInt, timingSafeEqual } from "node:crypto";
import { createRequire } from "node:module";
import { availableParallelism } from "node:os";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { md4 } from "hash-wasm";

export type HashBackend = "native" | "unixcrypt";

/** Rounds used when the caller passes none; the reference's value (`$6$rounds=656000$…`). */
export const DEFAULT_ROUNDS = 656_000;
/** glibc's bounds for `rounds=`; glibc silently clamps, we reject instead. */
export const MIN_ROUNDS = 1_000;
export const MAX_ROUNDS = 999_999_999;
/** glibc's implicit default: at exactly this many rounds the `rounds=` field is omitted. */
const GLIBC_DEFAULT_ROUNDS = 5_000;
/**
 * Longest password (in UTF-8 bytes) we hash or verify. libxcrypt refuses passphrases of
 * CRYPT_MAX_PASSPHRASE_SIZE (512) bytes or more with ERANGE; applying the same limit to the JS
 * backend keeps both backends accepting exactly the same passwords.
 */
export const MAX_PASSWORD_BYTES = 511;

const SALT_LENGTH = 16;
// 64 symbols, so `byte & 63` maps a random byte onto it without bias.
const SALT_ALPHABET = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

// ---------------------------------------------------------------------------------------------
// Backends

type CryptFn = (password: string, setting: string) => Promise<string>;

interface NativeAddon {
  crypt: CryptFn;
}

/** The built addon, or null when it is missing or cannot load (wrong arch, missing libcrypt…). */
function loadNative(): NativeAddon | null {
  // Path relative to this module: src/auth/ under tsx and dist/auth/ after tsc both sit two
  // levels below the project root.
  const addonPath = fileURLToPath(new URL("../../native/build/Release/gatehouse_crypt.node", import.meta.url));
  try {
    const mod = createRequire(import.meta.url)(addonPath) as Partial<NativeAddon>;
    return typeof mod.crypt === "function" ? (mod as NativeAddon) : null;
  } catch {
    return null;
  }
}

// The worker's source is inline (eval) so the pool works the same from src/ under tsx and from
// dist/ after tsc, with no second file to keep in sync. unixcrypt is resolved in the main thread
// (its package only exports an ESM "import" condition) and handed over as a file URL.
const WORKER_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
const lib = import(workerData.unixcryptUrl);
parentPort.on("message", async ({ password, setting }) => {
  try {
    const { encrypt } = await lib;
    parentPort.postMessage({ hash: encrypt(password, setting) });
  } catch (err) {
    parentPort.postMessage({ error: err instanceof Error ? err.message : String(err) });
  }
});
`;

interface PoolTask {
  password: string;
  setting: string;
  resolve: (hash: string) => void;
  reject: (err: Error) => void;
}

interface PoolWorker {
  worker: Worker;
  task: PoolTask | null;
}

/**
 * A fixed-size pool of unixcrypt workers, one task per worker at a time. Workers start lazily
 * and are unref'd while idle, so an idle pool never keeps the process alive; a busy one does
 * (a pending hash must be allowed to finish).
 */
class UnixcryptPool {
  private readonly workers: PoolWorker[] = [];
  private readonly queue: PoolTask[] = [];
  private unixcryptUrl: string | undefined;

  constructor(private readonly size: number) {}

  run(password: string, setting: string): Promise<string> {
    return new Promise<string>((resolve, reject) => {
      this.queue.push({ password, setting, resolve, reject });
      this.dispatch();
    });
  }

  private dispatch(): void {
    while (this.queue.length > 0) {
      let slot = this.workers.find((w) => w.task === null);
      if (!slot) {
        if (this.workers.length >= this.size) return;
        slot = this.spawn();
      }
      const task = this.queue.shift()!;
      slot.task = task;
      slot.worker.ref();
      slot.worker.postMessage({ password: task.password, setting: task.setting });
    }
  }

  private spawn(): PoolWorker {
    this.unixcryptUrl ??= import.meta.resolve("unixcrypt");
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { unixcryptUrl: this.unixcryptUrl },
    });
    const slot: PoolWorker = { worker, task: null };
    worker.unref();

    worker.on("message", (msg: { hash?: string; error?: string }) => {
      const task = slot.task;
      slot.task = null;
      worker.unref();
      if (task) {
        if (typeof msg.hash === "string") task.resolve(msg.hash);
        else task.reject(new Error(msg.error ?? "unixcrypt worker failed"));
      }
      this.dispatch();
    });
    // A crashed worker fails only its own task; the slot is dropped and the next dispatch starts
    // a replacement, so one bad input cannot wedge the pool.
    const retire = (err: Error) => {
      const i = this.workers.indexOf(slot);
      if (i >= 0) this.workers.splice(i, 1);
      const task = slot.task;
      slot.task = null;
      task?.reject(err);
      this.dispatch();
    };
    worker.on("error", retire);
    worker.on("exit", (code) => retire(new Error(`unixcrypt worker exited with code ${code}`)));

    this.workers.push(slot);
    return slot;
  }
}

/**
 * Cap on hashes in flight. The native backend runs on the libuv thread pool, which fs and dns
 * also use (4 threads by default): a login burst must not occupy all of them with 130 ms hashes.
 * One hash per core (at most pool size − 1) keeps every core busy and leaves a thread for I/O.
 */
const UV_POOL_SIZE = Number(process.env.UV_THREADPOOL_SIZE) || 4;
const MAX_CONCURRENT = Math.max(1, Math.min(availableParallelism(), UV_POOL_SIZE - 1));

class Semaphore {
  private active = 0;
  private readonly waiting: (() => void)[] = [];
  constructor(private readonly limit: number) {}

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active >= this.limit) await new Promise<void>((r) => this.waiting.push(r));
    else this.active++;
    try {
      return await fn();
    } finally {
      // Hand the slot straight to the next waiter (active stays the same) or release it.
      const next = this.waiting.shift();
      if (next) next();
      else this.active--;
    }
  }
}

const native = loadNative();
let pool: UnixcryptPool | undefined;
let backend: HashBackend = native ? "native" : "unixcrypt";
const limiter = new Semaphore(MAX_CONCURRENT);

/** Which backend computes crypt strings right now. */
export function hashBackend(): HashBackend {
  return backend;
}

/** Tests only: switch backend (e.g. to check that the unixcrypt fallback agrees with native). */
export function _setBackendForTests(which: HashBackend): void {
  if (which === "native" && !native) throw new Error("native crypt addon is not built");
  backend = which;
}

/** crypt(password, setting) on the active backend, within the concurrency cap. */
function runCrypt(password: string, setting: string): Promise<string> {
  return limiter.run(() => {
    if (backend === "native") return native!.crypt(password, setting);
    pool ??= new UnixcryptPool(2);
    return pool.run(password, setting);
  });
}

// ---------------------------------------------------------------------------------------------
// Public API

/** Reason a password cannot be hashed, or null. Shared by hashing and verification. */
function passwordProblem(password: unknown): string | null {
  if (typeof password !== "string") return "password must be a string";
  // crypt() takes C strings: everything after a NUL would be ignored by the native backend.
  if (password.includes("\0")) return "password must not contain NUL characters";
  if (Buffer.byteLength(password, "utf8") > MAX_PASSWORD_BYTES) {
    return `password must not exceed ${MAX_PASSWORD_BYTES} bytes`;
  }
  return null;
}

function makeSalt(): string {
  const bytes = randomBytes(SALT_LENGTH);
  let salt = "";
  for (const b of bytes) salt += SALT_ALPHABET[b & 63];
  return salt;
}

/**
 * SHA-512 crypt of `password`: `$6$rounds=<N>$<16-char salt>$<86-char hash>`, or
 * `$6$<salt>$<hash>` when rounds is 5000 (glibc omits its default). Rejects (TypeError /
 * RangeError) for non-string passwords, passwords with NUL or over MAX_PASSWORD_BYTES, and
 * rounds outside MIN_ROUNDS..MAX_ROUNDS.
 */
export async function hashPassword(password: string, rounds: number = DEFAULT_ROUNDS): Promise<string> {
  const problem = passwordProblem(password);
  if (problem) throw typeof password === "string" ? new RangeError(problem) : new TypeError(problem);
  if (!Number.isInteger(rounds) || rounds < MIN_ROUNDS || rounds > MAX_ROUNDS) {
    throw new RangeError(`rounds must be an integer from ${MIN_ROUNDS} to ${MAX_ROUNDS}`);
  }
  const setting = rounds === GLIBC_DEFAULT_ROUNDS ? `$6$${makeSalt()}` : `$6$rounds=${rounds}$${makeSalt()}`;
  const hash = await runCrypt(password, setting);
  // Never store something that would not verify later (e.g. a backend that altered the setting).
  if (!hash.startsWith(setting + "$")) throw new Error("crypt returned an unexpected hash format");
  return hash;
}

/**
 * True when `password` matches the stored crypt string. Accepts `$6$`, `$5$` and, on the native
 * backend only, `$y$`; anything else — null, "", "*", "!…" (locked / disabled accounts), other
 * crypt schemes, malformed strings — is false, never an exception.
 */
export async function verifyPassword(password: string, hash: string | null): Promise<boolean> {
  if (typeof hash !== "string" || passwordProblem(password) !== null) return false;
  // Only schemes we vouch for: passing e.g. a 2-char string to crypt() would select DES crypt.
  const scheme = /^\$(5|6|y)\$[^$]/.exec(hash)?.[1];
  if (!scheme) return false;
  if (scheme === "y" && backend !== "native") return false;

  // The setting is the stored string without its final `$<hash>` part; libxcrypt accepts the whole
  // string too, but unixcrypt does not, and this keeps both backends fed the same input.
  const cut = hash.lastIndexOf("$");
  if (cut <= 3) return false;
  let computed: string;
  try {
    computed = await runCrypt(password, hash.slice(0, cut));
  } catch {
    return false; // malformed setting (bad rounds, bad salt characters…)
  }
  // Constant-time over the whole string; differing lengths already mean "no match" and reveal
  // nothing about the password.
  const a = Buffer.from(computed, "utf8");
  const b = Buffer.from(hash, "utf8");
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * Samba NT hash: uppercase hex MD4 of the UTF-16LE password (smbpasswd format). MD4 comes from
 * hash-wasm because OpenSSL 3 disables it in node:crypto without the legacy provider.
 */
export async function ntHash(password: string): Promise<string> {
  return (await md4(Buffer.from(password, "utf16le"))).toUpperCase();
}

/** Random letters and digits (the reference's `random_password` gives 20), unbiased. */
export function randomPassword(length = 20): string {
  if (!Number.isInteger(length) || length < 1) throw new RangeError("length must be a positive integer");
  let out = "";
  for (let i = 0; i < length; i++) out += ALNUM[randomInt(ALNUM.length)];
  return out;
}
