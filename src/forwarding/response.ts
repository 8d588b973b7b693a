/**
 * The origin's response on its way back to the client (DESIGN §6): the runtime's fetch response has
 * immutable headers, so it is copied once into a response the request path can stamp
 * (src/request-path/audit.ts), without the hop-by-hop headers (RFC 9110 §7.6.1) and without the
 * headers its `Connection` names. When the origin compressed the body, the runtime's fetch decodes it
 * as it is read (workerd asks the origin for the encodings it supports), so `Content-Encoding` and
 * `Content-Length`, which describe the encoded bytes, are dropped too.
 */

/** Response headers never passed on (hop-by-hop, RFC 9110 §7.6.1 and RFC 9112 §9.6). */
const HOP_BY_HOP_RESPONSE_HEADERS = [
  "connection",
  "keep-alive",
  "proxy-authenticate",
  "proxy-authorization",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
] as const;

/** An HTTP token (RFC 9110 §5.6.2): what a header name named in `Connection` must be to be removed. */
const TOKEN = /^[!#$%&'*+\-.0-9A-Z^_`a-z|~]+$/;

/**
 * @param answer the upstream fetch's response (not read: its body stream is handed on)
 * @returns a new Response: same status, status text and body stream, mutable headers as described above
 */
export function downstreamResponse(answer: Response): Response {
  // A Response as the init copies status, status text and headers in one native call; the copy's
  // headers are mutable, so what must not go back is deleted from them. (A `Headers` copy handed
  // to `new Response(body, { headers })` is copied a second time by the constructor.)
  const res = new Response(answer.body, answer);
  const headers = res.headers;
  const connection = headers.get("connection");
  if (connection !== null) {
    for (const token of connection.split(",")) {
      const name = token.trim();
      if (TOKEN.test(name)) headers.delete(name);
    }
  }
  for (const name of HOP_BY_HOP_RESPONSE_HEADERS) headers.delete(name);
  if (headers.has("content-encoding")) {
    headers.delete("content-encoding");
    headers.delete("content-length");
  }
  return res;
}
