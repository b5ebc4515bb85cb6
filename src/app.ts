// The application: configuration, store, method registry, events, jobs, authentication and the
// listeners that react to account changes (host provisioning). One per server process.

import { EventEmitter } from "node:events";
import pino, { type Logger } from "pino";
import type { Config } from "./config.js";
import { openStore, type Store } from "./store/db.js";
import { buildRegistry, type Registry } from "./api/registry.js";
import { EventBus } from "./server/events.js";
import { JobManager } from "./server/jobs.js";
import { AuthService } from "./auth/service.js";
import { sqliteRegexpFunction } from "./store/query.js";
import { seedBuiltins } from "./accounts/builtins.js";
import { preparePrivateDir } from "./store/private-dir.js";
import { openSecretBox, type SecretBox } from "./store/secret-box.js";
import type { ChangeEvent } from "./store/change-event.js";
import { MailService } from "./mail/service.js";

export type ChangeListener = (ev: ChangeEvent) => void;

export class App {
  readonly registry: Registry;
  readonly events = new EventBus();
  readonly jobs: JobManager;
  readonly auth: AuthService;
  /** Outgoing mail: the queue worker and direct sends (src/mail). */
  readonly mail: MailService;
  inflight = 0;
  /**
   * TEST ONLY: loopback callers skip the login limiter (lock-out, per-account delay) and the
   * anonymous rate limit. Set by GATEHOUSE_TEST_LIMITER_EXEMPT=1 at startup (logged loudly) or by
   * the test harness; never by any API call (core.set_options cannot exempt a connection).
   */
  rateLimitLoopbackExempt = false;
  rateLimitDelay: [number, number] = [1000, 10000];
  private readonly idle = new EventEmitter();
  private readonly changeListeners: ChangeListener[] = [];
  private readonly shutdownHooks: (() => Promise<void>)[] = [];
  /** Seals stored credentials of other systems (src/store/secret-box.ts); set in create(). */
  secretBox!: SecretBox;

  private constructor(
    readonly config: Config,
    readonly store: Store,
    readonly log: Logger,
  ) {
    this.registry = buildRegistry();
    this.jobs = new JobManager(this.events);
    this.auth = new AuthService(this);
    this.mail = new MailService(this);
  }

  static async create(config: Config, opts: { log?: Logger; sqliteFile?: string } = {}): Promise<App> {
    const log = opts.log ?? pino({ level: config.logLevel, redact: ["password", "*.password", "api_key", "*.api_key"] });
    // The store and the secret-box key live in <data-dir>/private (0700, files 0600).
    const privateDir = preparePrivateDir(config.dataDir, log);
    const store = await openStore({
      url: config.database,
      dataDir: config.dataDir,
      sqliteFile: opts.sqliteFile,
      sqliteFunctions: (db) => db.function("regexp", { deterministic: true }, (p: unknown, v: unknown) => sqliteRegexpFunction(p as string, v as string | null)),
    });
    const secretBox = await openSecretBox(store.db, privateDir).catch(async (err) => {
      await store.close();
      throw err;
    });
    const app = new App(config, store, log);
    if (config.testLimiterExempt) {
      // Test-only (README "Test-only limiter exemption"): never set on a real deployment.
      app.rateLimitLoopbackExempt = true;
      log.warn("GATEHOUSE_TEST_LIMITER_EXEMPT=1: TEST ONLY — loopback callers skip the login lock-out, the per-account delay and the anonymous rate limit");
    }
    app.secretBox = secretBox;
    // Directory (LDAP) logins: the password login asks the directory for LDAP and unknown names.
    (await import("./directory/install.js")).installDirectory(app);
    await seedBuiltins(app);
    // Temporary homes of a create interrupted by a crash (docs/security/path-safety.md).
    await (await import("./accounts/home.js")).removeHomeLeftoversAtStartup(app);
    (await import("./provision/index.js")).startProvisioner(app);
    // Pooled connections to managed systems and their status poller (src/fleet/runtime.ts).
    (await import("./fleet/runtime.js")).startFleetRuntime(app);
    app.mail.start();
    app.onShutdown(() => app.mail.stop());
    return app;
  }

  /** Register a listener called after every change this process commits, with its typed event. */
  onChange(listener: ChangeListener): void {
    this.changeListeners.push(listener);
  }

  /**
   * A change committed: its typed event (src/store/change-event.ts), which the committing
   * transaction also recorded (src/store/changes.ts recordChange) for other server processes.
   */
  changed(ev: ChangeEvent): void {
    for (const l of this.changeListeners) {
      try {
        l(ev);
      } catch (err) {
        this.log.error({ err }, "change listener failed");
      }
    }
  }

  emitIdle(): void {
    this.idle.emit("idle");
  }

  /** Wait for in-flight calls and running jobs (graceful shutdown). */
  async drain(timeoutMs = 30_000): Promise<void> {
    const calls = this.inflight === 0 ? Promise.resolve() : new Promise<void>((r) => this.idle.once("idle", () => r()));
    await Promise.race([Promise.all([calls, this.jobs.drain()]), new Promise((r) => setTimeout(r, timeoutMs))]);
  }

  /** Work to finish before the store closes (e.g. a pending provisioning write). */
  onShutdown(hook: () => Promise<void>): void {
    this.shutdownHooks.push(hook);
  }

  async shutdown(): Promise<void> {
    // Once: close() runs the hooks when nobody called shutdown() (the poller, mail and provisioner
    // must stop before the store they use closes).
    const hooks = this.shutdownHooks.splice(0);
    for (const h of hooks) await h().catch((err) => this.log.error({ err }, "shutdown hook failed"));
  }

  async close(): Promise<void> {
    await this.shutdown();
    await this.store.close();
  }
}
