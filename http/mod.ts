/**
 * HTTP rate limiting, web-standard (no `node:` import: Deno, Bun, Node, edge runtimes and
 * browsers): {@linkcode rateLimitHeaders} writes the IETF `RateLimit-Policy` / `RateLimit`
 * fields (and the draft-7, draft-6 and legacy forms) plus `Retry-After`; {@linkcode ipKey} turns a
 * client address into a key (IPv4-mapped IPv6 unmapped, IPv6 grouped by subnet);
 * {@linkcode withRateLimit} protects a `(Request) => Response` handler. Framework adapters live
 * in `distkit/http/express`, `distkit/http/hono`, `distkit/http/fastify` and `distkit/http/koa`.
 *
 * @example Protect a Deno.serve handler
 * ```ts ignore
 * import { withRateLimit } from "distkit/http";
 * Deno.serve(withRateLimit(() => new Response("hello"), { limit: 100, windowMs: 60_000 }));
 * ```
 *
 * @example Headers of a decision
 * ```ts
 * import { MemoryStore, RateLimit, RateLimiter } from "../mod.ts";
 * import { rateLimitHeaders } from "./mod.ts";
 * await using rl = new RateLimiter({ store: new MemoryStore(), windowSizeSeconds: 60 });
 * const d = await rl.redis.absolute.inc("203.0.113.7", RateLimit.perMinute(100));
 * console.log(rateLimitHeaders(d, { windowMs: 60_000 }));
 * ```
 *
 * @module
 */
export {
  type HeaderDecision,
  type HeaderFormat,
  type HeaderFormats,
  rateLimitHeaders,
  type RateLimitHeadersOptions,
} from "./headers.ts";
export { ipKey, type IpKeyOptions } from "./ip.ts";
export { IpList } from "./ip_list.ts";
export type {
  HttpProvider,
  HttpRateLimitOptions,
  MessageBody,
  RateLimitInfo,
  RateLimitMiddlewareControl,
  TrustProxy,
} from "./options.ts";
export {
  type RateLimitedHandler,
  type WebHandler,
  withRateLimit,
  type WithRateLimitOptions,
} from "./with_rate_limit.ts";
// Types the options use, so this entry point stands on its own.
export {
  type CleanupOptions,
  type Provider,
  RateLimiter,
  type RateLimiterOptions,
  type StoreErrorPolicy,
} from "../ratelimit/rate_limiter.ts";
export type * from "../ratelimit/types.ts";
export { Comparator, type ComparatorOp } from "../core/comparator.ts";
export { RateLimit } from "../ratelimit/rate_limit.ts";
export { DistkitError, InvalidArgumentError } from "../core/errors.ts";
export type { DistkitErrorCode } from "../core/errors.ts";
export type * from "../store/types.ts";
