/**
 * The one home of the HTTP rate-limit logic every adapter shares: option validation, the owned
 * or shared limiter, skip / allow / deny lists, the key, the cost, the decision, the headers, the
 * refused response's body and the refund of failed requests. Adapters only translate between
 * their framework and this.
 *
 * @module
 */
import { InvalidArgumentError } from "../core/errors.ts";
import { intInRange } from "../core/int.ts";
import { RateLimit } from "../ratelimit/rate_limit.ts";
import { RateLimiter } from "../ratelimit/rate_limiter.ts";
import type { RateLimitDecision } from "../ratelimit/types.ts";
import {
  type FormatSet,
  formatSet,
  type HeaderDecision,
  policyString,
  refuses,
  writeHeaders,
} from "./headers.ts";
import { ipKey, type IpKeyOptions } from "./ip.ts";
import { IpList } from "./ip_list.ts";
import type {
  HttpProvider,
  HttpRateLimitOptions,
  MessageBody,
  RateLimitInfo,
  RateLimitMiddlewareControl,
} from "./options.ts";

/** How the core reads a framework's request. @internal */
export interface RequestAccess<Req> {
  /** The connection's peer address, if known. */
  address(request: Req): string | undefined;
  /** A request header's value, if present. */
  header(request: Req, name: string): string | undefined;
}

/** Go ahead: set `headers` (if any) and, once the response is done, call `settle`. @internal */
export interface Admit {
  readonly refused: false;
  /** The rate-limit fields to set (undefined: none, e.g. a skipped request). */
  readonly headers: Record<string, string> | undefined;
  /** Call once with whether the request failed (status ≥ 400, threw, aborted). */
  readonly settle: ((failed: boolean) => void) | undefined;
}

/** Refuse: answer with `info.statusCode`, `info.headers` and the body. @internal */
export interface Refuse {
  readonly refused: true;
  readonly info: RateLimitInfo;
}

/** The core's verdict on one request. @internal */
export type Verdict = Admit | Refuse;

/** The refused response's body. @internal */
export interface Body {
  readonly text: string;
  readonly contentType: string;
}

/** A request that is neither counted nor given headers. */
const PASS: Admit = Object.freeze({ refused: false, headers: undefined, settle: undefined });

const DEFAULT_MESSAGE = "Too many requests, please try again later.";
const DENY_MESSAGE = "Forbidden";

/**
 * The absolute limiter the core calls: `inc` (or `incNow`, the hybrid provider's synchronous
 * answer from memory), and `refund` for `refundFailed`.
 */
interface AbsoluteLike {
  inc(key: string, rate: RateLimit, n: number): RateLimitDecision | Promise<RateLimitDecision>;
  incNow?: (
    key: string,
    rate: RateLimit,
    n: number,
  ) => RateLimitDecision | Promise<RateLimitDecision>;
  refund?: (key: string, n: number) => unknown;
}

/** What a `cost` callback returned, checked. */
function checkCost(cost: unknown): number {
  if (typeof cost !== "number" || !Number.isSafeInteger(cost) || cost < 0) {
    throw new InvalidArgumentError(
      `'cost' must return an integer from 0 to ${Number.MAX_SAFE_INTEGER}: it returned ${
        String(cost)
      }`,
    );
  }
  return cost;
}

/** Whether `v` is a promise (or another thenable): a user's callback may return either. */
function isThenable<T>(v: T | PromiseLike<T>): v is PromiseLike<T> {
  return typeof (v as { then?: unknown } | null)?.then === "function";
}

const PROVIDERS: readonly string[] = ["redis", "hybrid", "local"];
const POLICIES: readonly string[] = ["throw", "allow", "deny", "local"];
const KNOWN = new Set([
  "limit",
  "windowMs",
  "store",
  "limiter",
  "provider",
  "prefix",
  "key",
  "ipv6Subnet",
  "trustProxy",
  "cost",
  "skip",
  "allowList",
  "denyList",
  "statusCode",
  "denyStatusCode",
  "message",
  "handler",
  "headers",
  "policy",
  "refundFailed",
  "onStoreError",
  "limiterOptions",
]);

function optionalFn<T>(v: T | undefined, name: string): T | undefined {
  if (v !== undefined && typeof v !== "function") {
    throw new InvalidArgumentError(`'${name}' must be a function: current type is ${typeof v}`);
  }
  return v;
}

function status(v: unknown, name: string, dflt: number): number {
  return v === undefined ? dflt : intInRange(v as number, name, 400, 599);
}

/**
 * The shared middleware engine, one per middleware instance. @internal
 * @typeParam Req the framework's request
 * @typeParam Handler the framework's custom-response callback
 */
