/**
 * Options fit projects compiled with `exactOptionalPropertyTypes` (as this repo is): every
 * optional option of every public options type accepts an explicit `undefined`, so
 * `{ ttlMs: cfg.ttlMs }` with `cfg.ttlMs: number | undefined` type-checks, and `undefined` means
 * the default at run time. The type half is checked by `deno check` (and by `deno test`, which
 * type-checks this file before running it).
 */
import assert from "node:assert/strict";
import {
  backoff,
  type BackoffOptions,
  type CleanupOptions,
  delay,
  type DelayOptions,
  DistkitError,
  type InstanceCloseOptions,
  LaxCounter,
  type LaxCounterOptions,
  LaxInstanceAwareCounter,
  type LaxInstanceAwareCounterOptions,
  type LockOptions,
  MemoryDb,
  MemoryStore,
  type MemoryStoreOptions,
  Mutex,
  RateLimit,
  RateLimiter,
  type RateLimiterOptions,
  type RedisClientLike,
  RedisStore,
  type RedisStoreOptions,
  RwLock,
  type StoreErrorPolicy,
  type StoreLike,
  StrictCounter,
  type StrictCounterOptions,
  StrictInstanceAwareCounter,
  type StrictInstanceAwareCounterOptions,
  type WaitOptions,
} from "../../mod.ts";

// ---------------------------------------------------------------- every optional key, by type

/** The optional keys of `T`. */
type OptionalKeys<T> = {
  [K in keyof T]-?: Record<never, never> extends Pick<T, K> ? K : never;
}[keyof T];

/**
 * The optional keys of `T` that refuse an explicit `undefined` under `exactOptionalPropertyTypes`
 * (`Required` drops only the "missing" case, so an explicit `| undefined` survives it).
 */
type RefusesUndefined<T> = {
  [K in OptionalKeys<T>]-?: undefined extends Required<T>[K] ? never : K;
}[OptionalKeys<T>];

/** `"ok"` when every optional key of `T` takes `undefined`; otherwise names the keys that do not. */
type TakesUndefined<T> = [RefusesUndefined<T>] extends [never] ? "ok"
  : { refusesUndefined: RefusesUndefined<T> };

/** Fails to type-check, naming the keys, when an optional key of `T` refuses `undefined`. */
function takesUndefined<T>(_ok: TakesUndefined<T>): void {}

/** The options argument of a method or constructor, without the `undefined` of its default. */
type Opts<T> = NonNullable<T>;

// Constructor options.
takesUndefined<BackoffOptions>("ok");
takesUndefined<DelayOptions>("ok");
takesUndefined<MemoryStoreOptions>("ok");
takesUndefined<RedisStoreOptions>("ok");
takesUndefined<StrictCounterOptions>("ok");
takesUndefined<LaxCounterOptions>("ok");
takesUndefined<StrictInstanceAwareCounterOptions>("ok");
takesUndefined<LaxInstanceAwareCounterOptions>("ok");
takesUndefined<LockOptions>("ok");
takesUndefined<RateLimiterOptions>("ok");
takesUndefined<Opts<ConstructorParameters<typeof DistkitError>[2]>>("ok");
// Method option bags.
takesUndefined<InstanceCloseOptions>("ok");
takesUndefined<Opts<Parameters<StrictInstanceAwareCounter["close"]>[0]>>("ok");
takesUndefined<Opts<Parameters<LaxInstanceAwareCounter["close"]>[0]>>("ok");
takesUndefined<WaitOptions>("ok");
takesUndefined<Opts<Parameters<Mutex["lock"]>[0]>>("ok");
takesUndefined<Opts<Parameters<RwLock["read"]>[0]>>("ok");
takesUndefined<Opts<Parameters<RwLock["write"]>[0]>>("ok");
takesUndefined<CleanupOptions>("ok");
takesUndefined<Opts<Parameters<RateLimiter["runCleanupLoop"]>[0]>>("ok");
takesUndefined<Opts<Parameters<MemoryDb["set"]>[2]>>("ok");
takesUndefined<Opts<Parameters<MemoryDb["zadd"]>[3]>>("ok");

