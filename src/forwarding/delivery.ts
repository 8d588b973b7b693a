/**
 * The origin's response body on its way to the client (docs/upstream.md "Response body", docs/audit.md
 * "Delivery"): passed through a native identity stream so the request path learns how the body ended,
 * and records it in the audit event:
 *
 *   delivered                  every byte was handed to the client's connection
 *   client_disconnected        the client went away first (the Worker's `request.signal` aborted:
 *                              compatibility flag `enable_request_signal`)
 *   upstream_body_incomplete   the origin's body broke off (connection closed or reset mid-body)
 *
 * "Handed to the connection" is all any proxy can know: a client that closes its socket after the last
 * bytes reached its operating system's buffers is not seen.
 *
 * No JavaScript touches the bytes: workerd pumps the origin's stream into a `FixedLengthStream`
 * (the origin's `Content-Length` is kept) or an `IdentityTransformStream` (chunked). That second hop
 * still costs: measured on plain workerd, 40–170 µs of CPU per response (the runtime can no longer
 * hand the origin's body straight to the client), as much as the rest of the request path. So only
 * bodies where following them tells something are followed: a body of unknown length (chunked,
 * streamed) or one the origin declares longer than {@link SMALL_BODY_MAX_BYTES}. A smaller body is
 * passed on as it is: its event says `client_disconnected` when the client's signal had aborted by the
 * time the origin answered, else `ok` (an origin that dies within such a body is not seen; for a body
 * that size the client's socket buffers would hide a departed client anyway).
 */

/**
 * Bytes: a response body the origin declares (`Content-Length`) at most this long is not followed
 * (64 KiB: above the usual API answer, below the bodies that stream for a noticeable time).
 */
export const SMALL_BODY_MAX_BYTES = 65_536;

export type Delivery = "delivered" | "client_disconnected" | "upstream_body_incomplete";

/** The response to return, and a promise of how its body ended (never rejects). */
export interface TrackedResponse {
  response: Response;
  delivery: Promise<Delivery>;
}

/**
 * Statuses whose response never has a body (RFC 9110 §15.2, §15.3.5, §15.4.5), and 101 whose
 * connection becomes the WebSocket's.
 */
const BODYLESS_STATUSES: ReadonlySet<number> = new Set([101, 204, 205, 304]);

/**
 * Puts a watch on the body of the origin's response when it is worth one.
 * @param res          the origin's response as passed on (its body is consumed by the returned one)
 * @param method       the request method: a `HEAD` response has no body whatever its `Content-Length` says
 * @param clientGone   the client's request signal: aborted once the runtime knows the client went away
 * @param originLength the `Content-Length` the origin sent (before any decoding), or null
 * @returns null when there is no body to watch (no body, `HEAD`, 1xx/204/205/304, a WebSocket) or it is
 *          a small one ({@link SMALL_BODY_MAX_BYTES})
 */
export function trackDelivery(res: Response, method: string, clientGone: AbortSignal, originLength: string | null): TrackedResponse | null {
  const source = res.body;
  if (source === null || method === "HEAD" || BODYLESS_STATUSES.has(res.status) || res.webSocket) return null;
  if (isSmallBody(originLength)) return null;
  const declared = res.headers.get("content-length");
  const length = declared === null ? Number.NaN : Number(declared);
  const pipe = Number.isSafeInteger(length) && length >= 0 ? new FixedLengthStream(length) : new IdentityTransformStream();
  const delivery = source.pipeTo(pipe.writable).then(
    (): Delivery => "delivered",
    // The runtime aborts the request's signal when it finds the client gone, before it cancels the
    // stream the client was reading (which is what makes the pipe fail then).
    (): Delivery => (clientGone.aborted ? "client_disconnected" : "upstream_body_incomplete"),
  );
  return { response: new Response(pipe.readable, res), delivery };
}

/** True when the origin declared a body of at most {@link SMALL_BODY_MAX_BYTES} bytes. */
export function isSmallBody(originLength: string | null): boolean {
  if (originLength === null) return false;
  const length = Number(originLength);
  return Number.isSafeInteger(length) && length >= 0 && length <= SMALL_BODY_MAX_BYTES;
}
