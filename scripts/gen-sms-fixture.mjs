// Regenerates app/tests/fixtures/sms_segments.json from Twilio's reference calculator
// (npm sms-segments-calculator, pinned in package.json):
//   npm ci && node scripts/gen-sms-fixture.mjs > app/tests/fixtures/sms_segments.json
// The vectors are deterministic (seeded PRNG), so regenerating gives the same file.
import { createRequire } from 'node:module';
const require = createRequire(import.meta.url);
const { SegmentedMessage } = require('sms-segments-calculator');

let seed = 0x5eed1234;
function rand() {
  // mulberry32
  seed |= 0; seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const pick = (xs) => xs[Math.floor(rand() * xs.length)];

const GSM_BASIC = [...'@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà'];
const GSM_EXT = [...'^{}\\[]~|€\f'];
const LOOKALIKES = ['\u2018', '\u2019', '\u201c', '\u201d', '\u2013', '\u2014', '\u2026', '\u00a0', '\u2009', '\uff01', '\uff21', '\u00ab', '\u00bb', '\u2022', '\u00bd', '\u00b4', '`', '\t', '\u02bc', '\u2032', '\u2212'];
const NON_GSM = ['á', 'ç', 'í', 'ó', 'ú', 'ê', 'ł', 'ő', 'ş', 'Ж', 'ж', 'я', 'ק', 'ع', '中', '文', 'ก', 'α', 'β', 'ω', '€'.normalize(), '₹', '™', '©', '®', '°', 'ı'];
const EMOJI = ['🫶🏽', 'a🏽', 'क्ष', 'नमस्ते', '😀', '🎉', '👍', '👍🏽', '❤️', '🔥', '🇪🇸', '🇺🇸', '🇯🇵', '👨‍👩‍👧‍👦', '👩‍💻', '🏳️‍🌈', '🤷‍♀️', '✅', '⭐', '🛒', '💳', '1️⃣', '🧑🏿‍🚀', '😶‍🌫️', '❤️‍🔥', '🫶'];
const WORDS = ['Hi', 'Ana', 'your', 'code', 'SUMMER-4821', 'is', 'valid', 'until', 'Friday.', 'Reply', 'STOP', 'to', 'opt', 'out', '20%', 'off', 'cart', 'https://cc.example/q/Ab3x', 'García', 'Müller', 'Ørsted'];

const gsmString = (n) => Array.from({ length: n }, () => pick(GSM_BASIC)).join('');
const sentence = (n) => { let s = ''; while ([...s].length < n) s += (s ? ' ' : '') + pick(WORDS); return s; };

const texts = [];
const add = (text, label) => texts.push({ text, label });

// Pure GSM-7 around the single/concatenated boundaries.
for (const n of [0, 1, 70, 140, 152, 153, 154, 159, 160, 161, 305, 306, 307, 308, 458, 459, 460, 461, 612, 1530, 1531, 1600]) {
  add(gsmString(n), `gsm ${n}`);
}
// Extension characters (2 septets) straddling part boundaries.
for (const n of [151, 152, 153, 158, 159, 160, 304, 305, 306, 307]) {
  for (const ext of ['€', '{', '|', '^', '\f']) {
    add(gsmString(n) + ext + gsmString(3), `ext ${JSON.stringify(ext)} after ${n}`);
    add(gsmString(n - 1) + ext + ext, `two ext after ${n - 1}`);
  }
}
add(GSM_EXT.join('').repeat(20), 'only extension characters');
// UCS-2 around 70 / 67 per part.
for (const n of [1, 66, 67, 68, 69, 70, 71, 133, 134, 135, 136, 200, 201, 202, 268, 269]) {
  add(pick(NON_GSM) + gsmString(n - 1), `ucs2 ${n}`);
}
// Emoji and clusters at the UCS-2 part boundaries (a cluster never splits).
for (const n of [65, 66, 67, 68, 69, 70, 132, 133, 134]) {
  for (const e of ['😀', '🇪🇸', '👨‍👩‍👧‍👦', '👍🏽', '🏳️‍🌈', '1️⃣']) {
    add(gsmString(n) + e + gsmString(2), `emoji ${e} after ${n}`);
  }
}
// Line breaks: LF, CRLF and mixed.
add('Line one\nLine two\r\nLine three\rfour', 'line breaks');
add('\r\n'.repeat(81), 'many CRLF');
// Look-alikes, with and without smart encoding.
for (const l of LOOKALIKES) {
  add(`${sentence(40)} ${l} ${sentence(120)}`, `lookalike U+${l.codePointAt(0).toString(16)}`);
}
add('\u201cYour code\u201d \u2013 SUMMER-4821\u2026 don\u2019t miss it!', 'typographic quotes');
// Random mixes.
for (let i = 0; i < 240; i++) {
  const len = 1 + Math.floor(rand() * 420);
  let s = '';
  while ([...s].length < len) {
    const r = rand();
    if (r < 0.55) s += pick(GSM_BASIC);
    else if (r < 0.7) s += ' ' + pick(WORDS);
    else if (r < 0.78) s += pick(GSM_EXT);
    else if (r < 0.86) s += pick(LOOKALIKES);
    else if (r < 0.94) s += pick(NON_GSM);
    else s += pick(EMOJI);
  }
  add(s, `random ${i}`);
}
// Random GSM-only mixes (so most stay GSM-7).
for (let i = 0; i < 120; i++) {
  const len = 1 + Math.floor(rand() * 800);
  let s = '';
  while ([...s].length < len) s += rand() < 0.1 ? pick(GSM_EXT) : rand() < 0.3 ? ' ' + pick(WORDS) : pick(GSM_BASIC);
  add(s, `random gsm ${i}`);
}

const vectors = [];
for (const { text, label } of texts) {
  for (const smart of [false, true]) {
    const m = new SegmentedMessage(text, 'auto', smart);
    vectors.push({
      label,
      text,
      smart_encoding: smart,
      encoding: m.encodingName,
      segments: m.segmentsCount,
      characters: m.numberOfCharacters,
      unicode_scalars: m.numberOfUnicodeScalars,
      non_gsm_characters: m.getNonGsmCharacters(),
    });
  }
}
const pkg = require('sms-segments-calculator/package.json');
process.stdout.write(JSON.stringify({ generator: `sms-segments-calculator ${pkg.version}`, vectors }, null, 1) + '\n');
