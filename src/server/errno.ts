// The errno numbers and names the appliance's clients know (reference §8.2). Kept apart from
// errors.ts so the error-code catalogue can use them without an import cycle.

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
