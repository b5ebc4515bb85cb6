// Server settings from flags and environment variables (flags win). Every flag has a
// GATEHOUSE_* variable of the same name.

import path from "node:path";
import { clampIterations, SCRAM_DEFAULT_ITERATIONS } from "./auth/scram.js";

export interface Config {
  host: string;
  port: number;
  dataDir: string;
  database: string | null;
  hostRoot: string;
  storageRoots: string[];
  tlsCert: string | null;
  tlsKey: string | null;
  logLevel: string;
  /** SHA-512 crypt rounds for new hashes; null ⇒ the stored setting (default 656000). */
  hashRounds: number | null;
  /** Milliseconds to delay a failed login (min, max); tests may shorten it. */
  failDelay: [number, number];
  /** Proxies whose X-Forwarded-For names the client (addresses or CIDR blocks; src/auth/source.ts). */
  trustedProxies: string[];
  /** Login limiter windows and per-account delay (src/auth/limiter.ts); tests may shorten them. */
  loginLimits: LoginLimits;
  /** PBKDF2 iterations of new API keys' SCRAM records (GATEHOUSE_SCRAM_ITERATIONS; 50,000–5,000,000). */
  scramIterations: number;
  /** TEST ONLY: loopback callers skip the login and anonymous-call limiters (GATEHOUSE_TEST_LIMITER_EXEMPT=1). */
  testLimiterExempt: boolean;
}

export interface LoginLimits {
  /** Failures of one account from one source count within this window (ms). */
  windowMs: number;
  /** Failures of one account from all sources that cost no extra delay. */
  accountFreeFailures: number;
  /** First per-account delay (ms); doubles with each further failure in the window. */
  accountDelayBaseMs: number;
  /** Per-account delay cap (ms): never a hard lock. */
  accountDelayMaxMs: number;
}

export const LOGIN_LIMIT_DEFAULTS: LoginLimits = { windowMs: 15 * 60_000, accountFreeFailures: 5, accountDelayBaseMs: 1000, accountDelayMaxMs: 30_000 };

export interface ConfigInput {
  host?: string;
  port?: string | number;
  dataDir?: string;
  database?: string;
  hostRoot?: string;
  storageRoot?: string[] | string;
  tlsCert?: string;
  tlsKey?: string;
  logLevel?: string;
  hashRounds?: string | number;
}

export function resolveConfig(flags: ConfigInput = {}, env: NodeJS.ProcessEnv = process.env): Config {
  const dataDir = path.resolve(flags.dataDir ?? env.GATEHOUSE_DATA_DIR ?? ".data");
  const hostRoot = path.resolve(flags.hostRoot ?? env.GATEHOUSE_HOST_ROOT ?? path.join(dataDir, "root"));
  const rootsRaw = flags.storageRoot ?? env.GATEHOUSE_STORAGE_ROOTS?.split(":").filter(Boolean);
  const storageRoots = rootsRaw ? (Array.isArray(rootsRaw) ? rootsRaw : [rootsRaw]).map((r) => path.resolve(r)) : [hostRoot === "/" ? "/mnt" : path.join(dataDir, "mnt")];
  const delay = (env.GATEHOUSE_FAIL_DELAY_MS ?? "1000-2000").split("-").map(Number);
  const rounds = flags.hashRounds ?? env.GATEHOUSE_HASH_ROUNDS;
  return {
    host: flags.host ?? env.GATEHOUSE_HOST ?? "127.0.0.1",
    port: Number(flags.port ?? env.GATEHOUSE_PORT ?? 8440),
    dataDir,
    database: flags.database ?? env.GATEHOUSE_DATABASE_URL ?? null,
    hostRoot,
    storageRoots,
    tlsCert: flags.tlsCert ?? env.GATEHOUSE_TLS_CERT ?? null,
    tlsKey: flags.tlsKey ?? env.GATEHOUSE_TLS_KEY ?? null,
    logLevel: flags.logLevel ?? env.GATEHOUSE_LOG_LEVEL ?? "info",
    hashRounds: rounds === undefined ? null : Number(rounds),
    failDelay: [delay[0] ?? 1000, delay[1] ?? delay[0] ?? 2000],
    trustedProxies: (env.GATEHOUSE_TRUSTED_PROXIES ?? "")
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean),
    loginLimits: {
      windowMs: Number(env.GATEHOUSE_LOGIN_WINDOW_MS ?? LOGIN_LIMIT_DEFAULTS.windowMs),
      accountFreeFailures: Number(env.GATEHOUSE_LOGIN_ACCOUNT_FREE_FAILURES ?? LOGIN_LIMIT_DEFAULTS.accountFreeFailures),
      accountDelayBaseMs: Number(env.GATEHOUSE_LOGIN_ACCOUNT_DELAY_MS ?? LOGIN_LIMIT_DEFAULTS.accountDelayBaseMs),
      accountDelayMaxMs: Number(env.GATEHOUSE_LOGIN_ACCOUNT_DELAY_MAX_MS ?? LOGIN_LIMIT_DEFAULTS.accountDelayMaxMs),
    },
    scramIterations: clampIterations(Number(env.GATEHOUSE_SCRAM_ITERATIONS ?? SCRAM_DEFAULT_ITERATIONS)),
    testLimiterExempt: env.GATEHOUSE_TEST_LIMITER_EXEMPT === "1",
  };
}
