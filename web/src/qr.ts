// QR codes for the two-factor setup (otpauth:// URIs), made by the `qrcode-generator` package
// (MIT, no dependencies); this file only adapts its output to the profile page's SVG.
// Byte mode, error-correction level M, the smallest version that fits, mask chosen by the package.

import qrcode from "qrcode-generator";

export interface QrMatrix {
  size: number;
  version: number;
  /** modules[y][x], true = dark */
  modules: boolean[][];
}

/** Encode `text` as UTF-8 bytes. The package's default byte conversion keeps only the low 8 bits of
 * each UTF-16 unit, so it is handed a string whose units are the UTF-8 bytes already. */
export function encodeQr(text: string): QrMatrix {
  const bytes = new TextEncoder().encode(text);
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  const qr = qrcode(0, "M");
  qr.addData(binary, "Byte");
  qr.make();
  const size = qr.getModuleCount();
  const modules = Array.from({ length: size }, (_, y) => Array.from({ length: size }, (_, x) => qr.isDark(y, x)));
  return { size, version: (size - 17) / 4, modules };
}

/** One SVG path for the dark modules, offset by the 4-module quiet zone the standard asks for. */
export function qrSvgPath(q: QrMatrix): string {
  let d = "";
  for (let y = 0; y < q.size; y++) {
    for (let x = 0; x < q.size; x++) {
      if (q.modules[y][x]) d += `M${x + 4} ${y + 4}h1v1h-1z`;
    }
  }
  return d;
}
