/**
 * The request body on its way to the origin (docs/upstream.md "Request body"): streamed, never
 * buffered, and watched, so the forward step knows when the whole body has been handed to the
 * upstream connection (only then does the `UPSTREAM_TIMEOUT_MS` wait for response headers begin) and
 * when the client's body broke off instead (the upload is then aborted, never ended).
 *
 * The body passes through a native identity stream (workerd's `FixedLengthStream` when the client sent
 * `Content-Length`, so the origin still receives that length; `IdentityTransformStream` for a chunked
 * body). No JavaScript touches the bytes.
 *
 * Why the stream the origin reads is left open when the client's body breaks off (`preventAbort`):
 * workerd ends a chunked upstream body cleanly when the stream it reads from errors (measured with
 * workerd 2026-11: the origin saw a complete, shorter upload). Left open, the upload stays unfinished
 * until the caller aborts the fetch, and the origin sees an aborted request, as it does when the body is
 * passed straight through.
 */

/** The body to hand the upstream fetch, and what became of it. */
export interface UpstreamBody {
  /** What the upstream fetch sends: null for no body. */
  body: ReadableStream | null;
  /**
   * Settles once the client's body has been read to its end and handed on (`"sent"`), or broke off
   * before its end (`"broken"`: the client went away, or closed its side of the connection early).
   * Never rejects. Null for a request without a body (nothing to wait for).
   */
  outcome: Promise<BodyOutcome> | null;
}

export type BodyOutcome = "sent" | "broken";

const NO_BODY: UpstreamBody = { body: null, outcome: null };

/**
 * Wires the client's body to the upstream request.
 * @param request the client's request (its body is consumed by the returned stream)
 * @param method  the request method: `GET` and `HEAD` never carry a body upstream (RFC 9110 §9.3.1–2)
 */
export function upstreamBody(request: Request, method: string): UpstreamBody {
  const source = request.body;
  if (source === null || method === "GET" || method === "HEAD") return NO_BODY;
  const declared = request.headers.get("content-length");
  const length = declared === null ? Number.NaN : Number(declared);
  if (length === 0) return NO_BODY;
  // workerd has checked Content-Length against the body before the Worker runs (a shorter body
  // errors the stream); a usable length keeps the origin's Content-Length, anything else goes chunked.
  const pipe = Number.isSafeInteger(length) && length > 0 ? new FixedLengthStream(length) : new IdentityTransformStream();
  const outcome = source.pipeTo(pipe.writable, { preventAbort: true }).then(
    (): BodyOutcome => "sent",
    (): BodyOutcome => "broken",
  );
  return { body: pipe.readable, outcome };
}
