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
 * (the origin's `Content-Length` is kept) or an `IdentityTransformStream` (chunked).
 */

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
 * Puts a watch on the body of the origin's response.
 * @param res         the origin's response (its body is consumed by the returned one)
 * @param method      the request method: a `HEAD` response has no body whatever its `Content-Length` says
 * @param clientGone  the client's request signal: aborted once the runtime knows the client went away
 * @returns null when there is no body to watch (no body, `HEAD`, 1xx/204/205/304, a WebSocket)
 */
export function trackDelivery(res: Response, method: string, clientGone: AbortSignal): TrackedResponse | null {
  const source = res.body;
  if (source === null || method === "HEAD" || BODYLESS_STATUSES.has(res.status) || res.webSocket) return null;
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
