// Typed errors with stable errno names. These map one-to-one onto the JSON-RPC error objects the
// appliance's clients expect (reference §8.2): ValidationErrors → -32602, CallError → -32001.

import { errnameOf } from "./errno.js";
import { ERROR_CODES, genericCode, type ErrorCode } from "./error-codes.js";

export { ERRNO, errnameOf, type ErrName } from "./errno.js";
export type { ErrorCode } from "./error-codes.js";

/**
 * What a throw site names: a catalogued code (src/server/error-codes.ts). Its errno comes from the
 * catalogue, so the two cannot disagree, and a site without a code does not compile. The object
 * form only passes on an error whose errno and code were settled elsewhere (a job's failure, a
 * copy with secrets scrubbed), where the errno may not be the code's own.
 */
export type ErrorSpec = ErrorCode | { readonly errno: number; readonly code: ErrorCode };

function resolve(c: ErrorSpec): { errno: number; code: ErrorCode } {
  return typeof c === "string" ? { errno: ERROR_CODES[c].errno, code: c } : c;
}

/** One field problem: `[attribute, message, errno]` as on the wire. */
export type FieldError = [attribute: string, message: string, errno: number];

/** A field problem as a throw site writes it: the third element may be a catalogued code. */
export type FieldErrorInput = FieldError | [attribute: string, message: string, code: ErrorCode];

// Each triple's code rides beside it, not in it: `extra` stays exactly `[attribute, message, errno]`
// (the official client reads it), and a triple keeps its code however it is passed around (pushed
// from one collector into another, kept by a job). A copy made by hand gets its errno's generic code.
const fieldCodes = new WeakMap<FieldError, ErrorCode>();

/** Make a wire triple tagged with its code. */
export function fieldError(attribute: string, message: string, c: ErrorSpec): FieldError {
  const { errno, code } = resolve(c);
  const triple: FieldError = [attribute, message, errno];
  fieldCodes.set(triple, code);
  return triple;
}

/** The code of one triple (its errno's generic code when it was made by hand, without one). */
export function fieldErrorCode(triple: FieldError): ErrorCode {
  return fieldCodes.get(triple) ?? genericCode(triple[2]);
}

/** A set of field errors. Collect with `add`, then `check()` throws if anything was added. */
export class ValidationErrors extends Error {
  readonly errors: FieldError[] = [];

  constructor(errors: readonly FieldErrorInput[] = []) {
    // Collectors are made on every call, usually to stay empty: capturing a stack trace for each
    // cost ~8% of a user.query lookup. Validation errors are about input, not code paths.
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super("Invalid params");
    Error.stackTraceLimit = limit;
    this.name = "ValidationErrors";
    for (const e of errors) this.errors.push(typeof e[2] === "string" ? fieldError(e[0], e[1], e[2]) : (e as FieldError));
  }

  add(attribute: string, message: string, c: ErrorSpec): this {
    this.errors.push(fieldError(attribute, message, c));
    return this;
  }

  extend(other: ValidationErrors): this {
    this.errors.push(...other.errors);
    return this;
  }

  /** One stable code per triple of `errors`, in the same order (`data.codes` on the wire). */
  get codes(): ErrorCode[] {
    return this.errors.map(fieldErrorCode);
  }

  get size(): number {
    return this.errors.length;
  }

  has(attribute: string): boolean {
    return this.errors.some(([a]) => a === attribute);
  }

  check(): void {
    if (this.errors.length) throw this;
  }

  override get message(): string {
    return this.errors.map(([a, m]) => `[${errnameOf(this.errors[0]?.[2] ?? 22)}] ${a}: ${m}`).join("\n") || "Invalid params";
  }
}

/** Throw a single-field validation error. */
export function validationError(attribute: string, message: string, c: ErrorSpec): never {
  throw new ValidationErrors([fieldError(attribute, message, c)]);
}

/** A failed call that is not about one input field (reference: CallError). */
export class CallError extends Error {
  readonly errno: number;
  readonly code: ErrorCode;

  constructor(
    message: string,
    c: ErrorSpec,
    readonly extra: unknown = null,
  ) {
    super(message);
    this.name = "CallError";
    const { errno, code } = resolve(c);
    this.errno = errno;
    this.code = code;
  }

  get errname(): string {
    return errnameOf(this.errno);
  }
}

/** `<VerboseName> <id> does not exist` — reference §0 InstanceNotFound (a validation error). */
export function instanceNotFound(verboseName: string, id: unknown, code: ErrorCode): never {
  throw new ValidationErrors([fieldError(null as unknown as string, `${verboseName} ${String(id)} does not exist`, code)]);
}

/** JSON-RPC level failure with a fixed code (parse error, invalid request, method not found…). */
export class RpcError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly data: unknown = undefined,
    /** The stable code (`data.code`); `code` above is the JSON-RPC one. */
    readonly errorCode: ErrorCode,
  ) {
    super(message);
    this.name = "RpcError";
  }
}
