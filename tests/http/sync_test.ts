/**
 * The middleware's synchronous path: a decision the limiter answers from memory (the local
 * provider; the hybrid provider from its reservation) goes on within the middleware's own call —
 * no promise, no microtask hop — while promise-returning callbacks and store calls still work,
 * and errors thrown on the synchronous path reach `next(error)` as before. The hybrid limiter's
 * `incNow` decides exactly as `inc` does.
 */
import assert from "node:assert/strict";
import type { NextFunction, Request, Response } from "express";
import { DistkitError, InvalidArgumentError, InvalidKeyError } from "../../core/errors.ts";
import { expressRateLimit } from "../../http/express.ts";
import type { HttpRateLimitOptions } from "../../http/options.ts";
import { RateLimiter } from "../../ratelimit/rate_limiter.ts";
import type { RateLimitDecision } from "../../ratelimit/types.ts";
import { MemoryStore } from "../../store/memory_store.ts";
import { waitFor } from "../_support/wait.ts";

/** A request and response just real enough for the middleware, and what it did to them. */
function exchange() {
  const headers = new Map<string, unknown>();
  const res = {
    headersSent: false,
    statusCode: 200,
    body: undefined as string | undefined,
    getHeader: (name: string) => headers.get(name.toLowerCase()),
    setHeader: (name: string, value: unknown) => void headers.set(name.toLowerCase(), value),
    once: () => res,
    end: (text: string) => void (res.body = text),
  };
  const req = { socket: { remoteAddress: "192.0.2.7" }, headers: {}, app: undefined };
  return { req: req as unknown as Request, res: res as unknown as Response, raw: res, headers };
}

/**
 * One request through `mw`: whether `next` ran before the middleware returned, and its outcome.
 * @returns `sync` and the promise of what `next` got (undefined, or the error)
 */
function call(mw: (req: Request, res: Response, next: NextFunction) => void) {
  const x = exchange();
  let sync = false;
  let returned = false;
  const outcome = new Promise<unknown>((resolve) => {
    const next = ((e?: unknown) => {
      sync = !returned;
      resolve(e);
    }) as NextFunction;
    mw(x.req, x.res, next);
    returned = true;
  });
  return { sync: () => sync, outcome, ...x };
}

type Options = HttpRateLimitOptions<Request, never>;

Deno.test("express: a decision from memory goes on within the middleware's call", async () => {
  const cases: Array<[string, Options]> = [
    ["local", { limit: 3, windowMs: 60_000 }],
    ["hybrid", { limit: 100, windowMs: 60_000, store: new MemoryStore(), provider: "hybrid" }],
  ];
  for (const [name, options] of cases) {
    await using mw = expressRateLimit(options);
    const first = call(mw);
    assert.equal(await first.outcome, undefined);
    if (name === "local") assert.ok(first.sync(), "local: the first request too");
    // The hybrid provider's first call loads its code and asks the store; then it has a
    // reservation to answer from.
    const second = call(mw);
    assert.ok(second.sync(), `${name}: next() ran within the call`);
    assert.equal(await second.outcome, undefined);
    const limit = options.limit;
    assert.match(
      String(second.headers.get("ratelimit")),
      new RegExp(`^"${limit}-per-60s";r=${limit - 2};t=6[01]$`),
      name,
    );
  }
  await using local = expressRateLimit({ limit: 1, windowMs: 60_000 });
  assert.ok(call(local).sync());
  const refused = call(local);
  await waitFor(() => refused.raw.statusCode === 429, { message: "the refusal" });
  assert.equal(refused.raw.body, "Too many requests, please try again later.");
  assert.equal(refused.sync(), false, "a refusal does not call next");
});

