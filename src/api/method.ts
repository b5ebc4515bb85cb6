// A method is data: its name, positional argument schemas, result schema, roles, audit label and
// handler. The dispatcher validates, authorizes and audits from this data; handlers never check
// roles by hand. The same schemas drive `core.get_methods`.

import { z } from "zod";
import { ValidationErrors, fieldError, type FieldError } from "../server/errors.js";
import type { Config } from "../config.js";
import type { Connection } from "../server/connection.js";
import type { Session } from "../auth/session.js";
import type { EventBus } from "../server/events.js";
import type { Job, JobManager } from "../server/jobs.js";
import type { AuthService, AuthServiceContext } from "../auth/service.js";
import type { AccountsApp } from "../accounts/context.js";
import type { MailService } from "../mail/service.js";
import type { SecretBox } from "../store/secret-box.js";
import type { RoleName } from "../access/roles.js";
import type { CallTargets, FieldRoles, OwnerRule, RowScope } from "../access/ownership.js";

/**
 * What a handler sees of the application: the services it calls and the narrow contexts of the
 * domain modules it passes `ctx.app` to. src/app.ts App satisfies it structurally, so nothing
 * under src/api imports the application (which imports the registry, which imports every method).
 * It lives here, with MethodDef, because each names the other (the registry lists MethodDefs; a
 * handler receives a CallContext).
 */
export interface HandlerApp extends AccountsApp, AuthServiceContext {
  readonly config: Config;
  readonly registry: { get(name: string): MethodDef | undefined; all(): MethodDef[] };
  readonly auth: AuthService;
  readonly events: EventBus;
  readonly jobs: JobManager;
  /** Outgoing mail (src/mail/service.ts): queue and direct sends. */
  readonly mail: MailService;
  /** Seals stored credentials of other systems (src/store/secret-box.ts). */
  readonly secretBox: SecretBox;
}

/** What a handler sees: the application, the caller's connection and session, and the job it runs in (if any). */
export interface CallContext {
  app: HandlerApp;
  conn: Connection;
  /** The caller's session; null only for methods callable without authentication. */
  session: Session | null;
  /** JSON-RPC id of the request (null for notifications and internal calls). */
  callId: string | number | null;
  job?: Job;
  /** Set by the handler (its domain function): the name of the account it acted on, for the audit label (AuditFacts). */
  auditSubject?: string;
  /**
   * Set by the dispatcher for `owner: "own-rows-or-role"` listings: the rows the caller may see
   * (every account's, or only its own). The handler passes it to its domain function.
   */
  rowScope?: RowScope;
}

export interface ArgSpec<S extends z.ZodType = z.ZodType> {
  name: string;
  schema: S;
  /** Value used when the argument is not sent. Absent ⇒ the argument is required. */
  default?: () => z.input<S>;
}

export function arg<S extends z.ZodType>(name: string, schema: S, defaultValue?: () => z.input<S>): ArgSpec<S> {
  return defaultValue === undefined ? { name, schema } : { name, schema, default: defaultValue };
}

type ArgOutputs<A extends readonly ArgSpec[]> = { [K in keyof A]: A[K] extends ArgSpec<infer S> ? z.output<S> : never };

// The ownership rule and the call targets are declared here and checked by src/access/targets.ts;
// their types live there (access needs no method definitions).
export type { CallTargets, FieldRoles, OwnerRule, RowScope } from "../access/ownership.js";

/**
 * A secret argument, as a path into the positional arguments: an argument's name
 * (`"password"`) or a field of an object argument (`"user_create.password"`). Secret arguments are
 * replaced by "********" in audit rows, logs, job listings and error messages.
 */
export type SecretArg = string;

/**
 * What a handler recorded for its audit label, after it ran. `subject`: the name of the account
 * the call acted on as the handler read it from the store (ctx.auditSubject) — not a per-process
 * id→name map, which another server process sharing the store makes stale. Undefined when the
 * call failed before the handler read it; labels then name the id.
 */
