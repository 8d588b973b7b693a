/**
 * Flood folding for denied requests (docs/audit.md "Floods"). Every request gets an audit event, but
 * an attacker sending thousands of bad credentials a second must not buy thousands of D1 rows and
 * queue operations a second. Per connecting IP (CF-Connecting-IP, the trusted address) and isolate,
 * the first `limit` denied events of each window are stored one by one; the rest of the window's
 * denied events are folded, per batch, into one event that carries `folded_count`.
 */

/** Per-IP counter of denied events in fixed windows; bounded in the number of IPs it remembers. */
export class DeniedFloodGuard {
  readonly #limit: number;
  readonly #windowMs: number;
  readonly #maxIps: number;
  readonly #windows = new Map<string, { startMs: number; count: number }>();

  /**
   * @param limit    denied events per IP per window stored one by one
   * @param windowMs window length in milliseconds
   * @param maxIps   IPs remembered at most (the oldest is forgotten first)
   */
  constructor(limit: number, windowMs: number, maxIps: number) {
    this.#limit = limit;
    this.#windowMs = windowMs;
    this.#maxIps = maxIps;
  }

  /**
   * Counts one denied event from `ip` at `nowMs` (epoch milliseconds).
   * @returns true when it is past the IP's limit for the current window and should be folded
   */
  shouldFold(ip: string, nowMs: number): boolean {
    let window = this.#windows.get(ip);
    if (window === undefined || nowMs - window.startMs >= this.#windowMs) {
      this.#windows.delete(ip);
      window = { startMs: nowMs, count: 0 };
      this.#windows.set(ip, window);
      if (this.#windows.size > this.#maxIps) {
        const oldest = this.#windows.keys().next().value;
        if (oldest !== undefined) this.#windows.delete(oldest);
      }
    }
    window.count++;
    return window.count > this.#limit;
  }
}
