/**
 * `koaRateLimit`: rate-limit middleware for Koa (2 and 3). It needs nothing from Koa but the
 * shape of its context (no import at all, so its declarations stand without `@types/koa`).
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
import { RateLimitCore } from "./_core.ts";
import type { HttpRateLimitOptions, RateLimitInfo, RateLimitMiddlewareControl } from "./options.ts";

export type { RateLimitInfo } from "./options.ts";

/**
 * What the middleware reads and writes of Koa's `ctx` (any Koa 2 or 3 context has it). Callbacks
 * get the real context: write `koaRateLimit<Context>({...})` to type them with Koa's own.
 */
export interface KoaContextLike {
  /** The client address (Koa honours `app.proxy`). */
  readonly ip: string;
  /** Node's request. */
  readonly req: { readonly socket?: { readonly remoteAddress?: string | undefined } | undefined };
  /** A request header ("" when absent). */
  get(name: string): string;
  /** Sets a response header. */
  set(name: string, value: string): void;
  /** Adds to a response header. */
  append(name: string, value: string): void;
  /** The response status. */
  status: number;
  /** The response content type. */
  type: string;
  /** The response body. */
  body: unknown;
}

/** Options of {@linkcode koaRateLimit}: `handler` writes the refused response itself. */
export type KoaRateLimitOptions<C extends KoaContextLike = KoaContextLike> = HttpRateLimitOptions<
  C,
  (ctx: C, info: RateLimitInfo) => unknown
>;

/** The middleware (a Koa middleware), with `close()` and `limiter`. */
export type KoaRateLimitMiddleware<C extends KoaContextLike = KoaContextLike> =
  & ((ctx: C, next: () => Promise<unknown>) => Promise<unknown>)
  & RateLimitMiddlewareControl;

/**
 * Koa middleware. The client address is `ctx.ip`, which follows Koa's own `app.proxy` setting
 * (off by default: the socket's peer); `trustProxy` reads a proxy header instead.
 *
 * An admitted request gets the rate-limit fields and goes on; a refused one is answered with
 * `statusCode` (429), the fields, `Retry-After` and `message`, or by `handler`. With
 * `refundFailed`, a downstream error or a final status ≥ 400 gives the request's cost back.
 *
 * @typeParam C the context type the callbacks get
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
export function koaRateLimit<C extends KoaContextLike = KoaContextLike>(
  options: KoaRateLimitOptions<C>,
): KoaRateLimitMiddleware<C> {
  type Handler = NonNullable<KoaRateLimitOptions<C>["handler"]>;
  const core = new RateLimitCore<C, Handler>(options, {
    address: (ctx) => ctx.ip || ctx.req.socket?.remoteAddress,
    header: (ctx, name) => ctx.get(name) || undefined,
  });
  const setAll = (ctx: C, headers: Readonly<Record<string, string>>) => {
    for (const name in headers) {
      if (core.appends(name)) ctx.append(name, headers[name]!);
      else ctx.set(name, headers[name]!);
    }
  };
  const middleware = async (ctx: C, next: () => Promise<unknown>): Promise<unknown> => {
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
