// Unit test of web/js/qr.js in node (no browser): `node tests/browser/qr.test.mjs`.
// A small decoder written from the standard (its own tables, log/antilog arithmetic) first reads
// symbols made by an independent encoder (segno), then reads back what qr.js makes: versions
// 1–10, every mask, ASCII and UTF-8. Function patterns are compared module by module with the
// reference, and the format bits with the standard's table.
import { encode, formatBits, penalty, toSvg } from '../../web/js/qr.js';

let failures = 0;
function check(ok, what) {
  if (!ok) {
    failures++;
    console.log(`FAIL ${what}`);
  }
}

// Reference symbols made by segno 1.6.6 (an independent encoder), level M, byte mode, mask forced.
const REFERENCE = [
{
"text": "HELLO",
"mask": 0,
"version": 1,
"rows": [
"111111100111001111111",
"100000101011101000001",
"101110100110001011101",
"101110100101001011101",
"101110101011101011101",
"100000100011001000001",
"111111101010101111111",
"000000000110000000000",
"101010100010100010010",
"111101000001010100010",
"111010101011011101111",
"001011001001110110010",
"110011100111011100100",
"000000001000001100110",
"111111100100100010111",
"100000100110001100000",
"101110101010101010111",
"101110100011010100110",
"101110101011011010101",
"100000100101110010010",
"111111101001011100111"
]
},
{
"text": "HELLO",
"mask": 5,
"version": 1,
"rows": [
"111111100010001111111",
"100000101110001000001",
"101110101000001011101",
"101110101010101011101",
"101110100101101011101",
"100000100110101000001",
"111111101010101111111",
"000000001011100000000",
"100000101100111001110",
"000010011110101011101",
"110100100101010011110",
"111110011100000011100",
"100110110010001001110",
"000000001101111001000",
"111111100010101100110",
"100000100001110011111",
"101110100100100100110",
"101110100110100001000",
"101110100110001111111",
"100000100000000111100",
"111111101111010010110"
]
},
{
"text": "http://127.0.0.1:8080/join.html#code=1234-5678-9012",
"mask": 2,
"version": 4,
"rows": [
"111111100101010011110111101111111",
"100000100100111101000010101000001",
"101110101010110111100111001011101",
"101110101001001110000001001011101",
"101110101000110101100111101011101",
"100000101111101111000100101000001",
"111111101010101010101010101111111",
"000000001001001100000101000000000",
"101111100100011111001000101111100",
"000001010110000010110001111101101",
"110001110111100100100100100010110",
"000001010110101100000100101011111",
"101001110010100000110000000011000",
"100111011100101111000001111101011",
"111011100110100001100010000001010",
"011101001010101010110100010101100",
"111011100110000001001000000110001",
"111110001011000011110011111101101",
"011101100101100101000110100010110",
"000111000101110011100111011011111",
"111001110100000010001001000011000",
"110010011110110101110111111101101",
"100010110101111111001100000000110",
"100001011101010100000110001011111",
"100010110011111101001001111110000",
"000000001110111000110010100010101",
"111111100111011100100101101010100",
"100000101011100010000110100010100",
"101110101110101000111000111111011",
"101110101010100111010011000111111",
"101110101111010000100001111101100",
"100000100001101010000100010110100",
"111111101111001001001000100111010"
]
},
{
"text": "https://courtlink.court.example/join.html#code=123456789012https://courtlink.court.example/join.html#code=123456789012",
"mask": 3,
"version": 7,
"rows": [
"111111101011111000010110010111100000101111111",
"100000101111000010000000010001110101001000001",
"101110100110100011010010100101001001001011101",
"101110101111010110111011001100100001101011101",
"101110100011000011111111101110011111101011101",
"100000100111011000011000101010101000001000001",
"111111101010101010101010101010101010101111111",
"000000001011101010011000110011100001000000000",
"101101110100001000011111101111100101101001011",
"100111001110100011111101010010101001100011011",
"000011101001100001001101010001110010010000111",
"111011000011001010001110000100011101001101010",
"100111101101111011101110100101110000001000001",
"011111001001011011110001101101010100001001000",
"011010100100011000111111001111101000011000000",
"010110010001010010110100110010001101111111111",
"111010111011001000001111101100011011110000110",
"110111000000011111101111110111010111000100101",
"000110110101001001011000101000010011001011110",
"101011011101101010101100111110010000111010001",
"111011111001111011001111101011010100111110100",
"101010001011001110001000100110110001100011101",
"110110101100101010101010110000111011101011001",
"011110001000010010111000100001111100100011000",
"101011111010000101001111110000010010111111010",
"111110010100000111010110011010011101101101100",
"000110110110001111011000101100111101100110100",
"101110010011011111100000110010101011001111101",
"111010100110101101001001011001111001100111111",
"011110010100110100110101010010001011111110011",
"001010111010001101100011011001000111000101010",
"001100001010010111101101010110110100100001000",
"100011101110001100010111011110100010001001111",
"000100000110110000111010010011101000101001011",
"000010110110101110101000100111101010011011111",
"011110000101101010010001011101111101011100010",
"100110111000011110001111100101110010111110010",
"000000001101010100011000101101001100100010000",
"111111101001011111001010101011100001101010000",
"100000101011111100001000100110101001100011100",
"101110100010111001101111100000111100111110110",
"101110101010101111010011000101010110110001101",
"101110101110111110000101111110011011111101010",
"100000100010111101000010111111000000011010001",
"111111101100110101000010011011100101111000100"
]
},
{
"text": "接访 QR 预约通知书",
"mask": 6,
"version": 2,
"rows": [
"1111111010111111101111111",
"1000001010101111101000001",
"1011101010000001101011101",
"1011101000110011101011101",
"1011101011100100101011101",
"1000001001001101101000001",
"1111111010101010101111111",
"0000000001111011100000000",
"1001111111010011110010111",
"0011000000101011100011100",
"0011011011000100011000010",
"0010010010110111111001010",
"1000101001111110000011000",
"1010000010001001000010101",
"1101001100101010000001100",
"1010100101001101011010000",
"1000101111011111111111101",
"0000000011011000100011010",
"1111111010111100101011000",
"1000001010010001100010111",
"1011101010101010111110000",
"1011101011111010100111011",
"1011101000000000010110111",
"1000001000011100111000111",
"1111111011100011010111001"
]
}
];

