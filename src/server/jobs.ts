// Long-running calls (reference §8.4). A job runs its function in the background, reports
// progress, and publishes `core.get_jobs` collection events on every state or progress change.

import { CallError, ERRNO, ValidationErrors, errnameOf, type ErrorCode } from "./errors.js";
import type { EventBus } from "./events.js";

export type JobState = "WAITING" | "RUNNING" | "SUCCESS" | "FAILED" | "ABORTED";

export interface JobOwner {
  sessionId: string | null;
  username: string | null;
  /** Internal jobs (started by the server itself) are visible to full administrators only. */
  internal: boolean;
  /** The starting session's credential type (API_KEY, LOGIN_PASSWORD, …), shown in `credentials`. */
  credentials?: string;
}

export class JobAborted extends Error {
  constructor() {
    super("Job aborted");
  }
}

export class Job {
  state: JobState = "WAITING";
  progress = { percent: 0 as number | null, description: "" as string | null, extra: null as unknown };
  result: unknown = null;
  error: string | null = null;
  exception: string | null = null;
  excInfo: { repr: string; type: string; errno: number | null; extra: unknown } | null = null;
  /** The failure's stable code, answered with the error when the call is awaited (not in listings). */
  errorCode: ErrorCode | null = null;
  timeStarted = new Date();
  timeFinished: Date | null = null;
  readonly messageIds: (string | number)[] = [];
  private abortRequested = false;
  readonly done: Promise<void>;
  private resolveDone!: () => void;
  /** Redacted copy of `result` for listings (set by the dispatcher). */
  publicResult: unknown = undefined;

  constructor(
    readonly id: number,
    readonly method: string,
    readonly args: unknown[],
    readonly owner: JobOwner,
    readonly description: string | null,
    readonly abortable: boolean,
    readonly transient: boolean,
    private readonly manager: JobManager,
  ) {
    this.done = new Promise((r) => (this.resolveDone = r));
  }

  setProgress(percent: number | null, description?: string | null, extra?: unknown): void {
    this.progress = { percent, description: description ?? this.progress.description, extra: extra ?? null };
    this.manager.changed(this);
  }

  /** Handlers call this between steps; it throws once an abort was requested. */
  checkAborted(): void {
    if (this.abortRequested) throw new JobAborted();
  }

  get aborted(): boolean {
    return this.abortRequested;
  }

  requestAbort(): void {
    this.abortRequested = true;
  }

  finish(state: JobState, result: unknown, err?: unknown): void {
    this.state = state;
    this.timeFinished = new Date();
    if (state === "SUCCESS") {
      this.result = result;
      this.progress = { ...this.progress, percent: 100 };
    } else if (err) {
      const errno = err instanceof CallError ? err.errno : err instanceof ValidationErrors ? ERRNO.EINVAL : null;
      const extra = err instanceof ValidationErrors ? err.errors : err instanceof CallError ? err.extra : null;
      const message = err instanceof ValidationErrors ? err.errors.map(([a, m]) => `[${errnameOf(ERRNO.EINVAL)}] ${a}: ${m}`).join("\n") : String((err as Error).message ?? err);
      this.error = state === "ABORTED" ? "Job aborted" : message;
      this.errorCode = state === "ABORTED" ? "job.aborted" : err instanceof CallError ? err.code : err instanceof ValidationErrors ? (err.codes[0] ?? "core.invalid_argument") : "core.internal";
      this.exception = (err as Error).stack ?? String(err);
      // The official client raises ValidationErrors for type VALIDATION, else a ClientException naming
      // the exception class; an aborted job has no exc_info (reference truenas-scram-and-jobs.md §6).
      const type = err instanceof ValidationErrors ? "VALIDATION" : err instanceof CallError ? "CallError" : ((err as Error).name ?? "Error");
      this.excInfo = state === "ABORTED" ? null : { repr: `${(err as Error).name ?? "Error"}(${JSON.stringify(message)})`, type, errno, extra };
    }
    this.manager.changed(this);
    this.resolveDone();
  }

  toEntry(): Record<string, unknown> {
    return {
      id: this.id,
      message_ids: this.messageIds,
      method: this.method,
      arguments: this.args,
      transient: this.transient,
      description: this.description,
      abortable: this.abortable,
      logs_path: null,
      logs_excerpt: null,
      progress: this.progress,
      result: this.publicResult === undefined ? this.result : this.publicResult,
      result_encoding_error: null,
      error: this.error,
      exception: this.exception,
      exc_info: this.excInfo,
      state: this.state,
      time_started: this.timeStarted,
      time_finished: this.timeFinished,
      credentials: this.owner.username ? { type: this.owner.credentials ?? "LOGIN_PASSWORD", data: { username: this.owner.username } } : null,
    };
  }
}

export class JobManager {
  private nextId = 1;
  private readonly jobs = new Map<number, Job>();
  private readonly running = new Set<Job>();
  /** Finished jobs kept for core.get_jobs. */
  private readonly keepFinished = 1000;

  constructor(private readonly events: EventBus) {}

  /**
   * `args` are listed by core.get_jobs and sent in job events as given: callers pass them already
   * redacted (the dispatcher, by the method's declared secret arguments).
   */
  start(
    method: string,
    args: unknown[],
    owner: JobOwner,
    opts: { description?: string | null; abortable?: boolean; transient?: boolean; messageId?: string | number | null },
    run: (job: Job) => Promise<unknown>,
  ): Job {
    const job = new Job(this.nextId++, method, args, owner, opts.description ?? null, !!opts.abortable, !!opts.transient, this);
    if (opts.messageId !== undefined && opts.messageId !== null) job.messageIds.push(opts.messageId);
    this.jobs.set(job.id, job);
    this.running.add(job);
    if (!job.transient) this.events.publish("core.get_jobs", "added", job.id, job.toEntry());
    this.prune();
    queueMicrotask(async () => {
      job.state = "RUNNING";
      this.changed(job);
      try {
        const result = await run(job);
        if (job.aborted) job.finish("ABORTED", null, new JobAborted());
        else job.finish("SUCCESS", result);
      } catch (err) {
        job.finish(err instanceof JobAborted ? "ABORTED" : "FAILED", null, err);
      } finally {
        this.running.delete(job);
      }
    });
    return job;
  }

  get(id: number): Job | undefined {
    return this.jobs.get(id);
  }

  all(): Job[] {
    return [...this.jobs.values()];
  }

  changed(job: Job): void {
    // Transient jobs emit no events at all (reference truenas-scram-and-jobs.md §6.1).
    if (job.transient) return;
    this.events.publish("core.get_jobs", "changed", job.id, job.toEntry());
  }

  /** Resolves when every running job has finished (graceful shutdown). */
  async drain(): Promise<void> {
    await Promise.all([...this.running].map((j) => j.done));
  }

  private prune(): void {
    if (this.jobs.size <= this.keepFinished) return;
    for (const [id, job] of this.jobs) {
      if (this.jobs.size <= this.keepFinished) break;
      if (job.state !== "RUNNING" && job.state !== "WAITING") this.jobs.delete(id);
    }
  }
}