export interface AuditFacts {
  subject?: string;
}

export interface MethodOptions<A extends readonly ArgSpec[], R> {
  name: string;
  description: string;
  args: A;
  /**
   * The result's schema (required): published by core.get_methods, docs/api.md and the web UI's
   * types, and checked by the dispatcher under GATEHOUSE_CHECK_RESULTS=1 (tests). Entities come
   * from their area's schemas module (src/accounts/schemas.ts, src/auth/schemas.ts, ...).
   */
  returns: z.ZodType;
  /**
   * Roles that may call the method (any one suffices). Empty ⇒ only FULL_ADMIN.
   * Methods named `*_choices` also accept READONLY_ADMIN automatically.
   */
  roles?: readonly RoleName[];
  /** Ownership rule (default `"any"`). */
  owner?: OwnerRule;
  /** The accounts the call acts on (see CallTargets); the dispatcher enforces the rule. */
  targets?: (...args: ArgOutputs<A>) => CallTargets;
  /** Arguments that are secrets (see SecretArg). */
  secretArgs?: readonly SecretArg[];
  /** false ⇒ callable before login (rate limited per IP). */
  authenticationRequired?: boolean;
  /** false ⇒ any authenticated user session may call it (handlers apply self-or-admin rules). */
  authorizationRequired?: boolean;
  /**
   * true ⇒ also callable by a fleet user: a session holding no role at all, which signed in on its
   * effective access to fleet systems (SPEC "Account types"). Such a session may call nothing
   * else. The method must confine itself to the caller's own account or the systems it may see.
   */
  fleetUser?: boolean;
  /** Roles that some fields of an object argument need (checked by the dispatcher; see FieldRoles). */
  fieldRoles?: FieldRoles;
  /**
   * Audit label; a function receives the validated arguments and then AuditFacts (what the handler
   * recorded: the name of the account it acted on). Absent ⇒ no METHOD_CALL entry.
   */
  audit?: string | ((...args: [...ArgOutputs<A>, AuditFacts]) => string);
  /** Role whose holders see secret fields of this method's results (default: FULL_ADMIN only). */
  secretsRole?: RoleName;
  /** Result fields replaced by "********" for sessions without FULL_ADMIN or `secretsRole`. */
  secretFields?: readonly string[];
  /**
   * Shown once: result fields (or `true`: the whole result) that only the call's own answer
   * carries — a generated password, a new key, a token. Job listings and job events (core.bulk)
   * replace them with "********" for everyone, whatever their roles or `raw_result`.
   */
  showOnce?: true | readonly string[];
  /** Runs as a job: the call answers with the job id (legacy_jobs) or the job's result. */
  job?: boolean | { abortable?: boolean; transient?: boolean; description?: (...args: ArgOutputs<A>) => string };
  /** Subject to the per-IP limiter when called without authentication (default true). */
  rateLimit?: boolean;
  private?: boolean;
  /** Hidden from API versions at or after this one (e.g. "v27"). */
  removedIn?: string;
  handler: (ctx: CallContext, ...args: ArgOutputs<A>) => R | Promise<R>;
}

export interface MethodDef {
  name: string;
  description: string;
  args: readonly ArgSpec[];
  returns: z.ZodType;
  roles: readonly RoleName[];
  owner: OwnerRule;
  targets?: (...args: unknown[]) => CallTargets;
  secretArgs: readonly SecretArg[];
  authenticationRequired: boolean;
  authorizationRequired: boolean;
  fleetUser: boolean;
  fieldRoles?: FieldRoles;
  audit?: string | ((...args: unknown[]) => string);
  secretsRole?: RoleName;
  secretFields?: readonly string[];
  showOnce?: true | readonly string[];
  job: false | { abortable: boolean; transient: boolean; description?: (...args: unknown[]) => string };
  rateLimit: boolean;
  private: boolean;
  removedIn?: string;
  handler: (ctx: CallContext, ...args: unknown[]) => unknown;
}

