/**
 * Key labels (docs/admin-api.md "Labels"): text for people, shown by the admin console and printed
 * by `spot-keys` in a terminal. A label must not be able to change how that output looks beyond its
 * own characters, so the admin API refuses every code point that is invisible, reorders text or
 * drives a terminal (Unicode TR36 "Unicode Security Considerations" §2, TR39 "Unicode Security
 * Mechanisms"):
 *
 * - controls (general category Cc): C0, DEL and C1 (U+0080–U+009F, e.g. U+0085 NEXT LINE, U+009B CSI);
 * - format characters (Cf), among them the bidirectional formatting characters of Unicode TR9
 *   (U+061C, U+200E, U+200F, U+202A–U+202E, U+2066–U+2069), the zero-width U+200B–U+200D, U+2060,
 *   U+FEFF, U+00AD and the tag characters U+E0001, U+E0020–U+E007F;
 * - every other Default_Ignorable_Code_Point (Unicode TR44; rendered as nothing, TR36 §2.4): Hangul
 *   fillers (U+115F, U+1160, U+3164, U+FFA0), U+034F, variation selectors (U+FE00–U+FE0F,
 *   U+E0100–U+E01EF), and the reserved default-ignorable ranges;
 * - line and paragraph separators (Zl U+2028, Zp U+2029), which end a line like LF;
 * - surrogates (Cs): in a JSON string, an unpaired `\ud800` escape is not a Unicode scalar value.
 *
 * The price: emoji written with U+FE0F or joined with U+200D are refused too. Accepted labels are
 * stored in Unicode Normalization Form C (UAX #15), so one text has one stored form. Labels stored
 * before this rule are read as they are (src/admin/model.ts); `spot-keys` escapes the same characters
 * on output (scripts/lib/terminal-text.mjs; test/unit/terminal-text.test.ts keeps the two sets equal).
 * Pure.
 */

/**
 * One code point a label must not contain (see the module comment): general categories Cc, Cf, Cs,
 * Zl, Zp and the property Default_Ignorable_Code_Point. With the `u` flag a lone surrogate is one
 * code point of category Cs.
 */
export const LABEL_FORBIDDEN_CHARACTER = /[\p{Cc}\p{Cf}\p{Cs}\p{Zl}\p{Zp}\p{Default_Ignorable_Code_Point}]/u;

/** Unicode normalization form of stored labels (UAX #15). */
export const LABEL_NORMALIZATION_FORM = "NFC";

/** `U+202E`: a code point in the notation of the Unicode Standard (at least 4 uppercase hex digits). */
export function codePointNotation(codePoint: number): string {
  return `U+${codePoint.toString(16).toUpperCase().padStart(4, "0")}`;
}

/** What kind of forbidden character a code point is, for the 400 message. */
function kindOf(char: string): string {
  if (/\p{Bidi_Control}/u.test(char)) return "a bidirectional formatting character, Unicode TR9";
  if (/\p{Cc}/u.test(char)) return "a control character";
  if (/\p{Cs}/u.test(char)) return "an unpaired surrogate, not a Unicode scalar value";
  if (/[\p{Zl}\p{Zp}]/u.test(char)) return "a line or paragraph separator";
  return "an invisible formatting character, Default_Ignorable_Code_Point";
}

/**
 * The first forbidden code point of a label, as a sentence for a 400.
 * @param label the label as received (UTF-16, lone surrogates possible)
 * @returns null when every code point may appear in a label, else e.g.
 *   `must not contain U+202E (a bidirectional formatting character, Unicode TR9)`
 */
export function labelCharacterProblem(label: string): string | null {
  const match = LABEL_FORBIDDEN_CHARACTER.exec(label);
  if (match === null) return null;
  const char = match[0];
  return `must not contain ${codePointNotation(char.codePointAt(0) ?? 0)} (${kindOf(char)})`;
}