// ---------------------------------------------------------------- values from a config

/** A setting a caller's config may leave out: statically `T | undefined`, undefined here. */
function unset<T>(): T | undefined {
  return undefined;
}

/** What a strict project's config looks like: every field possibly undefined. */
interface Config {
  n: number | undefined;
  s: string | undefined;
  b: boolean | undefined;
  fn: (() => number) | undefined;
  onError: ((e: DistkitError) => void) | undefined;
  signal: AbortSignal | undefined;
  store: StoreLike | undefined;
  policy: StoreErrorPolicy | undefined;
}

const cfg: Config = {
  n: unset(),
  s: unset(),
  b: unset(),
  fn: unset(),
  onError: unset(),
  signal: unset(),
  store: unset(),
  policy: unset(),
};

// The same options written out, field by field, as a strict project passes them.
({ baseMs: cfg.n, maxMs: cfg.n, random: cfg.fn }) satisfies BackoffOptions;
({ signal: cfg.signal }) satisfies DelayOptions;
({ now: cfg.fn }) satisfies MemoryStoreOptions;
({ commandTimeoutMs: cfg.n, batch: cfg.b }) satisfies RedisStoreOptions;
({ leave: cfg.b }) satisfies InstanceCloseOptions;
({ timeoutMs: cfg.n, signal: cfg.signal }) satisfies WaitOptions;
({ intervalMs: cfg.n }) satisfies CleanupOptions;
({
  store: cfg.store,
  prefix: cfg.s,
  windowSizeSeconds: cfg.n,
  rateGroupSizeMs: cfg.n,
  hardLimitFactor: cfg.n,
  suppressionFactorCacheMs: cfg.n,
  syncIntervalMs: cfg.n,
  onStoreError: cfg.policy,
  storeTimeoutMs: cfg.n,
  now: cfg.fn,
  random: cfg.fn,
  onError: cfg.onError,
}) satisfies RateLimiterOptions;

// ---------------------------------------------------------------- undefined means the default

Deno.test("exactOptionalPropertyTypes: undefined options of counters mean the defaults", async () => {
  const store = new MemoryStore({ now: cfg.fn });
  const strict = new StrictCounter({ prefix: "plain", store });
  await using lax = new LaxCounter({
    prefix: "plain",
    store,
    allowedLagMs: cfg.n,
    onError: cfg.onError,
  });
  assert.equal(lax.allowedLagMs, 20);
  await lax.inc("k", 2);
  await lax.flush();
  assert.equal(await strict.get("k"), 2);

  await using a = new StrictInstanceAwareCounter({
    prefix: "ic",
    store,
    deadInstanceThresholdMs: cfg.n,
    instanceId: cfg.s,
    onError: cfg.onError,
  });
  await using b = new LaxInstanceAwareCounter({
    prefix: "ic",
    store,
    deadInstanceThresholdMs: cfg.n,
    flushIntervalMs: cfg.n,
    allowedLagMs: cfg.n,
    instanceId: cfg.s,
    onError: cfg.onError,
  });
  assert.equal(a.deadInstanceThresholdMs, 30_000);
  assert.deepEqual(
    [b.deadInstanceThresholdMs, b.flushIntervalMs, b.allowedLagMs],
    [30_000, 20, 20],
  );
  assert.ok(a.instanceId.length > 0 && b.instanceId.length > 0 && a.instanceId !== b.instanceId);
  await a.inc("k", 3);
  await b.inc("k", 4);
  await b.flush();
  assert.deepEqual(await a.get("k"), { total: 7, mine: 3 });
  // `leave: undefined` leaves, as the default does: the slices are gone from the total at once.
  await b.close({ leave: cfg.b });
  assert.deepEqual(await a.get("k"), { total: 3, mine: 3 });
});

