// The UI's QR codes (web/src/qr.ts over the `qrcode-generator` package) decoded by an independent
// decoder written from the standard (./qr-decode.ts): both the module matrix and the SVG path the
// profile page draws decode back to the text, across versions 1 to 10 and non-ASCII input.

import { test } from "node:test";
import assert from "node:assert/strict";
import { encodeQr, qrSvgPath } from "../../web/src/qr.js";
import { decodeQr, modulesFromSvgPath } from "./qr-decode.js";

const TEXTS = [
  "hi",
  "otpauth://totp/alice-gatehouse@Gatehouse?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP&issuer=Gatehouse",
  "otpauth://totp/a-very-long-username.with.dots-gatehouse.example.org%40Gatehouse?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP&issuer=Gatehouse&digits=8&period=60&algorithm=SHA1",
  "x".repeat(200),
  "Ünïcødé ✓ " + "0123456789".repeat(5),
];

test("QR codes decode back to their text (versions 1 to 10, UTF-8)", () => {
  const versions = new Set<number>();
  for (const t of TEXTS) {
    const q = encodeQr(t);
    assert.equal(q.modules.length, q.size);
    const d = decodeQr(q.modules);
    assert.equal(d.text, t);
    assert.equal(d.version, q.version);
    versions.add(d.version);
  }
  assert.ok(
    [...versions].some((v) => v >= 7),
    "a version with version-information blocks was covered",
  );
  assert.ok(
    [...versions].some((v) => v >= 10),
    "a version with a 16-bit character count was covered",
  );
});

test("the SVG path the profile page draws decodes back to the text", () => {
  for (const t of TEXTS) {
    const q = encodeQr(t);
    assert.equal(decodeQr(modulesFromSvgPath(qrSvgPath(q), q.size)).text, t);
  }
});
