/**
 * The options every HTTP rate-limit adapter takes (`withRateLimit`, `expressRateLimit`,
 * `honoRateLimit`, `fastifyRateLimit`, `koaRateLimit`), named alike; only the request type and
 * the `handler` signature differ by framework.
 *
 * @module
 */
import type {
  RateLimiter,
  RateLimiterOptions,
  StoreErrorPolicy,
} from "../ratelimit/rate_limiter.ts";
import type { StoreLike } from "../store/types.ts";
import type { HeaderDecision, HeaderFormats } from "./headers.ts";

export type { HeaderDecision, HeaderFormats, StoreErrorPolicy };

/** Which `RateLimiter` provider decides. */
export type HttpProvider = "redis" | "hybrid" | "local";

/**
 * Trust a header set by a reverse proxy for the client address (never the default: a client can
 * send any header it likes, so only trust one your own proxy overwrites or appends to).
 */
export interface TrustProxy {
  /**
   * The header: a comma-separated list such as `X-Forwarded-For`, or a single address such as
   * `CF-Connecting-IP`, `Fly-Client-IP` or `X-Real-IP`.
   * @default {"x-forwarded-for"}
   */
  header?: string | undefined;
  /**
   * How many proxies of yours append to the list: the client is the `hops`-th entry from the
   * right (the address your outermost proxy saw). 1 to 10.
   * @default {1}
   */
  hops?: number | undefined;
}

/** What the limiter said about a request that was refused, for `message` and `handler`. */
export interface RateLimitInfo {
  /** `"limited"`: over the limit; `"denied"`: the client is on the deny list. */
  readonly reason: "limited" | "denied";
  /** The rate-limit key (undefined for a denied client: none was computed). */
  readonly key: string | undefined;
  /** The decision (undefined for a denied client). */
  readonly decision: HeaderDecision | undefined;
  /** The status the response gets (`statusCode` or `denyStatusCode`). */
  readonly statusCode: number;
  /** The rate-limit fields and `Retry-After` (empty for a denied client). */
  readonly headers: Readonly<Record<string, string>>;
}

/** A response body: text (sent as `text/plain`) or a value sent as JSON. */
export type MessageBody = string | Record<string, unknown> | unknown[];

/**
 * The options shared by every adapter.
 * @typeParam Req the request the callbacks get (a web `Request`, Express `req`, Hono `Context`,
 *   Fastify `request`, Koa `ctx`)
 * @typeParam Handler the adapter's custom-response callback
 */
export interface HttpRateLimitOptions<Req, Handler> {
  /** Requests (cost units) admitted per window per key: a positive safe integer. */
  limit: number;
  /**
   * The sliding window, ms: whole seconds, from 1 000 to 2 592 000 000 (30 days). With
   * `limiter`, it must equal the limiter's window.
   */
  windowMs: number;
  /**
   * A Store or a connected Redis client: the middleware creates and owns a `RateLimiter` on it,
   * closed by the middleware's `close()`. Not with `limiter`.
   */
  store?: StoreLike | undefined;
  /** A shared `RateLimiter` (the caller closes it); its window must equal `windowMs`. */
  limiter?: RateLimiter | undefined;
  /**
   * The provider: `"redis"` (one atomic store call per request, exact fleet-wide), `"hybrid"`
   * (decisions from memory backed by store reservations: no store call on the request path, zero
   * fleet overshoot) or `"local"` (this process only).
   * @default {"redis" with a store, "local" without}
   */
  provider?: HttpProvider | undefined;
  /**
   * The owned limiter's key prefix: middlewares with different limits on one store need
   * different prefixes (the same prefix and key share one usage record).
   * @default {"distkit-http"}
   */
  prefix?: string | undefined;
  /**
   * The rate-limit key of a request. The default is the client address through `ipKey` (IPv6
   * grouped by `ipv6Subnet`), taken from the connection (or from `trustProxy`'s header).
   */
  key?: ((request: Req) => string | Promise<string>) | undefined;
  /** The default key's IPv6 prefix length, 1 to 128. @default {56} */
  ipv6Subnet?: number | undefined;
  /** Take the client address from a proxy's header instead of the connection. @default {undefined} */
  trustProxy?: TrustProxy | undefined;
  /** How many units a request uses: a safe integer ≥ 0. @default {() => 1} */
  cost?: ((request: Req) => number | Promise<number>) | undefined;
  /**
   * Requests for which this returns true are neither counted nor given headers (the deny list
   * still applies).
   */
  skip?: ((request: Req) => boolean | Promise<boolean>) | undefined;
  /** Client addresses and CIDR ranges never limited nor counted. */
  allowList?: readonly string[] | undefined;
  /** Client addresses and CIDR ranges refused with `denyStatusCode`, before anything is counted. */
  denyList?: readonly string[] | undefined;
  /** The status of a refused request, 400 to 599. @default {429} */
  statusCode?: number | undefined;
  /** The status of a deny-listed client, 400 to 599. @default {403} */
  denyStatusCode?: number | undefined;
  /**
   * The body of a 429 response: text, a JSON value, or a function of the request and the info.
   * @default {"Too many requests, please try again later."}
   */
  message?:
    | MessageBody
    | ((request: Req, info: RateLimitInfo) => MessageBody | Promise<MessageBody>)
    | undefined;
  /**
   * Writes the refused response itself (limited and denied requests; the headers are already
   * set). Replaces `message`.
   */
  handler?: Handler | undefined;
  /**
   * The rate-limit fields: a format (`"draft-11"`, `"draft-7"`, `"draft-6"`, `"legacy"`), one
   * IETF format plus `"legacy"`, or `false` for none (`Retry-After` is still sent on a refusal).
   * @default {"draft-11"}
   */
  headers?: HeaderFormats | undefined;
  /** The quota policy's name in the draft-11 fields. @default {`${limit}-per-${windowSeconds}s`} */
  policy?: string | undefined;
  /**
   * Give back a request's cost when its response has a status ≥ 400 or its handler threw (or the
   * client went away first): only successful requests count.
   * @default {false}
   */
  refundFailed?: boolean | undefined;
  /**
   * The owned limiter's policy while the store is unreachable: `"throw"` (the framework's error
   * handling answers, usually 500), `"allow"`, `"deny"` (429) or `"local"` (this process
   * limits alone). With `limiter`, set it on that limiter instead.
   * @default {"throw"}
   */
  onStoreError?: StoreErrorPolicy | undefined;
  /** More options for the owned `RateLimiter` (bucket size, sync interval, store timeout...). */
  limiterOptions?:
    | Omit<RateLimiterOptions, "store" | "windowSizeSeconds" | "onStoreError" | "prefix">
    | undefined;
}

/** What every middleware object has besides being the middleware. */
export interface RateLimitMiddlewareControl extends AsyncDisposable {
  /** The limiter deciding (owned, or the shared one). */
  readonly limiter: RateLimiter;
  /**
   * Closes the owned limiter (a shared one is left open), committing the hybrid provider's
   * reservations. Idempotent.
   */
  close(): Promise<void>;
}
