// Prints how JavaScript's /u regexes (node's V8 + ICU, as gpt-3-encoder's Encoder.js uses them)
// class every code point U+0000..U+10FFFF: one line "FIRST LAST CLASS" (hex, CLASS one of
// letter, number, space) per maximal run; code points in no class are not listed.
//   node tests/text/js_char_classes.js
'use strict';
const letter = /^\p{L}$/u, number = /^\p{N}$/u, space = /^\s$/u;
const out = [];
let runFirst = -1, runClass = null;
function flush(last) {
  if (runClass !== null) out.push(`${runFirst.toString(16)} ${last.toString(16)} ${runClass}`);
}
for (let cp = 0; cp <= 0x10ffff; cp++) {
  let cls = null;
  if (cp < 0xd800 || cp > 0xdfff) {
    const s = String.fromCodePoint(cp);
    if (letter.test(s)) cls = 'letter';
    else if (number.test(s)) cls = 'number';
    else if (space.test(s)) cls = 'space';
  }
  if (cls !== runClass) {
    flush(cp - 1);
    runFirst = cp;
    runClass = cls;
  }
}
flush(0x10ffff);
process.stdout.write(`unicode ${process.versions.unicode}\n` + out.join('\n') + '\n');