export class RateLimitCore<Req, Handler> implements RateLimitMiddlewareControl {
  /** The limiter deciding. */
  readonly limiter: RateLimiter;
  /** The validated `handler`. */
  readonly handler: Handler | undefined;
  /** The refused status. */
  readonly statusCode: number;
  #owned: boolean;
  #absolute: AbsoluteLike;
  #rate: RateLimit;
  #access: RequestAccess<Req>;
  #key: ((r: Req) => string | Promise<string>) | undefined;
  #cost: ((r: Req) => number | Promise<number>) | undefined;
  #skip: ((r: Req) => boolean | Promise<boolean>) | undefined;
  #allow: IpList | undefined;
  #deny: IpList | undefined;
  #denyStatus: number;
  #message: HttpRateLimitOptions<Req, Handler>["message"];
  #formats: FormatSet;
  #policy: string;
  #windowSeconds: number;
  #refundFailed: boolean;
  #ipOptions: IpKeyOptions;
  #proxyHeader: string | undefined;
  #proxyHops: number;
  #closing: Promise<void> | undefined;

  /**
   * Validates every option, then creates (or adopts) the limiter.
   * @param options the shared options
   * @param access how to read the framework's request
   * @throws {InvalidArgumentError} naming the first invalid option
   */
  constructor(options: HttpRateLimitOptions<Req, Handler>, access: RequestAccess<Req>) {
    if (options === null || typeof options !== "object") {
      throw new InvalidArgumentError("'options' must be an object with 'limit' and 'windowMs'");
    }
    for (const name of Object.keys(options)) {
      if (!KNOWN.has(name)) {
        throw new InvalidArgumentError(
          `Unknown option '${name}': the options are ${[...KNOWN].join(", ")}`,
        );
      }
    }
    this.#access = access;
    const limit = intInRange(options.limit, "limit", 1, Number.MAX_SAFE_INTEGER);
    const windowMs = intInRange(options.windowMs, "windowMs", 1000, 2_592_000_000);
    if (windowMs % 1000 !== 0) {
      throw new InvalidArgumentError(
        `'windowMs' must be whole seconds (a multiple of 1000): current value is ${windowMs}`,
      );
    }
    this.#windowSeconds = windowMs / 1000;
    this.#rate = new RateLimit(limit, windowMs);
    this.#key = optionalFn(options.key, "key");
    this.#cost = optionalFn(options.cost, "cost");
    this.#skip = optionalFn(options.skip, "skip");
    this.handler = optionalFn(options.handler, "handler");
    this.#ipOptions = {
      ipv6Subnet: options.ipv6Subnet === undefined
        ? 56
        : intInRange(options.ipv6Subnet, "ipv6Subnet", 1, 128),
    };
    const proxy = options.trustProxy;
    if (proxy !== undefined) {
      if (proxy === null || typeof proxy !== "object") {
        throw new InvalidArgumentError(
          "'trustProxy' must be an object: { header?: string, hops?: number }",
        );
      }
      const header = proxy.header ?? "x-forwarded-for";
      if (typeof header !== "string" || !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(header)) {
        throw new InvalidArgumentError(
          `'trustProxy.header' must be a header name: current value is ${JSON.stringify(header)}`,
        );
      }
      this.#proxyHeader = header.toLowerCase();
      this.#proxyHops = intInRange(proxy.hops ?? 1, "trustProxy.hops", 1, 10);
    } else this.#proxyHops = 1;
    this.#allow = options.allowList === undefined
      ? undefined
      : new IpList(options.allowList, "allowList");
    this.#deny = options.denyList === undefined
      ? undefined
      : new IpList(options.denyList, "denyList");
    this.statusCode = status(options.statusCode, "statusCode", 429);
    this.#denyStatus = status(options.denyStatusCode, "denyStatusCode", 403);
    const message = options.message;
    if (
      message !== undefined && typeof message !== "string" && typeof message !== "function" &&
      (message === null || typeof message !== "object")
    ) {
      throw new InvalidArgumentError(
        `'message' must be a string, a JSON object or array, or a function: current type is ${typeof message}`,
      );
    }
    this.#message = message;
    this.#formats = formatSet(options.headers, "headers");
    this.#policy = policyString(options.policy ?? `${limit}-per-${this.#windowSeconds}s`, "policy");
    const refund = options.refundFailed ?? false;
    if (typeof refund !== "boolean") {
      throw new InvalidArgumentError(
        `'refundFailed' must be a boolean: current value is ${String(refund)}`,
      );
    }
    this.#refundFailed = refund;
    const policy = options.onStoreError;
    if (policy !== undefined && !POLICIES.includes(policy)) {
      throw new InvalidArgumentError(
        `'onStoreError' must be "throw", "allow", "deny" or "local": current value is ${
          JSON.stringify(policy)
        }`,
      );
    }
    const provider = options.provider;
    if (provider !== undefined && !PROVIDERS.includes(provider)) {
      throw new InvalidArgumentError(
        `'provider' must be "redis", "hybrid" or "local": current value is ${
          JSON.stringify(provider)
        }`,
      );
    }
    const lo = options.limiterOptions;
    if (lo !== undefined && (lo === null || typeof lo !== "object")) {
      throw new InvalidArgumentError("'limiterOptions' must be an object");
    }
    if (options.limiter !== undefined) {
      this.#owned = false;
      this.limiter = this.#adopt(options, windowMs, provider);
    } else {
      this.#owned = true;
      if (options.store === undefined && (provider === "redis" || provider === "hybrid")) {
        throw new InvalidArgumentError(
          `'provider' ${JSON.stringify(provider)} needs a 'store' (or a 'limiter' with one)`,
        );
      }
      this.limiter = new RateLimiter({
        ...lo,
        store: options.store,
        prefix: options.prefix ?? "distkit-http",
        windowSizeSeconds: this.#windowSeconds,
        onStoreError: policy,
      });
    }
    const chosen: HttpProvider = provider ??
      (this.#owned ? (options.store === undefined ? "local" : "redis") : this.#defaultProvider());
    this.#absolute = this.limiter[chosen].absolute as AbsoluteLike;
    if (this.#refundFailed && typeof this.#absolute.refund !== "function") {
      throw new InvalidArgumentError(
        "'refundFailed' needs a limiter with 'refund' (this distkit's absolute limiters lack it)",
      );
    }
  }

