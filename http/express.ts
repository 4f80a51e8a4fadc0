/**
 * `expressRateLimit`: rate-limit middleware for Express 4 and 5 and Connect. Express is an
 * optional peer dependency, imported for its types only.
 *
 * @example
 * ```ts ignore
 * import express from "express";
 * import { createClient } from "redis";
 * import { expressRateLimit } from "distkit/http/express";
 * const redis = await createClient().connect();
 * const app = express();
 * app.use(expressRateLimit({ limit: 100, windowMs: 60_000, store: redis }));
 * app.get("/", (_req, res) => res.send("hello"));
 * app.listen(3000);
 * ```
 *
 * @module
 */
import type { NextFunction, Request, RequestHandler, Response } from "express";
import { RateLimitCore, type Verdict } from "./_core.ts";
import { nodeHeader, setNodeHeaders } from "./_node.ts";
import type { HttpRateLimitOptions, RateLimitInfo, RateLimitMiddlewareControl } from "./options.ts";

export type { RateLimitInfo } from "./options.ts";

/** Options of {@linkcode expressRateLimit}: `handler` writes the refused response itself. */
export type ExpressRateLimitOptions = HttpRateLimitOptions<
  Request,
  (req: Request, res: Response, next: NextFunction, info: RateLimitInfo) => unknown
>;

/** The middleware, with `close()` and `limiter`. */
export type ExpressRateLimitMiddleware = RequestHandler & RateLimitMiddlewareControl;

/**
 * Express (4 and 5) / Connect middleware. The client address is `req.ip`, which follows
 * Express's own `trust proxy` setting (off by default: the socket's peer), or, on Connect, the
 * socket's peer; `trustProxy` reads a proxy header instead.
 *
 * An admitted request gets the rate-limit fields and goes on; a refused one is answered with
 * `statusCode` (429), the fields, `Retry-After` and `message`, or by `handler`. Errors (a store
 * down under the "throw" policy, a bad `key`) go to `next(error)`. With `refundFailed`, a
 * response with status ≥ 400, or a request the client abandoned, gives its cost back.
 *
 * @param options the shared rate-limit options
 * @returns the middleware
 * @throws {InvalidArgumentError} naming the first invalid option
 *
 * @example 100 requests a minute per client, on Redis
 * ```ts ignore
 * import express from "express";
 * import { expressRateLimit } from "distkit/http/express";
 * const app = express();
 * app.use(expressRateLimit({ limit: 100, windowMs: 60_000, store: redisClient }));
 * ```
 *
 * @example Closing it
 * ```ts
 * import { expressRateLimit } from "./express.ts";
 * await using limit = expressRateLimit({ limit: 10, windowMs: 1000 });
 * console.assert(typeof limit === "function");
 * ```
 */
export function expressRateLimit(options: ExpressRateLimitOptions): ExpressRateLimitMiddleware {
  type Handler = NonNullable<ExpressRateLimitOptions["handler"]>;
  const core = new RateLimitCore<Request, Handler>(options, {
    // Express's `req.ip` honours its `trust proxy` setting; unset (the default) it is the
    // socket's address, read here without proxy-addr's parse of X-Forwarded-For (~1.5 µs).
    address: (req) =>
      (req.app?.settings?.["trust proxy"] ? req.ip : undefined) ?? req.socket?.remoteAddress,
    header: (req, name) => nodeHeader(req.headers, name),
  });
  const appends = (name: string) => core.appends(name);
  const refuse = async (req: Request, res: Response, next: NextFunction, info: RateLimitInfo) => {
    setNodeHeaders(res, info.headers, appends);
    if (core.handler !== undefined) {
      await core.handler(req, res, next, info);
      return;
    }
    const body = await core.body(req, info);
    res.statusCode = info.statusCode;
    res.setHeader("Content-Type", body.contentType);
    res.end(body.text);
  };
  const go = (req: Request, res: Response, next: NextFunction, verdict: Verdict): unknown => {
    if (verdict.refused) return refuse(req, res, next, verdict.info).catch(next);
    if (verdict.headers !== undefined) setNodeHeaders(res, verdict.headers, appends);
    const settle = verdict.settle;
    if (settle !== undefined) {
      res.once("finish", () => settle(res.statusCode >= 400));
      res.once("close", () => settle(true)); // after "finish" a no-op; alone: abandoned
    }
    next();
  };
  const middleware = (req: Request, res: Response, next: NextFunction): void => {
    let verdict: Verdict | Promise<Verdict>;
    try {
      verdict = core.check(req);
    } catch (e) {
      return next(e);
    }
    // A decision from memory goes on in this same call: no promise, no microtask hop.
    if (verdict instanceof Promise) verdict.then((v) => go(req, res, next, v)).catch(next);
    else go(req, res, next, verdict);
  };
  return Object.assign(middleware, {
    limiter: core.limiter,
    close: () => core.close(),
    [Symbol.asyncDispose]: () => core.close(),
  });
}