// ISO/IEC 18004 Table C.1: format information for level M, masks 0–7.
const FORMAT_M = ['101010000010010', '101000100100101', '101111001111100', '101101101001011',
  '100010111111001', '100000011001110', '100111110010111', '100101010100000'];
// Table E.1: alignment pattern centres.
const ALIGN = [null, [], [6, 18], [6, 22], [6, 26], [6, 30], [6, 34], [6, 22, 38], [6, 24, 42], [6, 26, 46], [6, 28, 50]];
// Table 9, level M: [blocks, error correction codewords per block]; total codewords per version.
const BLOCKS_M = [null, [1, 10], [1, 16], [1, 26], [2, 18], [2, 24], [4, 16], [4, 18], [4, 22], [5, 22], [5, 26]];
const TOTAL = [0, 26, 44, 70, 100, 134, 172, 196, 242, 292, 346];

// GF(256) by log/antilog tables.
const EXP = new Array(512);
const LOG = new Array(256);
for (let i = 0, x = 1; i < 255; i++) {
  EXP[i] = x;
  LOG[x] = i;
  x <<= 1;
  if (x & 0x100) x ^= 0x11d;
}
for (let i = 255; i < 512; i++) EXP[i] = EXP[i - 255];
const mul = (a, b) => (a === 0 || b === 0 ? 0 : EXP[LOG[a] + LOG[b]]);

function functionMask(version) {
  const size = version * 4 + 17;
  const f = Array.from({ length: size }, () => new Array(size).fill(false));
  const mark = (x0, y0, w, hgt) => {
    for (let y = y0; y < y0 + hgt; y++) for (let x = x0; x < x0 + w; x++) f[y][x] = true;
  };
  mark(0, 0, 9, 9); // finder, separator, format
  mark(size - 8, 0, 8, 9);
  mark(0, size - 8, 9, 8);
  mark(6, 0, 1, size); // timing
  mark(0, 6, size, 1);
  const a = ALIGN[version];
  for (const ax of a) {
    for (const ay of a) {
      if ((ax === 6 && ay === 6) || (ax === 6 && ay === a[a.length - 1]) || (ax === a[a.length - 1] && ay === 6)) continue;
      mark(ax - 2, ay - 2, 5, 5);
    }
  }
  if (version >= 7) {
    mark(size - 11, 0, 3, 6);
    mark(0, size - 11, 6, 3);
  }
  return f;
}

