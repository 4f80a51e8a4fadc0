/**
 * `koaRateLimit`: rate-limit middleware for Koa. Koa is an optional peer dependency, imported for
 * its types only.
 *
 * @example
 * ```ts ignore
 * import Koa from "koa";
 * import { koaRateLimit } from "distkit/http/koa";
 * const app = new Koa();
 * app.use(koaRateLimit({ limit: 100, windowMs: 60_000, store: redisClient }));
 * app.use((ctx) => { ctx.body = "hello"; });
 * app.listen(3000);
 * ```
 *
 * @module
 */
import type { Context, Middleware, Next } from "koa";
import { RateLimitCore } from "./_core.ts";
import type { HttpRateLimitOptions, RateLimitInfo, RateLimitMiddlewareControl } from "./options.ts";

export type { RateLimitInfo } from "./options.ts";

/** Options of {@linkcode koaRateLimit}: `handler` writes the refused response itself. */
export type KoaRateLimitOptions = HttpRateLimitOptions<
  Context,
  (ctx: Context, info: RateLimitInfo) => unknown
>;

/** The middleware, with `close()` and `limiter`. */
export type KoaRateLimitMiddleware = Middleware & RateLimitMiddlewareControl;

/**
 * Koa middleware. The client address is `ctx.ip`, which follows Koa's own `app.proxy` setting
 * (off by default: the socket's peer); `trustProxy` reads a proxy header instead.
 *
 * An admitted request gets the rate-limit fields and goes on; a refused one is answered with
 * `statusCode` (429), the fields, `Retry-After` and `message`, or by `handler`. With
 * `refundFailed`, a downstream error or a final status ≥ 400 gives the request's cost back.
 *
 * @param options the shared rate-limit options
 * @returns the middleware
 * @throws {InvalidArgumentError} naming the first invalid option
 *
 * @example Closing it
 * ```ts
 * import { koaRateLimit } from "./koa.ts";
 * await using limit = koaRateLimit({ limit: 10, windowMs: 1000 });
 * console.assert(typeof limit === "function");
 * ```
 */
export function koaRateLimit(options: KoaRateLimitOptions): KoaRateLimitMiddleware {
  type Handler = NonNullable<KoaRateLimitOptions["handler"]>;
  const core = new RateLimitCore<Context, Handler>(options, {
    address: (ctx) => ctx.ip || ctx.req.socket?.remoteAddress,
    header: (ctx, name) => ctx.get(name) || undefined,
  });
  const setAll = (ctx: Context, headers: Readonly<Record<string, string>>) => {
    for (const name in headers) {
      if (core.appends(name)) ctx.append(name, headers[name]!);
      else ctx.set(name, headers[name]!);
    }
  };
  const middleware = async (ctx: Context, next: Next): Promise<void> => {
    const verdict = await core.check(ctx);
    if (verdict.refused) {
      const info = verdict.info;
      setAll(ctx, info.headers);
      if (core.handler !== undefined) {
        await core.handler(ctx, info);
        return;
      }
      const body = await core.body(ctx, info);
      ctx.status = info.statusCode;
      ctx.type = body.contentType;
      ctx.body = body.text;
      return;
    }
    if (verdict.headers !== undefined) setAll(ctx, verdict.headers);
    const settle = verdict.settle;
    if (settle === undefined) return next();
    try {
      await next();
    } catch (e) {
      settle(true);
      throw e;
    }
    settle(ctx.status >= 400);
  };
  return Object.assign(middleware, {
    limiter: core.limiter,
    close: () => core.close(),
    [Symbol.asyncDispose]: () => core.close(),
  });
}
