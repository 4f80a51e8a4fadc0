/**
 * `honoRateLimit`: rate-limit middleware for Hono, on any runtime it serves from. It needs
 * nothing from Hono but the shape of its `Context` (no import at all).
 *
 * @example
 * ```ts ignore
 * import { Hono } from "hono";
 * import { honoRateLimit } from "distkit/http/hono";
 * const app = new Hono();
 * app.use(honoRateLimit({ limit: 100, windowMs: 60_000, store: redisClient }));
 * app.get("/", (c) => c.text("hello"));
 * Deno.serve(app.fetch);
 * ```
 *
 * @module
 */
import { RateLimitCore } from "./_core.ts";
import { refusedResponse, runtimeAddress, withHeaders } from "./_web.ts";
import type { HttpRateLimitOptions, RateLimitInfo, RateLimitMiddlewareControl } from "./options.ts";

export type { RateLimitInfo } from "./options.ts";

/**
 * What the middleware reads of Hono's `Context` (any Hono 4 context has it). Callbacks get the
 * real context: write `honoRateLimit<Context<MyEnv>>({...})` to type them with your own `Env`.
 */
export interface HonoContextLike {
  /** What the runtime handed `app.fetch` beside the request. */
  readonly env: unknown;
  /** The request. */
  readonly req: {
    /** The web Request. */
    readonly raw: Request;
    /** A request header. */
    header(name: string): string | undefined;
  };
  /** The response (after `next()`). */
  res: Response;
  /** The error a handler threw, once Hono has handled it. */
  readonly error: Error | undefined;
}

/** Options of {@linkcode honoRateLimit}: `handler` returns the refused response itself. */
export type HonoRateLimitOptions<C extends HonoContextLike = HonoContextLike> =
  HttpRateLimitOptions<C, (c: C, info: RateLimitInfo) => Response | Promise<Response>>;

/** The middleware (a Hono `MiddlewareHandler`), with `close()` and `limiter`. */
export type HonoRateLimitMiddleware<C extends HonoContextLike = HonoContextLike> =
  & ((c: C, next: () => Promise<void>) => Promise<Response | void>)
  & RateLimitMiddlewareControl;

/**
 * Hono middleware. The client address comes from what the runtime handed `app.fetch` as `c.env`:
 * `Deno.serve(app.fetch)` (`remoteAddr`), `Bun.serve({ fetch: app.fetch })` (the server's
 * `requestIP`) or `@hono/node-server` (`incoming.socket`). On Cloudflare Workers and other edges
 * pass `key`, or `trustProxy: { header: "cf-connecting-ip" }`.
 *
 * An admitted request goes on and its response gets the rate-limit fields; a refused one is
 * answered with `statusCode` (429), the fields, `Retry-After` and `message`, or by `handler`.
 * With `refundFailed`, a response with status ≥ 400 or a handler error (`c.error`) gives the
 * request's cost back.
 *
 * @typeParam C the context type the callbacks get
 * @param options the shared rate-limit options
 * @returns the middleware
 * @throws {InvalidArgumentError} naming the first invalid option
 *
 * @example
 * ```ts
 * import { Hono } from "hono";
 * import { honoRateLimit } from "./hono.ts";
 * await using limit = honoRateLimit({ limit: 1, windowMs: 1000, key: () => "all" });
 * const app = new Hono().use(limit).get("/", (c) => c.text("ok"));
 * console.assert((await app.request("/")).status === 200);
 * console.assert((await app.request("/")).status === 429);
 * ```
 */
export function honoRateLimit<C extends HonoContextLike = HonoContextLike>(
  options: HonoRateLimitOptions<C>,
): HonoRateLimitMiddleware<C> {
  type Handler = NonNullable<HonoRateLimitOptions<C>["handler"]>;
  const core = new RateLimitCore<C, Handler>(options, {
    address: (c) => runtimeAddress(c.env, c.req.raw),
    header: (c, name) => c.req.header(name),
  });
  const appends = (name: string) => core.appends(name);
  const middleware = async (c: C, next: () => Promise<void>): Promise<Response | void> => {
    const verdict = await core.check(c);
    if (verdict.refused) {
      const info = verdict.info;
      if (core.handler !== undefined) {
        return withHeaders(await core.handler(c, info), info.headers, appends);
      }
      return refusedResponse(core, c, info);
    }
    await next();
    if (verdict.headers !== undefined) {
      const res = withHeaders(c.res, verdict.headers, appends);
      if (res !== c.res) c.res = res; // a copy (the handler's headers were immutable)
    }
    verdict.settle?.(c.error !== undefined || c.res.status >= 400);
  };
  return Object.assign(middleware, {
    limiter: core.limiter,
    close: () => core.close(),
    [Symbol.asyncDispose]: () => core.close(),
  });
}
