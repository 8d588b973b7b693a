/**
 * scripts/lib/terminal-text.mjs, the escaping of server text shared by the spot-keys CLI and
 * `npm run audit:tail` (plain ESM without imports, so it runs here as in Node), and its agreement
 * with the characters the admin API refuses in key labels (src/admin/label.ts).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { escapeForTerminal, jsonForTerminal, UNSAFE_CHARACTER } from "../../scripts/lib/terminal-text.mjs";
import { codePointNotation, LABEL_FORBIDDEN_CHARACTER } from "../../src/admin/label";

/** True when a line (no newline in it) holds a code point that must not reach a terminal raw. */
const hasUnsafe = (text: string) => text.split("\n").some((line) => UNSAFE_CHARACTER.test(line));

/** Strings of any code points, unpaired surrogates included. */
const anyText = fc.string({
  unit: fc.oneof(
    fc.string({ unit: "binary", minLength: 1, maxLength: 1 }),
    fc.integer({ min: 0xd800, max: 0xdfff }).map((unit) => String.fromCharCode(unit)),
    fc.constantFrom("\\", "\u202e", "\u0085", "\u001b", "\u200b", "\u{e0041}", "é", "🚀"),
  ),
  maxLength: 40,
});

describe("escapeForTerminal", () => {
  it.each([
    ["plain ASCII", "billing svc-1", "billing svc-1"],
    ["non-ASCII text is kept", "Café 請求 חשבון 🚀", "Café 請求 חשבון 🚀"],
    ["a backslash is doubled", "a\\b", "a\\\\b"],
    ["a spelt-out escape stays distinguishable", "a\\u202eb", "a\\\\u202eb"],
    ["newline, return, tab", "a\nb\rc\td", "a\\nb\\rc\\td"],
    ["ESC and an escape sequence", "\u001b[2J", "\\x1b[2J"],
    ["NUL and DEL", "\u0000\u007f", "\\x00\\x7f"],
    ["C1 NEXT LINE and CSI", "\u0085\u009b", "\\x85\\x9b"],
    ["SOFT HYPHEN", "\u00ad", "\\xad"],
    ["RIGHT-TO-LEFT OVERRIDE", "exe\u202etxt", "exe\\u202etxt"],
    ["isolates", "\u2066x\u2069", "\\u2066x\\u2069"],
    ["marks", "\u200e\u200f\u061c", "\\u200e\\u200f\\u061c"],
    ["zero-width characters and BOM", "\u200b\u200c\u200d\u2060\ufeff", "\\u200b\\u200c\\u200d\\u2060\\ufeff"],
    ["HANGUL FILLER", "\u3164", "\\u3164"],
    ["line and paragraph separators", "\u2028\u2029", "\\u2028\\u2029"],
    ["a tag character (astral)", "\u{e0041}", "\\u{e0041}"],
    ["unpaired surrogates", "\ud800x\udfff", "\\ud800x\\udfff"],
    ["a surrogate pair is one character, kept", "\ud83d\ude80", "🚀"],
  ])("%s", (_name, input, shown) => {
    expect(escapeForTerminal(input)).toBe(shown);
  });

  it("turns other values into text first", () => {
    expect(escapeForTerminal(401)).toBe("401");
    expect(escapeForTerminal(null)).toBe("null");
    expect(escapeForTerminal(undefined)).toBe("undefined");
  });

  it("property: the result never holds an unsafe code point, and text without one (and without a backslash) is unchanged", () => {
    fc.assert(
      fc.property(anyText, (text) => {
        const shown = escapeForTerminal(text);
        expect(UNSAFE_CHARACTER.test(shown)).toBe(false);
        if (!UNSAFE_CHARACTER.test(text) && !text.includes("\\")) expect(shown).toBe(text);
      }),
      { numRuns: 2000 },
    );
  });
});

describe("jsonForTerminal", () => {
  it("writes unsafe characters that JSON.stringify leaves raw as \\u escapes, pairs as two", () => {
    expect(jsonForTerminal({ a: "x\u202ey\u0085\u007f\u2028\u{e0041}" }, 0)).toBe('{"a":"x\\u202ey\\u0085\\u007f\\u2028\\udb40\\udc41"}');
  });

  it("keeps the indentation's newlines and everything JSON.stringify already escaped", () => {
    const text = jsonForTerminal({ a: "\n\u001b", b: "\ud800" });
    expect(text).toBe(JSON.stringify({ a: "\n\u001b", b: "\ud800" }, null, 2));
    expect(text).toContain("\n  ");
  });

  it("undefined has no JSON form", () => {
    expect(jsonForTerminal(undefined)).toBe("undefined");
  });

  it("property: valid JSON of the same value, with no unsafe code point outside the indentation's newlines", () => {
    fc.assert(
      fc.property(fc.dictionary(anyText, fc.oneof(anyText, fc.array(anyText, { maxLength: 3 }), fc.integer())), (value) => {
        const text = jsonForTerminal(value);
        expect(JSON.parse(text)).toEqual(value);
        expect(hasUnsafe(text)).toBe(false);
      }),
      { numRuns: 500 },
    );
  });
});

describe("the CLI escapes every code point the admin API refuses in a label", () => {
  it("the same code points, U+0000 to U+10FFFF", () => {
    const differ: string[] = [];
    for (let cp = 0; cp <= 0x10ffff; cp++) {
      const char = String.fromCodePoint(cp);
      if (UNSAFE_CHARACTER.test(char) !== LABEL_FORBIDDEN_CHARACTER.test(char)) differ.push(codePointNotation(cp));
    }
    expect(differ).toEqual([]);
  });
});
