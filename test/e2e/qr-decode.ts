// A minimal QR Code decoder written from the standard's tables (ISO/IEC 18004), independent of the
// encoder package the UI uses: format information, function-pattern layout, unmasking,
// de-interleaving, Reed–Solomon syndromes (log/antilog arithmetic) and the byte-mode payload.
// Level M, byte mode, versions 1–10 — what the UI's two-factor QR codes use.

import assert from "node:assert/strict";

// ISO/IEC 18004 Table C.1, level M, masks 0..7 (after the 101010000010010 XOR mask).
const FORMAT_M = ["101010000010010", "101000100100101", "101111001111100", "101101101001011", "100010111111001", "100000011001110", "100111110010111", "100101010100000"];
// Alignment centres (Annex E) and error-correction blocks for level M (Table 9), versions 1–10.
const ALIGN: number[][] = [[], [], [6, 18], [6, 22], [6, 26], [6, 30], [6, 34], [6, 22, 38], [6, 24, 42], [6, 26, 46], [6, 28, 50]];
// [ecc codewords per block, [blocks, data codewords per block]...]
const BLOCKS_M: [number, [number, number][]][] = [
  [0, []],
  [10, [[1, 16]]],
  [16, [[1, 28]]],
  [26, [[1, 44]]],
  [18, [[2, 32]]],
  [24, [[2, 43]]],
  [16, [[4, 27]]],
  [18, [[4, 31]]],
  [
    22,
    [
      [2, 38],
      [2, 39],
    ],
  ],
  [
    22,
    [
      [3, 36],
      [2, 37],
    ],
  ],
  [
    26,
    [
      [4, 43],
      [1, 44],
    ],
  ],
];

const EXP: number[] = [];
const LOG: number[] = new Array(256).fill(0);
{
  let x = 1;
  for (let i = 0; i < 255; i++) {
    EXP[i] = x;
    LOG[x] = i;
    x <<= 1;
    if (x & 0x100) x ^= 0x11d;
  }
}
const mul = (a: number, b: number) => (a === 0 || b === 0 ? 0 : EXP[(LOG[a] + LOG[b]) % 255]);

