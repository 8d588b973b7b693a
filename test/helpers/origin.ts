/**
 * A stand-in for every upstream origin: replaces the global fetch the Worker uses (the main Worker
 * runs in the same isolate as the tests) and records what each origin received.
 */
import { vi } from "vitest";

export interface ReceivedRequest {
  url: URL;
  method: string;
  headers: Headers;
  body: string;
  redirect: string;
}

export interface OriginStub {
  received: ReceivedRequest[];
  restore(): void;
}

/**
 * @param respond optional custom answer; default: 200 JSON `{ origin: <host>, path }`
 */
export function stubOrigins(respond?: (req: Request) => Response | Promise<Response>): OriginStub {
  const received: ReceivedRequest[] = [];
  const spy = vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
    const req = new Request(input as RequestInfo, init as RequestInit);
    const body = req.body ? await req.clone().text() : "";
    received.push({ url: new URL(req.url), method: req.method, headers: new Headers(req.headers), body, redirect: req.redirect });
    if (respond) return respond(req);
    const url = new URL(req.url);
    return Response.json({ origin: url.host, path: url.pathname }, { headers: { "X-Origin": url.host } });
  });
  return { received, restore: () => spy.mockRestore() };
}
