/**
 * Request ids: the `X-Request-Id` of every answer, the audit event's `request_id`, the assertion's `jti`
 * (README "How a request flows", docs/audit.md "Query").
 *
 * Each is a UUIDv7 (RFC 9562 §5.7), made with the `uuid` package: its first 48 bits are the Unix time in
 * milliseconds when the request arrived, so an id alone tells which hour of the audit archive holds its
 * event (src/audit/archive/lookup.ts). Ids made before that were UUIDv4 (random): they stay valid
 * everywhere, only the archive cannot be searched by their time.
 */
import { v7 } from "uuid";

/**
 * A fresh request id: a UUIDv7 in the lowercase 8-4-4-4-12 form (36 characters).
 *
 * Layout (RFC 9562 §5.7): `unix_ts_ms` (48 bits, `Date.now()`), version `0111`, `rand_a` (12 bits),
 * variant `10`, `rand_b` (62 bits). `uuid` fills `rand_a` and the top 20 bits of `rand_b` with a 32-bit
 * counter that starts at a random 31-bit value each new millisecond and counts up within one (RFC 9562
 * §6.2, method 1), and the other 42 bits with `crypto.getRandomValues`: ids made by one isolate sort as
 * text in the order they were made, also within one millisecond (the Workers clock stands still between
 * I/O). Should the counter overflow within one millisecond (at least 2^31 ids), the timestamp moves on
 * by 1 ms.
 */
export function newRequestId(): string {
  return v7();
}

/** Any UUID in the 8-4-4-4-12 hex form, either case (RFC 9562 §4: hex digits are case-insensitive on input). */
const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** A UUIDv7: version nibble 7, variant bits `10` (the first hex digit of the fourth group is 8, 9, a or b). */
const UUIDV7_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i;

/**
 * The time inside a UUIDv7: its `unix_ts_ms`, the first 48 bits (RFC 9562 §5.7).
 * @param id any text
 * @returns epoch milliseconds (0 … 2^48 − 1), or null when `id` is not a UUIDv7 (a UUIDv4 request id of
 *          the older trail, the nil or max UUID, another version, anything else)
 */
export function uuidv7Time(id: string): number | null {
  if (!UUIDV7_PATTERN.test(id)) return null;
  return Number.parseInt(id.slice(0, 8) + id.slice(9, 13), 16);
}

/**
 * A request id as it is looked up: a UUID of any version in lowercase (the form the authorizer makes and
 * stores; a UUID quoted in capitals is the same id), anything else unchanged.
 */
export function requestIdForLookup(id: string): string {
  return UUID_PATTERN.test(id) ? id.toLowerCase() : id;
}
