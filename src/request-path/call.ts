/**
 * `ApiCall`: the state of one API request on its way through the request path
 * (src/request-path/handler.ts). The API path does not run through Hono: an object of one fixed
 * shape, created once per request, carries what the checks establish (caller, version, origin, error
 * code, …) to the forward step and to the audit event, with no per-request context, variable map or
 * middleware chain (docs/benchmark.md "Hot path").
 */
import type { ClientIp } from "../client-ip/resolve";
import type { Caller, ResolvedVersion } from "../env";
import { type Config, requireConfig } from "../env";
import type { ErrorCode } from "../errors";
import type { Delivery } from "../forwarding/delivery";

/** What the request path needs of the runtime's execution context: work that outlives the answer. */
export type WaitUntil = Pick<ExecutionContext, "waitUntil">;

/** One API request: what the runtime handed the Worker, and what the checks found so far. */
export class ApiCall {
  /** The client's request, as received. */
  readonly request: Request;
  readonly env: Env;
  readonly executionCtx: WaitUntil;
  /** `request.url`, parsed once. */
  readonly url: URL;
  /** The request id (UUIDv7, src/request-id.ts): `X-Request-Id`, the assertion's `jti`, the audit event's `request_id`. */
  readonly requestId: string;
  /** Epoch milliseconds when the request entered the Worker. */
  readonly startedAtMs: number;
  /** `CF-Connecting-IP` and `X-Forwarded-For`, resolved (src/client-ip/). Set first, before any check. */
  clientIp: ClientIp | undefined = undefined;
  /** The version header as sent (trimmed), kept for the audit event even when it fails to resolve. */
  requestedVersion: string | null = null;
  caller: Caller | undefined = undefined;
  version: ResolvedVersion | undefined = undefined;
  /** Origin the request was (or would have been) forwarded to. */
  upstreamOrigin: string | undefined = undefined;
  /** Error code of the authorizer's own answer, when it answered with an error. */
  errorCode: ErrorCode | undefined = undefined;
  /** Report-only mode: the refusal enforcement would have answered for a request forwarded anyway. */
  wouldRefuse: ErrorCode | undefined = undefined;
  /** Forged identity headers the client sent, found while building the upstream headers (forwarded requests only). */
  forgedHeaders: string[] | undefined = undefined;
  /** Forwarded responses with a body: settles with how the body ended (src/forwarding/delivery.ts). */
  delivery: Promise<Delivery> | undefined = undefined;
  #config: Config | undefined = undefined;

  constructor(request: Request, env: Env, executionCtx: WaitUntil, url: URL, requestId: string, startedAtMs: number) {
    this.request = request;
    this.env = env;
    this.executionCtx = executionCtx;
    this.url = url;
    this.requestId = requestId;
    this.startedAtMs = startedAtMs;
  }

  /** A request header (case-insensitive name), or null when absent; repeated ones joined by `, `. */
  header(name: string): string | null {
    return this.request.headers.get(name);
  }

  /**
   * The Worker's configuration (src/env.ts), resolved once per request.
   * @throws ApiError `authorizer_unavailable` (503, logged `config_invalid`) when it cannot be used
   */
  config(): Config {
    if (this.#config === undefined) this.#config = requireConfig(this.env, this.requestId);
    return this.#config;
  }
}