Deno.test("exactOptionalPropertyTypes: undefined options of locks mean the defaults", async () => {
  const store = new MemoryStore();
  const options: LockOptions = {
    key: "k",
    store,
    namespace: cfg.s,
    ttlMs: cfg.n,
    ownerId: cfg.s,
    maxWaitMs: cfg.n,
    retryIntervalMs: cfg.n,
  };
  const mutex = new Mutex(options);
  const rw = new RwLock(options);
  for (const lock of [mutex, rw]) {
    assert.deepEqual(
      [lock.namespace, lock.ttlMs, lock.maxWaitMs, lock.retryIntervalMs],
      ["distkit-locks", 30_000, undefined, 50],
    );
    assert.ok(lock.ownerId.length > 0);
  }
  const wait: WaitOptions = { timeoutMs: cfg.n, signal: cfg.signal };
  {
    await using guard = await mutex.lock(wait);
    assert.equal(guard.state, "acquired");
  }
  {
    await using guard = await rw.read(wait);
    assert.equal(guard.state, "acquired");
  }
  {
    await using guard = await rw.write(wait);
    assert.equal(guard.state, "acquired");
  }
});

Deno.test("exactOptionalPropertyTypes: undefined options of the rate limiter mean the defaults", async () => {
  await using rl = new RateLimiter({
    store: cfg.store,
    prefix: cfg.s,
    windowSizeSeconds: cfg.n,
    rateGroupSizeMs: cfg.n,
    hardLimitFactor: cfg.n,
    suppressionFactorCacheMs: cfg.n,
    syncIntervalMs: cfg.n,
    onStoreError: cfg.policy,
    storeTimeoutMs: cfg.n,
    now: cfg.fn,
    random: cfg.fn,
    onError: cfg.onError,
  });
  assert.equal(rl.windowSizeSeconds, 10);
  const perWindow = RateLimit.perSecond(0.2); // 2 per 10-second window
  assert.equal(rl.local.absolute.inc("ip", perWindow).kind, "allowed");
  assert.equal(rl.local.absolute.inc("ip", perWindow).kind, "allowed");
  assert.equal(rl.local.absolute.inc("ip", perWindow).kind, "rejected");
  rl.runCleanupLoop({ intervalMs: cfg.n });
  assert.ok(rl.cleanupLoopRunning);
  rl.stopCleanupLoop();
});

Deno.test("exactOptionalPropertyTypes: undefined options of stores and helpers mean the defaults", async () => {
  const db = new MemoryDb();
  assert.equal(db.set("k", "v", { px: cfg.n, nx: cfg.b, xx: cfg.b, keepTtl: cfg.b }), true);
  assert.equal(db.set("k", "w", { px: cfg.n, nx: cfg.b, xx: cfg.b, keepTtl: cfg.b }), true);
  assert.equal(db.get("k"), "w");
  assert.equal(db.zadd("z", 2, "m", { nx: cfg.b, xx: cfg.b, gt: cfg.b, lt: cfg.b }), 1);
  assert.equal(db.zadd("z", 1, "m", { nx: cfg.b, xx: cfg.b, gt: cfg.b, lt: cfg.b }), 0);
  assert.equal(db.zscore("z", "m"), 1);

  const calls: string[] = [];
  const client: RedisClientLike = {
    evalSha: (sha1) => (calls.push(sha1), Promise.resolve(1)),
    eval: () => Promise.resolve(1),
    sSubscribe: () => Promise.resolve(),
    sUnsubscribe: () => Promise.resolve(),
  };
  await using redis = new RedisStore(client, { commandTimeoutMs: cfg.n, batch: cfg.b });
  const counter = new StrictCounter({ prefix: "p", store: redis });
  assert.equal(await counter.inc("k"), 1);
  assert.equal(calls.length, 1);

  for (let attempt = 0; attempt < 20; attempt++) {
    const ms = backoff(attempt, { baseMs: cfg.n, maxMs: cfg.n, random: cfg.fn });
    assert.ok(ms >= 0 && ms <= Math.min(1000, 10 * 2 ** attempt));
  }
  await delay(1, { signal: cfg.signal });
  const err = new DistkitError("STORE_ERROR", "x", { cause: undefined });
  assert.equal("cause" in err, false);
});
