// Checks Cook's pre-tokenization against the regex of gpt-3-encoder's own Encoder.js.
//   node tests/text/js_pretokenize.js ENCODER_JS CASES_JSON
// CASES_JSON: [{"bytes": base64, "pieces": [base64, ...]}, ...], Cook's pieces of each byte string.
// The bytes are decoded as node decodes a UTF-8 file (each ill-formed sequence becomes U+FFFD),
// split with Encoder.js's regex (read from its source), and compared with Cook's pieces decoded one
// by one the same way. Prints one line per case: "ok", or the regex's pieces as JSON.
'use strict';
const fs = require('fs');
const [encoderJs, casesJson] = process.argv.slice(2);
const source = fs.readFileSync(encoderJs, 'utf8');
const m = source.match(/const pat = \/(.*)\/gu\s*$/m);
if (!m) {
  process.stderr.write(`${encoderJs}: no "const pat = /.../gu" line\n`);
  process.exit(2);
}
const pat = new RegExp(m[1], 'gu');
const cases = JSON.parse(fs.readFileSync(casesJson, 'utf8'));
const lines = cases.map(c => {
  const text = Buffer.from(c.bytes, 'base64').toString('utf8');
  const expected = Array.from(text.matchAll(pat)).map(x => x[0]);
  const actual = c.pieces.map(p => Buffer.from(p, 'base64').toString('utf8'));
  const same = expected.length === actual.length && expected.every((e, i) => e === actual[i]);
  return same ? 'ok' : JSON.stringify(expected);
});
process.stdout.write(lines.join('\n') + '\n');
