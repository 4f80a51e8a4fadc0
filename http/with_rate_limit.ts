/**
 * `withRateLimit`: rate limiting for web-standard `(Request) => Response` handlers — `Deno.serve`,
 * `Bun.serve`, Cloudflare Workers and other edge runtimes, service workers.
 *
 * @module
 */
import { RateLimitCore } from "./_core.ts";
import { refusedResponse, runtimeAddress, withHeaders } from "./_web.ts";
import type { HttpRateLimitOptions, RateLimitInfo, RateLimitMiddlewareControl } from "./options.ts";

/** A web handler: the request, then whatever the runtime passes beside it. */
export type WebHandler<A extends unknown[]> = (
  request: Request,
  ...rest: A
) => Response | Promise<Response>;

/** Options of {@linkcode withRateLimit}: `handler` answers a refused request itself. */
export type WithRateLimitOptions = HttpRateLimitOptions<
  Request,
  (request: Request, info: RateLimitInfo) => Response | Promise<Response>
>;

/** The wrapped handler: callable like the original, and closable. */
export type RateLimitedHandler<A extends unknown[]> =
  & ((request: Request, ...rest: A) => Promise<Response>)
  & RateLimitMiddlewareControl;

/**
 * Wraps a web handler with rate limiting. The client address is the one the runtime passes beside
 * the request: `Deno.serve` gives `info.remoteAddr`, `Bun.serve` gives the server
 * (`server.requestIP(request)`); edge runtimes give none, so pass `key` or trust their proxy
 * header (`trustProxy: { header: "cf-connecting-ip" }` on Cloudflare).
 *
 * An admitted request's response gets the rate-limit fields; a refused one gets `statusCode`
 * (429), the fields, `Retry-After` and `message` (or whatever `handler` returns); a deny-listed
 * client gets `denyStatusCode` (403).
 *
 * @typeParam A what the runtime passes after the request
 * @param handler the handler to protect
 * @param options the shared rate-limit options
 * @returns the protected handler, with `close()` (closes the owned limiter) and `limiter`
 * @throws {InvalidArgumentError} naming the first invalid option
 *
 * @example Deno.serve, 100 requests a minute per client IP
 * ```ts ignore
 * import { withRateLimit } from "./with_rate_limit.ts";
 * const handler = withRateLimit(() => new Response("hello"), { limit: 100, windowMs: 60_000 });
 * Deno.serve(handler);
 * ```
 *
 * @example Called directly
 * ```ts
 * import { withRateLimit } from "./with_rate_limit.ts";
 * await using handler = withRateLimit(() => new Response("ok"), {
 *   limit: 1,
 *   windowMs: 1000,
 *   key: () => "everyone",
 * });
 * const first = await handler(new Request("http://localhost/"));
 * const second = await handler(new Request("http://localhost/"));
 * console.assert(first.status === 200 && second.status === 429);
 * ```
 */
export function withRateLimit<A extends unknown[]>(
  handler: WebHandler<A>,
  options: WithRateLimitOptions,
): RateLimitedHandler<A> {
  if (typeof handler !== "function") {
    throw new TypeError("'handler' must be a function (request) => Response");
  }
  // The runtime's info for the request being checked: read by `address` in the same tick.
  const infos = new WeakMap<Request, unknown>();
  const core = new RateLimitCore<Request, NonNullable<WithRateLimitOptions["handler"]>>(
    options,
    {
      address: (request) => runtimeAddress(infos.get(request), request),
      header: (request, name) => request.headers.get(name) ?? undefined,
    },
  );
  const appends = (name: string) => core.appends(name);
  const wrapped = async (request: Request, ...rest: A): Promise<Response> => {
    infos.set(request, rest[0]);
    const verdict = await core.check(request);
    if (verdict.refused) {
      const info = verdict.info;
      if (core.handler !== undefined) {
        return withHeaders(await core.handler(request, info), info.headers, appends);
      }
      return refusedResponse(core, request, info);
    }
    if (verdict.settle === undefined) {
      const response = await handler(request, ...rest);
      return verdict.headers === undefined
        ? response
        : withHeaders(response, verdict.headers, appends);
    }
    let response: Response;
    try {
      response = await handler(request, ...rest);
    } catch (e) {
      verdict.settle(true);
      throw e;
    }
    verdict.settle(response.status >= 400);
    return withHeaders(response, verdict.headers!, appends);
  };
  return Object.assign(wrapped, {
    limiter: core.limiter,
    close: () => core.close(),
    [Symbol.asyncDispose]: () => core.close(),
  });
}
