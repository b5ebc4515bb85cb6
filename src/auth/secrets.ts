// Small helpers for the server's own secrets (tokens, API keys, one-time codes): random strings,
// fast hashes for lookup, and constant-time comparison.

import { createHash, randomBytes, timingSafeEqual } from "node:crypto";

export function sha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

/** Constant-time equality of two hex (or any ASCII) strings. */
export function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** `n` URL-safe characters. */
export function urlSafeToken(n = 64): string {
  return randomBytes(Math.ceil((n * 3) / 4))
    .toString("base64url")
    .slice(0, n);
}