export function decodeQr(modules: boolean[][]): { text: string; version: number } {
  const size = modules.length;
  const version = (size - 17) / 4;
  assert.ok(Number.isInteger(version) && version >= 1 && version <= 10, `size ${size} is a version this decoder reads (1–10)`);
  const dark = (x: number, y: number) => modules[y][x];
  // Format bits, first copy: bit 14 is the most significant.
  const coords: [number, number][] = [];
  for (let i = 0; i <= 5; i++) coords.push([8, i]);
  coords.push([8, 7], [8, 8], [7, 8]);
  for (let i = 9; i < 15; i++) coords.push([14 - i, 8]);
  let fmt = 0;
  coords.forEach(([x, y], i) => (fmt |= (dark(x, y) ? 1 : 0) << i));
  const fmtStr = fmt.toString(2).padStart(15, "0");
  const mask = FORMAT_M.indexOf(fmtStr);
  assert.ok(mask >= 0, `format bits ${fmtStr} are level M`);
  // Second copy must agree.
  let fmt2 = 0;
  for (let i = 0; i < 8; i++) fmt2 |= (dark(size - 1 - i, 8) ? 1 : 0) << i;
  for (let i = 8; i < 15; i++) fmt2 |= (dark(8, size - 15 + i) ? 1 : 0) << i;
  assert.equal(fmt2, fmt, "both format copies agree");
  assert.ok(dark(8, size - 8), "dark module");

  // Which modules are function patterns.
  const fn = Array.from({ length: size }, () => new Array<boolean>(size).fill(false));
  const mark = (x0: number, y0: number, w: number, h: number) => {
    for (let y = y0; y < y0 + h; y++) for (let x = x0; x < x0 + w; x++) if (x >= 0 && y >= 0 && x < size && y < size) fn[y][x] = true;
  };
  mark(0, 0, 9, 9);
  mark(size - 8, 0, 8, 9);
  mark(0, size - 8, 9, 8);
  mark(6, 0, 1, size);
  mark(0, 6, size, 1);
  const al = ALIGN[version];
  const last = al[al.length - 1];
  for (const ay of al)
    for (const ax of al) {
      const inFinder = (ax === 6 && ay === 6) || (ax === 6 && ay === last) || (ax === last && ay === 6);
      if (!inFinder) mark(ax - 2, ay - 2, 5, 5);
    }
  if (version >= 7) {
    mark(size - 11, 0, 3, 6);
    mark(0, size - 11, 6, 3);
  }
  // Finder pattern shape check (top-left).
  for (let y = 0; y < 7; y++)
    for (let x = 0; x < 7; x++) {
      const ring = Math.max(Math.abs(x - 3), Math.abs(y - 3));
      assert.equal(dark(x, y), ring !== 2, `finder module ${x},${y}`);
    }

  const masks = [
    (x: number, y: number) => (x + y) % 2 === 0,
    (_x: number, y: number) => y % 2 === 0,
    (x: number) => x % 3 === 0,
    (x: number, y: number) => (x + y) % 3 === 0,
    (x: number, y: number) => (Math.floor(y / 2) + Math.floor(x / 3)) % 2 === 0,
    (x: number, y: number) => ((x * y) % 2) + ((x * y) % 3) === 0,
    (x: number, y: number) => (((x * y) % 2) + ((x * y) % 3)) % 2 === 0,
    (x: number, y: number) => (((x + y) % 2) + ((x * y) % 3)) % 2 === 0,
  ];
  const bits: number[] = [];
  let upward = true;
  for (let col = size - 1; col > 0; col -= 2) {
    if (col === 6) col--;
    for (let i = 0; i < size; i++) {
      const y = upward ? size - 1 - i : i;
      for (const x of [col, col - 1]) {
        if (fn[y][x]) continue;
        bits.push(dark(x, y) !== masks[mask](x, y) ? 1 : 0);
      }
    }
    upward = !upward;
  }
  const codewords: number[] = [];
  for (let i = 0; i + 8 <= bits.length; i += 8) codewords.push(bits.slice(i, i + 8).reduce((a, b) => (a << 1) | b, 0));

  // De-interleave.
  const [ecc, groups] = BLOCKS_M[version];
  const sizes: number[] = [];
  for (const [n, d] of groups) for (let i = 0; i < n; i++) sizes.push(d);
  const blocks = sizes.map(() => [] as number[]);
  let k = 0;
  const maxData = Math.max(...sizes);
  for (let i = 0; i < maxData; i++) sizes.forEach((d, b) => i < d && blocks[b].push(codewords[k++]));
  const eccs = sizes.map(() => [] as number[]);
  for (let i = 0; i < ecc; i++) sizes.forEach((_, b) => eccs[b].push(codewords[k++]));
  // Syndromes: the codeword polynomial vanishes at α^0 … α^(ecc-1).
  blocks.forEach((data, b) => {
    const all = [...data, ...eccs[b]];
    for (let j = 0; j < ecc; j++) {
      let s = 0;
      for (const c of all) s = mul(s, EXP[j]) ^ c;
      assert.equal(s, 0, `block ${b} syndrome ${j}`);
    }
  });
  const data = blocks.flat();
  const stream = data.flatMap((c) => Array.from({ length: 8 }, (_, i) => (c >> (7 - i)) & 1));
  let p = 0;
  const read = (n: number) => {
    let v = 0;
    for (let i = 0; i < n; i++) v = (v << 1) | stream[p++];
    return v;
  };
  assert.equal(read(4), 0b0100, "byte mode");
  const count = read(version <= 9 ? 8 : 16);
  const bytes = Array.from({ length: count }, () => read(8));
  return { text: new TextDecoder().decode(new Uint8Array(bytes)), version };
}

/** The dark modules back from the UI's SVG path (`M{x} {y}h1v1h-1z` per module, offset by the
 * quiet zone) — so a test decodes what the page actually draws. */
export function modulesFromSvgPath(d: string, size: number, quiet = 4): boolean[][] {
  const modules = Array.from({ length: size }, () => new Array<boolean>(size).fill(false));
  for (const m of d.matchAll(/M(\d+) (\d+)h1v1h-1z/g)) {
    const x = Number(m[1]) - quiet;
    const y = Number(m[2]) - quiet;
    assert.ok(x >= 0 && y >= 0 && x < size && y < size, `module ${x},${y} inside the symbol`);
    modules[y][x] = true;
  }
  assert.equal(d.replace(/M\d+ \d+h1v1h-1z/g, ""), "", "the path holds only module squares");
  return modules;
}