  #adopt(
    options: HttpRateLimitOptions<Req, Handler>,
    windowMs: number,
    provider: HttpProvider | undefined,
  ): RateLimiter {
    const limiter = options.limiter!;
    if (!(limiter instanceof RateLimiter)) {
      throw new InvalidArgumentError("'limiter' must be a RateLimiter");
    }
    for (const name of ["store", "prefix", "onStoreError", "limiterOptions"] as const) {
      if (options[name] !== undefined) {
        throw new InvalidArgumentError(
          `'${name}' configures an owned limiter: with 'limiter', set it on that RateLimiter`,
        );
      }
    }
    if (limiter.windowSizeSeconds * 1000 !== windowMs) {
      throw new InvalidArgumentError(
        `'limiter' must have the window of 'windowMs' (${windowMs} ms): its window is ${
          limiter.windowSizeSeconds * 1000
        } ms`,
      );
    }
    if (provider === "redis" || provider === "hybrid") {
      try {
        void limiter[provider];
      } catch (e) {
        throw new InvalidArgumentError(
          `'provider' ${JSON.stringify(provider)} needs a 'limiter' with a store: ${
            (e as Error).message
          }`,
        );
      }
    }
    return limiter;
  }

  /** A shared limiter: "redis" when it has a store, else "local". */
  #defaultProvider(): HttpProvider {
    try {
      void this.limiter.redis;
      return "redis";
    } catch {
      return "local";
    }
  }

  /** The window, seconds. */
  get windowSeconds(): number {
    return this.#windowSeconds;
  }

  /**
   * Whether a header is a Structured Field List that several middlewares may each add to (the
   * draft-11 fields): adapters append those and set the others.
   * @param name a field name from a verdict
   * @returns whether to append
   */
  appends(name: string): boolean {
    return this.#formats.ietf === "draft-11" &&
      (name === "RateLimit" || name === "RateLimit-Policy");
  }

  /**
   * The client address: the trusted proxy header's entry, else the connection's peer.
   * @param request the request
   * @returns the address
   * @throws {InvalidArgumentError} if there is none (pass `key`, or `trustProxy` behind a proxy)
   */
  clientAddress(request: Req): string {
    if (this.#proxyHeader !== undefined) {
      const value = this.#access.header(request, this.#proxyHeader);
      if (value !== undefined && value !== "") {
        const list = value.split(",");
        const entry = list[Math.max(0, list.length - this.#proxyHops)]!.trim();
        if (entry !== "") return entry;
      }
      throw new InvalidArgumentError(
        `The trusted '${this.#proxyHeader}' header is missing or empty: is the proxy in front?`,
      );
    }
    const address = this.#access.address(request);
    if (address === undefined || address === "") {
      throw new InvalidArgumentError(
        "Cannot tell the client address of this request: pass 'key', or 'trustProxy' behind a proxy",
      );
    }
    return address;
  }

  /**
   * Decides on one request: synchronously when every step is (no user callback returned a
   * promise, and the limiter answered from memory: the local and the hybrid providers' usual
   * case), so an adapter adds no promise and no microtask hop to the request.
   * @param request the framework's request
   * @returns admit (with headers and a settle callback) or refuse (with the info), or its promise
   * @throws {StoreError} with the "throw" store policy while the store is down (or rejects)
   * @throws {InvalidArgumentError} for a bad key, cost or client address (or rejects)
   */
  check(request: Req): Verdict | Promise<Verdict> {
    // The deny list first: a denied client is refused whatever `skip` says.
    let address: string | undefined;
    if (this.#deny !== undefined || this.#allow !== undefined) {
      address = this.clientAddress(request);
      if (this.#deny?.has(address)) {
        return {
          refused: true,
          info: {
            reason: "denied",
            key: undefined,
            decision: undefined,
            statusCode: this.#denyStatus,
            headers: {},
          },
        };
      }
      if (this.#allow?.has(address)) return PASS;
    }
    if (this.#skip !== undefined) {
      const skip = this.#skip(request);
      if (isThenable(skip)) {
        return Promise.resolve(skip).then((s) => s === true ? PASS : this.#keyed(request, address));
      }
      if (skip === true) return PASS;
    }
    return this.#keyed(request, address);
  }

  /** `check` after the lists and `skip`: the key. */
  #keyed(request: Req, address: string | undefined): Verdict | Promise<Verdict> {
    if (this.#key === undefined) {
      return this.#costed(request, ipKey(address ?? this.clientAddress(request), this.#ipOptions));
    }
    const key = this.#key(request);
    return isThenable(key)
      ? Promise.resolve(key).then((k) => this.#costed(request, k))
      : this.#costed(request, key);
  }

  /** `check` once the key is known: the cost. */
  #costed(request: Req, key: string): Verdict | Promise<Verdict> {
    if (this.#cost === undefined) return this.#decide(key, 1);
    const cost = this.#cost(request);
    return isThenable(cost)
      ? Promise.resolve(cost).then((c) => this.#decide(key, checkCost(c)))
      : this.#decide(key, checkCost(cost));
  }

  /** `check` once the key and cost are known: the decision. */
  #decide(key: string, cost: number): Verdict | Promise<Verdict> {
    // `incNow` appears on the hybrid provider once its code is loaded (its first call).
    const a = this.#absolute;
    const decision = a.incNow !== undefined
      ? a.incNow(key, this.#rate, cost)
      : a.inc(key, this.#rate, cost);
    return isThenable(decision)
      ? Promise.resolve(decision).then((d) => this.#verdict(key, cost, d as HeaderDecision))
      : this.#verdict(key, cost, decision as HeaderDecision);
  }

  /** The verdict on a decision: its headers, and the refund of a failed request. */
  #verdict(key: string, cost: number, decision: HeaderDecision): Verdict {
    const headers: Record<string, string> = {};
    if (typeof decision.limit === "number") {
      writeHeaders(headers, decision, this.#formats, this.#policy, this.#windowSeconds, Date.now);
    } else if (refuses(decision)) {
      // A decision without its numbers (an older limiter): Retry-After alone.
      headers["Retry-After"] = String(Math.max(1, Math.ceil((decision.retryAfterMs ?? 0) / 1000)));
    }
    if (refuses(decision)) {
      return {
        refused: true,
        info: { reason: "limited", key, decision, statusCode: this.statusCode, headers },
      };
    }
    if (!this.#refundFailed || cost === 0) return { refused: false, headers, settle: undefined };
    let settled = false;
    return {
      refused: false,
      headers,
      settle: (failed) => {
        if (settled) return;
        settled = true;
        if (failed) this.#refund(key, cost);
      },
    };
  }

  #refund(key: string, cost: number): void {
    try {
      // Best effort: a refund lost to a store outage only makes the limit stricter.
      Promise.resolve(this.#absolute.refund!(key, cost)).catch(() => {});
    } catch {
      // The limiter was closed meanwhile.
    }
  }

  /**
   * The refused response's body from `message` (limited) or the deny text.
   * @param request the request
   * @param info the refusal
   * @returns the text and its content type
   */
  async body(request: Req, info: RateLimitInfo): Promise<Body> {
    let m: MessageBody;
    if (info.reason === "denied") m = DENY_MESSAGE;
    else {
      const message = this.#message ?? DEFAULT_MESSAGE;
      m = typeof message === "function" ? await message(request, info) : message;
    }
    return typeof m === "string"
      ? { text: m, contentType: "text/plain; charset=utf-8" }
      : { text: JSON.stringify(m), contentType: "application/json; charset=utf-8" };
  }

  /**
   * Closes the owned limiter (idempotent); a shared one stays open.
   * @returns when closed
   */
  close(): Promise<void> {
    this.#closing ??= this.#owned ? this.limiter.close() : Promise.resolve();
    return this.#closing;
  }

  /** Same as {@linkcode RateLimitCore.close}. @returns when closed */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
