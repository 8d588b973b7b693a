/**
 * The refusals report-only mode (src/request-path/report-only.ts) turns into a mark, on their own so
 * that the admin API's schemas (and the Node script that writes the OpenAPI document from them) can name
 * them without loading the request path.
 */
import type { ErrorCode } from "../errors";
import { CREDENTIAL_FAILURES } from "./failed-auth";

/**
 * The refusals report-only mode turns into a mark: every credential failure (400/401), a blocked
 * address's 429 (the flood throttle; the address's requests then skip the credential checks, so a
 * flood still costs no hashing or KV read), and the key policy's 403 `ip_not_allowed` and 429 `rate_limited`.
 */
export const WOULD_REFUSE: ReadonlySet<ErrorCode> = new Set<ErrorCode>([...CREDENTIAL_FAILURES, "ip_not_allowed", "rate_limited"]);

/** {@link WOULD_REFUSE} in alphabetical order: the choices of the audit search's `would_refuse` filter (admin API, console). */
export const WOULD_REFUSE_CODES: readonly ErrorCode[] = [...WOULD_REFUSE].sort();
