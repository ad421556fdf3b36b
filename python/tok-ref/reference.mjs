// Reference encodings for lib/Tokenizer's check (test/unit/TokenizerReferenceTest):
// runs the Hugging Face tokenizers of transformers.js (@huggingface/transformers,
// offline, on local files) over a deterministic set of strings and id sequences,
// and writes what they encode and decode to.
//
//   cd python/tok-ref && npm ci --ignore-scripts --no-audit --no-fund
//   node reference.mjs ../../test/unit/Tokenizer
//
// For each VARIANT.overlay.json in that directory: the tokenizer is the
// vocabulary named by "base" (BASE.tokenizer.json.gz) with the overlay's
// top-level keys replaced ("model" keys merged into the model); the output is
// VARIANT.expected.json.gz. "test_specials" lists added tokens to mix into
// the strings (default: the base vocabulary's special tokens).
import { AutoTokenizer, env } from '@huggingface/transformers';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';

env.allowRemoteModels = false;
env.allowLocalModels = true;

// Deterministic pseudo-random numbers (mulberry32).
function rng(seed) {
  return () => {
    seed = (seed + 0x6D2B79F5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Fragments the strings are made of. Avoided on purpose: U+0085 and U+FEFF
// (JavaScript's \s and Rust's \s disagree on them) and "'ſ" (JavaScript
// lacks the case folding of (?i:'s)).
const FRAGMENTS = [
  'Hello', 'world', 'The quick brown fox jumps over the lazy dog.', 'hello',
  "it's", "I'll", "we've", "they're", "don't", "He'd", "IT'S", "WE'LL", "'re",
  "O'Neil", 'rock\'n\'roll', '"quoted"', '(parens)', '[1, 2, 3]', '{a: b}',
  'def f(x):\n    return x**2\n', 'int main() { return 0; }', '    indented',
  '\tfor (i = 0; i < n; ++i) {\n\t\tsum += a[i];\n\t}', '#include <stdio.h>',
  'x = y + z', 'a_b_c', 'snake_case_name', 'CamelCaseName', '--flag=value',
  '0', '7', '42', '123', '1234', '12345', '3.14159', '1,000,000', '2024-05-17',
  '0x1F', '1e-9', '٣٤٥', '१२३', 'Ⅻ', '½',
  '你好', '世界', '中文分词测试', '日本語のテキスト', 'カタカナ', '한국어 문장',
  'Привет, мир', 'Γειά σου Κόσμε', 'مرحبا بالعالم', 'שלום', 'नमस्ते दुनिया',
  'ไทย', 'Tiếng Việt', 'Ærøskøbing', 'naïve café', 'straße', 'İstanbul',
  'e\u0301', 'a\u0308', 'n\u0303o', '\u0301\u0301', 'Z\u0351\u036B\u0343',
  'A\u030A', '\u212B', '\u1100\u1161\u11A8', '\u1112\u1161\u11AB\u1100\u1173\u11AF',
  'a\u0302\u0323', 'a\u0301\u0301', '\u0958', 'q\u0307\u0323', 'Å', 'ﬁ', '①',
  '😀', '👍🏽', '👨‍👩‍👧‍👦', '🇫🇷', '❤️', '🤖 robots', '𝔘𝔫𝔦𝔠𝔬𝔡𝔢', '𐍈',
  ' ', '  ', '   ', '\t', '\n', '\n\n', '\r\n', ' \n ', '\t\t', '\u00A0',
  '\u3000', '\u2009', '  \t \n', '\n    ', '   \n\n   ',
  '!', '?!', '...', '—', '–', '«»', '“smart quotes”', '‘single’', '@user',
  '#hashtag', 'https://example.com/path?q=1&r=2', 'user@example.com',
  '$100', '€50', '¥', '©®™', '±', '→', '∑∫√', '°C', '%', '&&', '||', '::',
  '▁', '▁▁x', '<0x41>', '<unk>',
];
const SPECIALS = {
  gpt2: ['<|endoftext|>'],
  mistral: ['<s>', '</s>'],
};
const JOINERS = ['', ' ', ' ', '  ', '\n', '\t', ', ', '. '];

function makeStrings(specials) {
  const random = rng(20240517);
  const pick = (list) => list[Math.floor(random() * list.length)];
  const out = [
    '', ' ', 'a', 'Hello world', ' Hello world', '  Hello  world  ',
    'Hello\nworld\n', '\n\nHello', 'trailing space ', 'tab\tseparated\tvalues',
    '1234567890', 'a1b22c333d4444', "I'm can't won't", '\r\n\r\n',
  ];
  for (const s of specials)
    out.push(s, `${s}Hello`, `Hello${s}`, ` ${s} x`, `${s}${s}`, `a ${s}\nb`);
  for (const f of FRAGMENTS) out.push(f, ` ${f}`);
  while (out.length < 400) {
    const parts = [];
    const n = 1 + Math.floor(random() * 6);
    for (let i = 0; i < n; ++i) {
      if (i > 0) parts.push(pick(JOINERS));
      parts.push(random() < 0.08 && specials.length ? pick(specials) : pick(FRAGMENTS));
    }
    out.push(parts.join(''));
  }
  return out;
}

// Id sequences for decoding: random vocabulary ids, biased towards tokens of
// single bytes so that invalid UTF-8 comes up.
function makeIdSequences(vocabSize, byteIds) {
  const random = rng(7);
  const out = [];
  for (let k = 0; k < 150; ++k) {
    const n = 1 + Math.floor(random() * 10);
    const ids = [];
    for (let i = 0; i < n; ++i)
      ids.push(random() < 0.6 ? byteIds[Math.floor(random() * byteIds.length)]
                              : Math.floor(random() * vocabSize));
    out.push(ids);
  }
  return out;
}

function readGz(file) { return zlib.gunzipSync(fs.readFileSync(file)).toString('utf8'); }

async function runVariant(dir, overlayFile) {
  const variant = path.basename(overlayFile, '.overlay.json');
  const overlay = JSON.parse(fs.readFileSync(path.join(dir, overlayFile), 'utf8'));
  const tokenizerJson = JSON.parse(readGz(path.join(dir, `${overlay.base}.tokenizer.json.gz`)));
  for (const [key, value] of Object.entries(overlay.replace ?? {}))
    tokenizerJson[key] = value;
  Object.assign(tokenizerJson.model, overlay.model ?? {});

  const modelDir = fs.mkdtempSync(path.join(os.tmpdir(), `tok-${variant}-`));
  fs.writeFileSync(path.join(modelDir, 'tokenizer.json'), JSON.stringify(tokenizerJson));
  // The generic class: encode through tokenizer.json alone, as the Rust
  // tokenizers library (and transformers' fast tokenizers) do.
  fs.writeFileSync(path.join(modelDir, 'tokenizer_config.json'), JSON.stringify({
    tokenizer_class: 'PreTrainedTokenizer', clean_up_tokenization_spaces: false,
  }));
  env.localModelPath = path.dirname(modelDir) + path.sep;
  const tokenizer = await AutoTokenizer.from_pretrained(path.basename(modelDir), { local_files_only: true });

  const specials = overlay.test_specials ?? SPECIALS[overlay.base] ?? [];
  const encodes = makeStrings(specials).map((text) => ({
    text,
    ids: tokenizer.encode(text, { add_special_tokens: true }),
    ids_plain: tokenizer.encode(text, { add_special_tokens: false }),
  }));
  const vocab = tokenizerJson.model.vocab;
  const vocabSize = Object.keys(vocab).length;
  const byteIds = Object.entries(vocab)
    .filter(([tok]) => /^<0x[0-9A-F]{2}>$/.test(tok) || [...tok].length === 1)
    .map(([, id]) => id);
  const idSequences = [...encodes.map((e) => e.ids), ...makeIdSequences(vocabSize, byteIds)]
    .filter((ids) => ids.length > 0);
  // Runs of <0xXX> tokens that are not UTF-8: Rust's ByteFallback decoder
  // gives one U+FFFD per byte, transformers.js one per invalid subsequence;
  // marked so the C++ test checks these against the Rust rule instead.
  const idToToken = new Map(Object.entries(vocab).map(([tok, id]) => [id, tok]));
  const invalidByteRun = (ids) => {
    let run = [];
    const bad = () => {
      try { new TextDecoder('utf-8', { fatal: true }).decode(new Uint8Array(run)); return false; }
      catch { return true; }
    };
    for (const id of [...ids, -1]) {
      const m = /^<0x([0-9A-F]{2})>$/.exec(idToToken.get(id) ?? '');
      if (m) { run.push(parseInt(m[1], 16)); continue; }
      if (run.length && bad()) return true;
      run = [];
    }
    return false;
  };
  const decodes = idSequences.map((ids) => ({
    ids,
    byte_fallback_invalid: tokenizerJson.model.byte_fallback === true && invalidByteRun(ids),
    text: tokenizer.decode(ids, { skip_special_tokens: false, clean_up_tokenization_spaces: false }),
    text_skip_special: tokenizer.decode(ids, { skip_special_tokens: true, clean_up_tokenization_spaces: false }),
  }));
  const out = path.join(dir, `${variant}.expected.json.gz`);
  fs.writeFileSync(out, zlib.gzipSync(JSON.stringify({ variant, encodes, decodes }), { level: 9 }));
  fs.rmSync(modelDir, { recursive: true });
  console.log(`${variant}: ${encodes.length} strings, ${decodes.length} id sequences -> ${out}`);
}

const dir = process.argv[2];
for (const f of fs.readdirSync(dir).filter((f) => f.endsWith('.overlay.json')).sort())
  await runVariant(dir, f);
