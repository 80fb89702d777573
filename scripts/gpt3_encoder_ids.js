#!/usr/bin/env node
// Runs gpt-3-encoder's own Encoder.js (the JavaScript reference GPT-2 tokenizer) over text files.
//
//   node scripts/gpt3_encoder_ids.js ENCODER_JS [options] FILE...
//
// Prints one line per FILE, in order: the token ids of its text (read as UTF-8), space-separated.
// Options:
//   --bench               print only "files N bytes B tokens T seconds S MB/s R" (encode time only,
//                         file reading excluded)
//   --whole               call encode() once per whole file instead of per chunk (see below)
//   --check-whole BYTES   also encode every file of at most BYTES bytes whole, and exit 1 if that
//                         differs from the chunked ids
//
// Chunking: Encoder.js's encode() appends each pre-token's ids with Array.concat, which copies the
// whole output array every time, so one call costs time quadratic in its token count (a 60 kB
// single-line SOTU address takes over a second; the whole corpus about two minutes). By default each
// file is therefore cut into chunks of about 512 bytes, and encode() is called per chunk. A cut is made
// only before a U+0020 space that sits between two non-whitespace characters: there the regex
// /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu always ends one
// match (no alternative crosses whitespace except the whitespace ones, which cannot start at a
// non-whitespace character) and starts the next (" " + non-whitespace), and the match before the
// cut ends the same way at the end of its chunk; so the chunks' ids concatenated are exactly
// encode() of the whole file. (--check-whole verifies this; over the whole SOTU corpus the chunked
// and whole-file ids are identical.)
'use strict';
const fs = require('fs');
const path = require('path');

function usage(message) {
  process.stderr.write(`gpt3_encoder_ids.js: ${message}\n` +
    'usage: node scripts/gpt3_encoder_ids.js ENCODER_JS [--bench] [--whole] [--check-whole BYTES] FILE...\n');
  process.exit(2);
}

const args = process.argv.slice(2);
if (args.length < 1) usage('missing ENCODER_JS');
const encoderPath = path.resolve(args.shift());
let bench = false, whole = false, checkWholeBelow = -1;
const files = [];
while (args.length) {
  const a = args.shift();
  if (a === '--bench') bench = true;
  else if (a === '--whole') whole = true;
  else if (a === '--check-whole') {
    checkWholeBelow = Number(args.shift());
    if (!Number.isFinite(checkWholeBelow)) usage('--check-whole needs a byte count');
  } else if (a.startsWith('--')) usage(`unknown option ${a}`);
  else files.push(a);
}
if (!files.length) usage('no FILE given');

const { encode } = require(encoderPath);

const kChunk = 512;
const isSpace = /\s/u;
function chunks(text) {
  const out = [];
  let start = 0;
  for (let i = start + kChunk; i + 1 < text.length; i++) {
    if (text[i] === ' ' && !isSpace.test(text[i - 1]) && !isSpace.test(text[i + 1])) {
      out.push(text.slice(start, i));
      start = i;
      i = start + kChunk;
    }
  }
  out.push(text.slice(start));
  return out;
}

function encodeText(text) {
  if (whole) return encode(text);
  const ids = [];
  for (const chunk of chunks(text)) {
    for (const id of encode(chunk)) ids.push(id);
  }
  return ids;
}

let bytes = 0, tokens = 0, seconds = 0;
const lines = [];
for (const file of files) {
  const text = fs.readFileSync(file, 'utf8');
  bytes += Buffer.byteLength(text, 'utf8');
  const t0 = process.hrtime.bigint();
  const ids = encodeText(text);
  seconds += Number(process.hrtime.bigint() - t0) / 1e9;
  tokens += ids.length;
  if (checkWholeBelow >= 0 && !whole && Buffer.byteLength(text, 'utf8') <= checkWholeBelow) {
    const reference = encode(text);
    if (reference.join(' ') !== ids.join(' ')) {
      process.stderr.write(`${file}: chunked encoding differs from whole-file encode()\n`);
      process.exit(1);
    }
  }
  if (!bench) lines.push(ids.join(' '));
}
if (bench) {
  console.log(`files ${files.length} bytes ${bytes} tokens ${tokens} seconds ${seconds.toFixed(3)} ` +
              `MB/s ${(bytes / 1e6 / seconds).toFixed(3)}`);
} else {
  process.stdout.write(lines.join('\n') + '\n');
}