const MASK_FN = [
  (i, j) => (i + j) % 2 === 0,
  (i) => i % 2 === 0,
  (i, j) => j % 3 === 0,
  (i, j) => (i + j) % 3 === 0,
  (i, j) => (Math.floor(i / 2) + Math.floor(j / 3)) % 2 === 0,
  (i, j) => ((i * j) % 2) + ((i * j) % 3) === 0,
  (i, j) => (((i * j) % 2) + ((i * j) % 3)) % 2 === 0,
  (i, j) => (((i * j) % 3) + ((i + j) % 2)) % 2 === 0,
]; // i: row, j: column (the standard's notation)

/** Decodes a level-M byte-mode symbol (rows of booleans); throws on any inconsistency. */
function decode(rows) {
  const size = rows.length;
  const version = (size - 17) / 4;
  if (!Number.isInteger(version) || version < 1 || version > 10) throw new Error(`size ${size}`);
  // Format bits, first copy: column 8 rows 0–5, 7, 8, then row 8 columns 7, 5–0.
  const cells = [[0, 8], [1, 8], [2, 8], [3, 8], [4, 8], [5, 8], [7, 8], [8, 8], [8, 7], [8, 5], [8, 4], [8, 3], [8, 2], [8, 1], [8, 0]];
  // cells as [row, col] from bit 0 to bit 14; reversed, the most significant comes first.
  const fmt = cells.map(([r, c]) => (rows[r][c] ? '1' : '0')).reverse().join('');
  const mask = FORMAT_M.indexOf(fmt);
  if (mask < 0) throw new Error(`format ${fmt} is not level M`);
  // Second copy: bits 0–7 on row 8 from the right edge leftwards, bits 8–14 down column 8.
  const second = [];
  for (let k = 0; k < 8; k++) second.push(rows[8][size - 1 - k] ? '1' : '0');
  for (let k = 8; k < 15; k++) second.push(rows[size - 15 + k][8] ? '1' : '0');
  if (second.reverse().join('') !== fmt) throw new Error('format copies differ');
  if (!rows[size - 8][8]) throw new Error('no dark module');
  const f = functionMask(version);
  const bits = [];
  let upward = true;
  for (let col = size - 1; col > 0; col -= 2) {
    if (col === 6) col = 5;
    for (let k = 0; k < size; k++) {
      const row = upward ? size - 1 - k : k;
      for (const c of [col, col - 1]) {
        if (f[row][c]) continue;
        bits.push(rows[row][c] !== MASK_FN[mask](row, c) ? 1 : 0);
      }
    }
    upward = !upward;
  }
  const codewords = [];
  for (let k = 0; k + 8 <= bits.length; k += 8) codewords.push(parseInt(bits.slice(k, k + 8).join(''), 2));
  if (codewords.length !== TOTAL[version]) throw new Error(`${codewords.length} codewords`);
  // De-interleave.
  const [nb, ec] = BLOCKS_M[version];
  const dataTotal = TOTAL[version] - nb * ec;
  const shortData = Math.floor(dataTotal / nb);
  const longCount = dataTotal % nb;
  const lens = Array.from({ length: nb }, (_, b) => shortData + (b >= nb - longCount ? 1 : 0));
  const blocks = lens.map(() => []);
  let p = 0;
  for (let k = 0; k < shortData + 1; k++) for (let b = 0; b < nb; b++) if (k < lens[b]) blocks[b].push(codewords[p++]);
  for (let k = 0; k < ec; k++) for (let b = 0; b < nb; b++) blocks[b].push(codewords[p++]);
  // Every block divides by the generator: syndromes S_i = C(α^i), i = 0..ec-1, are zero.
  blocks.forEach((block, b) => {
    for (let i = 0; i < ec; i++) {
      let s = 0;
      for (const c of block) s = mul(s, EXP[i]) ^ c;
      if (s !== 0) throw new Error(`block ${b}: syndrome ${i} is ${s}`);
    }
  });
  const data = blocks.flatMap((block, b) => block.slice(0, lens[b]));
  const dbits = data.flatMap((c) => [7, 6, 5, 4, 3, 2, 1, 0].map((k) => (c >> k) & 1));
  let q = 0;
  const read = (n) => {
    let v = 0;
    for (let k = 0; k < n; k++) v = (v << 1) | dbits[q++];
    return v;
  };
  if (read(4) !== 0b0100) throw new Error('not byte mode');
  const count = read(version <= 9 ? 8 : 16);
  const bytes = [];
  for (let k = 0; k < count; k++) bytes.push(read(8));
  if (q + 4 <= dbits.length && read(4) !== 0) throw new Error('no terminator');
  return { version, mask, text: new TextDecoder('utf-8', { fatal: true }).decode(new Uint8Array(bytes)) };
}

