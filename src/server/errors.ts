// Typed errors with stable errno names. These map one-to-one onto the JSON-RPC error objects the
// appliance's clients expect (reference §8.2): ValidationErrors → -32602, CallError → -32001.

export const ERRNO = {
  EPERM: 1,
  ENOENT: 2,
  EINTR: 4,
  EIO: 5,
  EAGAIN: 11,
  ENOMEM: 12,
  EACCES: 13,
  EFAULT: 14,
  EBUSY: 16,
  EEXIST: 17,
  ENOTDIR: 20,
  EISDIR: 21,
  EINVAL: 22,
  ENOSPC: 28,
  EROFS: 30,
  ERANGE: 34,
  ENOSYS: 38,
  ENOTEMPTY: 39,
  ETIMEDOUT: 110,
  ECONNREFUSED: 111,
  EHOSTUNREACH: 113,
  EOPNOTSUPP: 95,
  ENOMETHOD: 201,
  EREMOTENODEERROR: 204,
  ENOTAUTHENTICATED: 207,
  ESSLCERTVERIFICATIONERROR: 208,
} as const;

export type ErrName = keyof typeof ERRNO;

export function errnameOf(errno: number): string {
  for (const [name, value] of Object.entries(ERRNO)) if (value === errno) return name;
  return `E${errno}`;
}

/** One field problem: `[attribute, message, errno]` as on the wire. */
export type FieldError = [attribute: string, message: string, errno: number];

/** A set of field errors. Collect with `add`, then `check()` throws if anything was added. */
export class ValidationErrors extends Error {
  readonly errors: FieldError[] = [];

  constructor(errors: FieldError[] = []) {
    // Collectors are made on every call, usually to stay empty: capturing a stack trace for each
    // cost ~8% of a user.query lookup. Validation errors are about input, not code paths.
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super("Invalid params");
    Error.stackTraceLimit = limit;
    this.name = "ValidationErrors";
    this.errors.push(...errors);
  }

  add(attribute: string, message: string, errno: number = ERRNO.EINVAL): this {
    this.errors.push([attribute, message, errno]);
    return this;
  }

  extend(other: ValidationErrors): this {
    this.errors.push(...other.errors);
    return this;
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
export function validationError(attribute: string, message: string, errno: number = ERRNO.EINVAL): never {
  throw new ValidationErrors([[attribute, message, errno]]);
}

/** A failed call that is not about one input field (reference: CallError). */
export class CallError extends Error {
  constructor(
    message: string,
    readonly errno: number = ERRNO.EFAULT,
    readonly extra: unknown = null,
  ) {
    super(message);
    this.name = "CallError";
  }

  get errname(): string {
    return errnameOf(this.errno);
  }
}

/** `<VerboseName> <id> does not exist` — reference §0 InstanceNotFound (a validation error). */
export function instanceNotFound(verboseName: string, id: unknown): never {
  throw new ValidationErrors([[null as unknown as string, `${verboseName} ${String(id)} does not exist`, ERRNO.ENOENT]]);
}

/** JSON-RPC level failure with a fixed code (parse error, invalid request, method not found…). */
export class RpcError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly data: unknown = undefined,
  ) {
    super(message);
    this.name = "RpcError";
  }
}
