// Text that came from elsewhere (the admin API's answers, the audit trail) made safe to print on a
// terminal. Shared by the CLI (bin/spot-keys.mjs) and `npm run audit:tail` (scripts/audit-tail.mjs).
// Plain ESM without imports, so Node ≥ 20 and the unit tests inside workerd load the same file.
//
// Why: a label, an admin token's `sub`, a user agent or a request path is chosen by whoever sent it.
// Written raw, an escape sequence (ESC, C1 CSI U+009B) drives the terminal, a bidi override
// (Unicode TR9) reorders the rest of the line, and zero-width or other default-ignorable characters
// make two different values look alike (Unicode TR36 §2, TR39). Such characters are shown as escapes.

/**
 * One code point that is never written raw: general categories Cc (C0, DEL, C1), Cf (format: bidi
 * controls, zero-width characters, tags), Cs (unpaired surrogates), Zl and Zp (U+2028, U+2029), and
 * every Default_Ignorable_Code_Point (Unicode TR44). The same set the admin API refuses in new key
 * labels (src/admin/label.ts; test/unit/terminal-text.test.ts keeps the two equal).
 */
export const UNSAFE_CHARACTER = /[\p{Cc}\p{Cf}\p{Cs}\p{Zl}\p{Zp}\p{Default_Ignorable_Code_Point}]/u;

const UNSAFE_CHARACTERS = new RegExp(UNSAFE_CHARACTER.source, "gu");
const UNSAFE_OR_BACKSLASH = new RegExp(`\\\\|${UNSAFE_CHARACTER.source}`, "gu");

/** Short escapes kept for the commonest controls. */
const SHORT_ESCAPES = { "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t" };

/**
 * `\u` escapes of a character's UTF-16 code units (`\ud83d\ude80`), as JSON writes them.
 * @param {string} char one code point
 * @returns {string}
 */
function utf16Escapes(char) {
  let out = "";
  for (let i = 0; i < char.length; i++) out += `\\u${char.charCodeAt(i).toString(16).padStart(4, "0")}`;
  return out;
}

/**
 * A value as text for a terminal: every {@link UNSAFE_CHARACTER} is replaced by an escape in
 * JavaScript notation, and a backslash is doubled so an escape shown is never ambiguous with one
 * that was in the text: `\n`, `\r`, `\t`; `\xNN` up to U+00FF (`\x1b`, `\x85`); `\uNNNN` for the
 * rest of the BMP, unpaired surrogates included (`\u202e`, `\ud800`); `\u{NNNNN}` above it
 * (`\u{e0041}`). Everything else, non-ASCII text included, is kept as it is.
 * @param {unknown} value a string, or anything String() turns into one (null → "null")
 * @returns {string} text with no control, format, default-ignorable, separator or surrogate code point
 */
export function escapeForTerminal(value) {
  const text = typeof value === "string" ? value : String(value);
  return text.replace(UNSAFE_OR_BACKSLASH, (char) => {
    const short = SHORT_ESCAPES[/** @type {keyof typeof SHORT_ESCAPES} */ (char)];
    if (short !== undefined) return short;
    const codePoint = char.codePointAt(0) ?? 0;
    if (codePoint <= 0xff) return `\\x${codePoint.toString(16).padStart(2, "0")}`;
    if (codePoint <= 0xffff) return `\\u${codePoint.toString(16).padStart(4, "0")}`;
    return `\\u{${codePoint.toString(16)}}`;
  });
}

/**
 * JSON text (RFC 8259) of a value for a terminal: what `JSON.stringify(value, null, space)` writes,
 * with every {@link UNSAFE_CHARACTER} that JSON.stringify leaves raw (DEL, C1, format and
 * default-ignorable characters, U+2028, U+2029) written as `\uNNNN` escapes (a surrogate pair as two).
 * Still valid JSON that parses to the same value; C0 controls and unpaired surrogates are already
 * escaped by JSON.stringify, and the only raw C0 left are the newlines of the indentation.
 * @param {unknown} value
 * @param {number} [space] indentation, as for JSON.stringify (default 2)
 * @returns {string} JSON text ("undefined" for undefined, which has no JSON form)
 */
export function jsonForTerminal(value, space = 2) {
  const text = JSON.stringify(value, null, space);
  if (text === undefined) return "undefined";
  return text.replace(UNSAFE_CHARACTERS, (char) => (char.charCodeAt(0) < 0x20 ? char : utf16Escapes(char)));
}