Deno.test("express: promise-returning callbacks and store calls take the asynchronous path", async () => {
  await using store = new MemoryStore();
  const variants: Options[] = [
    { limit: 2, windowMs: 60_000, key: () => Promise.resolve("k") },
    { limit: 2, windowMs: 60_000, cost: () => Promise.resolve(1) },
    { limit: 2, windowMs: 60_000, skip: () => Promise.resolve(false) },
    { limit: 2, windowMs: 60_000, store, provider: "redis", prefix: "sync-redis" },
  ];
  for (const options of variants) {
    await using mw = expressRateLimit(options);
    const a = call(mw);
    assert.equal(a.sync(), false);
    assert.equal(await a.outcome, undefined);
    assert.match(String(a.headers.get("ratelimit")), /^"2-per-60s";r=1;t=6[01]$/);
    await call(mw).outcome;
    const refused = call(mw);
    await waitFor(() => refused.raw.statusCode === 429, { message: "the refusal" });
  }
  // A skip answered at once skips at once.
  await using skipping = expressRateLimit({ limit: 1, windowMs: 60_000, skip: () => true });
  const s = call(skipping);
  assert.ok(s.sync());
  assert.equal(s.headers.size, 0);
});

Deno.test("express: errors on the synchronous path reach next(error), counting nothing", async () => {
  const bad: Array<[Options, RegExp]> = [
    [{ limit: 2, windowMs: 60_000, cost: () => -1 }, /'cost'/],
    [{ limit: 2, windowMs: 60_000, cost: () => Promise.resolve(1.5) }, /'cost'/],
    [{ limit: 2, windowMs: 60_000, key: () => "" }, /key/i],
    [{
      limit: 2,
      windowMs: 60_000,
      key: () => {
        throw new InvalidArgumentError("no key for this one");
      },
    }, /no key/],
  ];
  for (const [options, message] of bad) {
    await using mw = expressRateLimit(options);
    const c = call(mw);
    const e = await c.outcome;
    assert.ok(e instanceof DistkitError, String(e));
    assert.match(e.message, message);
    assert.equal(c.headers.size, 0);
    assert.equal(mw.limiter.local.absolute.size, 0, "nothing counted");
  }
});

Deno.test("hybrid incNow decides exactly as inc, synchronously once reserved", async () => {
  // Two limiters on two stores, the same calls: one through inc, one through incNow.
  await using a = new RateLimiter({ store: new MemoryStore(), windowSizeSeconds: 1 });
  await using b = new RateLimiter({ store: new MemoryStore(), windowSizeSeconds: 1 });
  const viaInc = a.hybrid.absolute;
  const facade = b.hybrid.absolute as typeof b.hybrid.absolute & {
    incNow?: (k: string, rate: number, n: number) => RateLimitDecision | Promise<RateLimitDecision>;
  };
  assert.equal(facade.incNow, undefined, "not on the facade before the code is loaded");
  await facade.inc("warm", 5);
  await viaInc.inc("warm", 5);
  assert.equal(typeof facade.incNow, "function");
  let syncAnswers = 0;
  const sizes = [1, 2, 1, 3, 1, 1, 4, 2, 1, 1, 6, 1];
  for (const [i, n] of sizes.entries()) {
    const key = `k${i % 3}`;
    const d1 = await viaInc.inc(key, 8, n);
    const now: RateLimitDecision | Promise<RateLimitDecision> = facade.incNow!(key, 8, n);
    if (!(now instanceof Promise)) syncAnswers++;
    const d2: RateLimitDecision = await now;
    // Equal decisions; a wait (a retry hint) may differ by the ms between the two calls.
    const strip = (d: RateLimitDecision) => ({ ...d, retryAfterMs: 0, resetMs: 0 });
    assert.deepEqual(strip(d2), strip(d1), `call ${i}: ${key} +${n}`);
  }
  assert.ok(syncAnswers > 0, "some answered from the reservation");
  assert.throws(() => facade.incNow!("", 8, 1), InvalidKeyError);
  assert.throws(() => facade.incNow!("k", 8, -1), InvalidArgumentError);
});
