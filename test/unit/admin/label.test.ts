import { describe, expect, it } from "vitest";
import { codePointNotation, LABEL_FORBIDDEN_CHARACTER, labelCharacterProblem } from "../../../src/admin/label";

describe("labelCharacterProblem", () => {
  it.each([
    ["billing"],
    ["Café Zürich"],
    ["חשבון ראשי"],
    ["請求サービス"],
    ["🚀 launch"],
    ["a b\u00a0c"], // NO-BREAK SPACE is a visible-width space (Zs), not default-ignorable
    ["x".repeat(500)], // the length bound is the schema's, not this check's
  ])("%j → null", (label) => {
    expect(labelCharacterProblem(label)).toBeNull();
  });

  it.each([
    ["a\u0000", "U+0000 (a control character)"],
    ["a\tb", "U+0009 (a control character)"],
    ["a\u0085", "U+0085 (a control character)"],
    ["a\u009f", "U+009F (a control character)"],
    ["a\u202e", "U+202E (a bidirectional formatting character, Unicode TR9)"],
    ["a\u2066", "U+2066 (a bidirectional formatting character, Unicode TR9)"],
    ["a\u061c", "U+061C (a bidirectional formatting character, Unicode TR9)"],
    ["a\u200f", "U+200F (a bidirectional formatting character, Unicode TR9)"],
    ["a\u200b", "U+200B (an invisible formatting character, Default_Ignorable_Code_Point)"],
    ["a\ufeff", "U+FEFF (an invisible formatting character, Default_Ignorable_Code_Point)"],
    ["a\u115f", "U+115F (an invisible formatting character, Default_Ignorable_Code_Point)"],
    ["a\u{e0001}", "U+E0001 (an invisible formatting character, Default_Ignorable_Code_Point)"],
    ["a\u{e01ef}", "U+E01EF (an invisible formatting character, Default_Ignorable_Code_Point)"],
    ["a\u2028", "U+2028 (a line or paragraph separator)"],
    ["a\ud83d", "U+D83D (an unpaired surrogate, not a Unicode scalar value)"],
    ["a\ude80b", "U+DE80 (an unpaired surrogate, not a Unicode scalar value)"],
  ])("%j → must not contain %s", (label, problem) => {
    expect(labelCharacterProblem(label)).toBe(`must not contain ${problem}`);
  });

  it("names the first offending code point", () => {
    expect(labelCharacterProblem("ok\u200bthen\u202e")).toContain("U+200B");
  });

  it("a surrogate pair is one code point (U+1F680), never two lone surrogates", () => {
    expect(labelCharacterProblem("\ud83d\ude80")).toBeNull();
  });

  it("refuses every bidi control of Unicode TR9 and the zero-width characters named in the issue", () => {
    const named = [0x061c, 0x200e, 0x200f, 0x202a, 0x202b, 0x202c, 0x202d, 0x202e, 0x2066, 0x2067, 0x2068, 0x2069];
    const invisible = [0x200b, 0x200c, 0x200d, 0x2060, 0xfeff];
    for (const cp of [...named, ...invisible])
      expect(LABEL_FORBIDDEN_CHARACTER.test(String.fromCodePoint(cp)), codePointNotation(cp)).toBe(true);
    for (let cp = 0x80; cp <= 0x9f; cp++)
      expect(LABEL_FORBIDDEN_CHARACTER.test(String.fromCodePoint(cp)), codePointNotation(cp)).toBe(true);
  });
});

describe("codePointNotation", () => {
  it.each([
    [0x9, "U+0009"],
    [0x202e, "U+202E"],
    [0x1f680, "U+1F680"],
    [0x10ffff, "U+10FFFF"],
  ])("%d → %s", (cp, text) => {
    expect(codePointNotation(cp)).toBe(text);
  });
});