const asRows = (strings) => strings.map((s) => [...s].map((c) => c === '1'));

// 1. Format bits against the standard's table.
for (let m = 0; m < 8; m++) check(formatBits(m).toString(2).padStart(15, '0') === FORMAT_M[m], `format bits of mask ${m}`);

// 2. The decoder reads the reference symbols.
for (const ref of REFERENCE) {
  try {
    const got = decode(asRows(ref.rows));
    check(got.text === ref.text && got.mask === ref.mask && got.version === ref.version, `decoder on reference ${ref.text.slice(0, 20)}`);
  } catch (e) {
    check(false, `decoder on reference ${ref.text.slice(0, 20)}: ${e.message}`);
  }
}

// 3. Function patterns (finders, timing, alignment, format, version) equal the reference.
for (const ref of REFERENCE) {
  const ours = encode(ref.text, { mask: ref.mask });
  check(ours.version === ref.version, `version of ${ref.text.slice(0, 20)}: ${ours.version} vs ${ref.version}`);
  const f = functionMask(ref.version);
  let diff = 0;
  ref.rows.forEach((row, y) => [...row].forEach((c, x) => {
    if (f[y][x] && (c === '1') !== ours.modules[y][x]) diff++;
  }));
  check(diff === 0, `function patterns of ${ref.text.slice(0, 20)} differ in ${diff} modules`);
}

// 4. What qr.js makes reads back: every mask, versions 1–10, ASCII and UTF-8.
const samples = ['HELLO', 'http://127.0.0.1:8080/join.html#code=1234-5678-9012', '接访 QR 预约通知书 ✓'];
for (let n = 1; n <= 210; n += 11) samples.push('x'.repeat(n));
samples.push('9'.repeat(213));
const versions = new Set();
for (const text of samples) {
  for (const mask of [undefined, 0, 1, 2, 3, 4, 5, 6, 7]) {
    try {
      const code = encode(text, mask === undefined ? {} : { mask });
      versions.add(code.version);
      const got = decode(code.modules);
      check(got.text === text, `round trip of ${text.slice(0, 20)} (${text.length}) mask ${mask}`);
      if (mask !== undefined) check(got.mask === mask, `mask ${mask} kept`);
    } catch (e) {
      check(false, `round trip of ${text.slice(0, 20)} (${text.length}) mask ${mask}: ${e.message}`);
    }
  }
}
check([1, 2, 3, 4, 5, 6, 7, 8, 9, 10].every((v) => versions.has(v)), `versions 1–10 all made: ${[...versions].sort((a, b) => a - b)}`);
// The smallest version that holds the data: 14 bytes fit version 1-M, 15 do not; 213 fit 10.
check(encode('x'.repeat(14)).version === 1 && encode('x'.repeat(15)).version === 2, 'version 1 capacity');
check(encode('x'.repeat(213)).version === 10, 'version 10 capacity');
let threw = false;
try { encode('x'.repeat(214)); } catch { threw = true; }
check(threw, 'too long is refused');

// 5. The mask chosen has the lowest penalty.
for (const text of samples.slice(0, 4)) {
  const chosen = encode(text);
  const scores = [0, 1, 2, 3, 4, 5, 6, 7].map((m) => penalty(encode(text, { mask: m }).modules));
  check(penalty(chosen.modules) === Math.min(...scores), `lowest-penalty mask for ${text.slice(0, 20)}`);
}

// 6. SVG: one path, quiet zone, escaped label.
const svg = toSvg(encode('HELLO'), { label: 'a<b"' });
check(svg.startsWith('<svg') && svg.includes('viewBox="0 0 29 29"') && svg.includes('a&lt;b&quot;'), 'svg');
check(!svg.includes('style='), 'svg has no inline style (CSP)');

console.log(`${failures ? 'FAILED' : 'passed'}: qr — ${REFERENCE.length} reference symbols, ${samples.length} samples × 9 masks, ${failures} failures`);
process.exit(failures ? 1 : 0);
