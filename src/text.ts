/** Small string helpers shared by the pure modules. */

/** Trims surrounding spaces and horizontal tabs only (RFC 9110 §5.6.3 OWS), nothing else. */
export function trimOws(value: string): string {
  let start = 0;
  let end = value.length;
  while (start < end && isOws(value.charCodeAt(start))) start++;
  while (end > start && isOws(value.charCodeAt(end - 1))) end--;
  return value.slice(start, end);
}

/** True for a space or horizontal tab (the OWS characters of RFC 9110 §5.6.3). */
export function isOws(code: number): boolean {
  return code === 0x20 || code === 0x09;
}

/**
 * Cuts `value` to at most `max` UTF-16 code units, never between the two halves of a surrogate pair
 * (one character outside the BMP is then dropped whole).
 */
export function capChars(value: string, max: number): string {
  if (value.length <= max) return value;
  let end = Math.max(0, max);
  const last = value.charCodeAt(end - 1);
  const next = value.charCodeAt(end);
  if (end > 0 && last >= 0xd800 && last <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) end--;
  return value.slice(0, end);
}