export function defineMethod<const A extends readonly ArgSpec[], R>(opts: MethodOptions<A, R>): MethodDef {
  const roles: RoleName[] = [...(opts.roles ?? [])];
  if (opts.name.endsWith("_choices") && !roles.includes("READONLY_ADMIN")) roles.push("READONLY_ADMIN");
  const job = opts.job ? { abortable: false, transient: false, ...(opts.job === true ? {} : opts.job) } : false;
  return {
    name: opts.name,
    description: opts.description,
    args: opts.args,
    returns: opts.returns,
    roles,
    owner: opts.owner ?? "any",
    targets: opts.targets as MethodDef["targets"],
    secretArgs: opts.secretArgs ?? [],
    authenticationRequired: opts.authenticationRequired ?? true,
    // "self-or-role", "own-rows-or-role": every session may call it; the dispatcher then applies the ownership rule.
    authorizationRequired: opts.authorizationRequired ?? (opts.owner !== "self-or-role" && opts.owner !== "own-rows-or-role"),
    fleetUser: opts.fleetUser ?? false,
    fieldRoles: opts.fieldRoles,
    audit: opts.audit as MethodDef["audit"],
    secretsRole: opts.secretsRole,
    secretFields: opts.secretFields,
    showOnce: opts.showOnce,
    job: job as MethodDef["job"],
    rateLimit: opts.rateLimit ?? true,
    private: opts.private ?? false,
    removedIn: opts.removedIn,
    handler: opts.handler as MethodDef["handler"],
  };
}

// ---- validation of positional params -------------------------------------------------------

// Field messages as the reference's clients know them.
z.config({
  customError: (iss) => {
    if (iss.code === "invalid_type" && iss.input === undefined) return "Field required";
    return undefined;
  },
});

export function zodIssuesToFieldErrors(prefix: string, issues: readonly z.core.$ZodIssue[]): FieldError[] {
  const out: FieldError[] = [];
  for (const iss of issues) {
    const path = [prefix, ...iss.path.map(String)].filter((p) => p !== "").join(".");
    if (iss.code === "unrecognized_keys") {
      for (const key of iss.keys) out.push(fieldError(`${path}.${key}`, "Extra inputs are not permitted", "core.extra_field"));
    } else if (iss.code === "invalid_union" && iss.errors.length) {
      // Report the branch that got furthest: the one with the fewest problems.
      const best = [...iss.errors].sort((a, b) => a.length - b.length)[0];
      out.push(...zodIssuesToFieldErrors(path, best));
    } else {
      out.push(fieldError(path, iss.message, "core.invalid_argument"));
    }
  }
  return out;
}

/** Validate positional params against a method's argument specs; throws ValidationErrors. */
export function parseArgs(def: MethodDef, params: unknown[]): unknown[] {
  if (params.length > def.args.length) {
    throw new ValidationErrors([[def.name, `Too many arguments (expected ${def.args.length}, found ${params.length})`, "core.too_many_arguments"]]);
  }
  // Made only when an argument is wrong: an Error's construction is most of the cost of a
  // valid call's validation (every call of every method comes through here).
  let errors: ValidationErrors | null = null;
  const out: unknown[] = [];
  def.args.forEach((spec, i) => {
    let value = params[i];
    if (value === undefined) {
      if (!spec.default) {
        (errors ??= new ValidationErrors()).add(spec.name, "Field required", "core.field_required");
        return;
      }
      value = spec.default();
    }
    const r = spec.schema.safeParse(value);
    if (r.success) out.push(r.data);
    else (errors ??= new ValidationErrors()).errors.push(...zodIssuesToFieldErrors(spec.name, r.error.issues));
  });
  (errors as ValidationErrors | null)?.check();
  return out;
}
