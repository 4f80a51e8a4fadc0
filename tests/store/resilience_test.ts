/**
 * The resilience layer (store/_resilience.ts) against a real frozen server (SIGSTOP: connections
 * stay open, nothing answers): every primitive's call settles within the bound with `StoreError`
 * (or its rate-limit policy's answer), the breaker then answers at once, and one probe brings the
 * store back after SIGCONT; a raw client gets the default bound; lax counters lose nothing; lock
 * waits keep retrying within their bound and acquire once Redis is back. Standalone and cluster
 * (private servers: these tests freeze them).
 */
import assert from "node:assert/strict";
import { createClient, createCluster } from "redis";
import {
  LaxCounter,
  Mutex,
  RateLimiter,
  RedisStore,
  RwLock,
  StoreError,
  type StoreErrorPolicy,
  StrictCounter,
  StrictInstanceAwareCounter,
} from "../../mod.ts";
import { DEFAULT_COMMAND_TIMEOUT_MS, healthOf, isKnownDown } from "../../store/_resilience.ts";
import { toStore } from "../../store/to_store.ts";
import type { Store } from "../../store/types.ts";
import { type PrivateRedis, startPrivateCluster, startPrivateRedis } from "../_support/servers.ts";
import type { RawClient } from "../_support/stores.ts";
import { sleep, waitFor } from "../_support/wait.ts";

/** The store's call bound in these tests, ms. */
const BOUND = 300;
/** How late past its bound a call may settle on this loaded machine, ms. */
const SLACK = 500;
/** A call answered by the open breaker must return within this, ms (median of five). */
const AT_ONCE_MS = 5;

const socket = {
  connectTimeout: 2000,
  reconnectStrategy: (n: number) => Math.min(10 * (n + 1), 100),
};

/** What a call did. */
type Outcome = { value?: unknown; error?: unknown };
/** Whether an outcome is the one expected. */
type Check = (r: Outcome) => boolean;
const kindIs = (kind: string): Check => (r) => (r.value as { kind?: string })?.kind === kind;

/** A private server or cluster to freeze, and a connected raw client on it. */
interface Target {
  raw: RawClient;
  freeze(): void;
  thaw(): void;
  close(): Promise<void>;
}

async function standalone(): Promise<Target> {
  const server = await startPrivateRedis();
  const raw = createClient({ url: server.url, socket }).on("error", () => {});
  await raw.connect();
  return {
    raw,
    freeze: () => server.pause(),
    thaw: () => server.resume(),
    close: async () => {
      server.resume();
      await raw.close().catch(() => raw.destroy());
      await server.stop();
    },
  };
}

async function cluster(): Promise<Target> {
  const c = await startPrivateCluster({ primaries: 3, replicas: 0, nodeTimeoutMs: 60_000 });
  const servers: PrivateRedis[] = c.nodes.map((n) => c.server(n.port));
  const raw = createCluster({
    rootNodes: c.nodes.map(({ host, port }) => ({ url: `redis://${host}:${port}` })),
    defaults: { socket },
  }).on("error", () => {});
  await raw.connect();
  return {
    raw,
    freeze: () => servers.forEach((s) => s.pause()),
    thaw: () => servers.forEach((s) => s.resume()),
    close: async () => {
      servers.forEach((s) => s.resume());
      await raw.close().catch(() => raw.destroy());
      await c.stop();
    },
  };
}

const TOPOLOGIES: Array<[string, () => Promise<Target>]> = [
  ["standalone", standalone],
  ["cluster", cluster],
];

/** `fn`'s outcome and how long it took, ms. */
async function timed(
  fn: () => Promise<unknown>,
): Promise<{ ms: number; value?: unknown; error?: unknown }> {
  const t0 = performance.now();
  try {
    const value = await fn();
    return { ms: performance.now() - t0, value };
  } catch (error) {
    return { ms: performance.now() - t0, error };
  }
}

/** The median time of five calls of `fn`, each rejecting as `check` wants. */
async function atOnce(
  fn: () => Promise<unknown>,
  check: Check,
  what: string,
): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < 5; i++) {
    const r = await timed(fn);
    assert.ok(check(r), `${what}: unexpected ${String(r.error ?? JSON.stringify(r.value))}`);
    times.push(r.ms);
  }
  times.sort((a, b) => a - b);
  return times[2]!;
}

const POLICIES: StoreErrorPolicy[] = ["throw", "allow", "deny", "local"];

for (const [topology, start] of TOPOLOGIES) {
  Deno.test(`frozen Redis [${topology}]: every primitive settles within the bound, the breaker answers at once, a probe brings it back`, async () => {
    const target = await start();
    const store = new RedisStore(target.raw, { commandTimeoutMs: BOUND });
    const prefix = `res${Date.now().toString(36)}`;
    const strict = new StrictCounter({ prefix, store });
    const icounter = new StrictInstanceAwareCounter({ prefix: `${prefix}i`, store });
    const mutex = new Mutex({ key: `${prefix}m`, store, ttlMs: 3000 });
    const limiters = POLICIES.map((onStoreError) =>
      new RateLimiter({
        store,
        prefix: `${prefix}${onStoreError}`,
        onStoreError,
        storeTimeoutMs: BOUND,
      })
    );
    try {
      // Warm: scripts loaded, the instance registered, the lock free.
      assert.equal(await strict.inc("a"), 1);
      assert.equal((await icounter.inc("a")).total, 1);
      await (await mutex.tryLock())!.release();
      for (const rl of limiters) {
        assert.equal((await rl.redis.absolute.inc("e", 100)).kind, "allowed");
      }

      target.freeze();
      const isStoreError: Check = (r) => r.error instanceof StoreError;
      const calls: Array<
        [string, () => Promise<unknown>, Check]
      > = [
        ["strict counter inc", () => strict.inc("a"), isStoreError],
        ["strict icounter inc", () => icounter.inc("a"), isStoreError],
        ["mutex tryLock", () => mutex.tryLock(), isStoreError],
        ...limiters.map((
          rl,
          i,
        ): [
          string,
          () => Promise<unknown>,
          Check,
        ] => [
          `rate limiter '${POLICIES[i]}'`,
          () => rl.redis.absolute.inc("e", 100),
          [
            isStoreError,
            kindIs("allowed"),
            kindIs("rejected"),
            kindIs("allowed"),
          ][i]!,
        ]),
      ];
      const first = await Promise.all(calls.map(([, fn]) => timed(fn)));
      first.forEach((r, i) => {
        const [what, , check] = calls[i]!;
        assert.ok(check(r), `${what}: unexpected ${String(r.error ?? JSON.stringify(r.value))}`);
        assert.ok(r.ms < BOUND + SLACK, `${what} settled after ${Math.round(r.ms)} ms`);
      });
      assert.equal(healthOf(store)?.down, true);

      // Known down: answered at once, with the failure that opened the breaker as the cause.
      for (const [what, fn, check] of calls) {
        const ms = await atOnce(fn, check, what);
        assert.ok(
          ms < AT_ONCE_MS,
          `${what} took ${ms.toFixed(2)} ms while the store is known down`,
        );
      }
      const e = await strict.inc("a").catch((e) => e);
      assert.ok(isKnownDown(e) && e instanceof StoreError, String(e));
      assert.match(e.message, /known to be down/);
      assert.ok(e.cause instanceof StoreError);

      // Back: a probe finds it, every primitive works again.
      target.thaw();
      await waitFor(() => strict.inc("a").then(() => true, () => false), {
        timeoutMs: 10_000,
        message: "the store back after SIGCONT",
      });
      assert.equal(healthOf(store)?.down, false);
      assert.ok((await icounter.inc("a")).total >= 2);
      // A tryLock that timed out may have won once Redis ran it: its clean-up releases it.
      await waitFor(async () => {
        const g = await mutex.tryLock().catch(() => null);
        await g?.release();
        return g !== null;
      }, { timeoutMs: 10_000, message: "the lock free again" });
      for (const rl of limiters) {
        assert.notEqual((await rl.redis.absolute.inc("e", 100)).kind, undefined);
      }
    } finally {
      target.thaw();
      for (const rl of limiters) await rl.close();
      await mutex.close();
      await icounter.close();
      await store.close();
      await target.close();
    }
  });
}

Deno.test("frozen Redis: a raw client (no RedisStore) gets the default bound, then the breaker", async () => {
  const target = await standalone();
  const store: Store = toStore(target.raw);
  const prefix = `raw${Date.now().toString(36)}`;
  const counter = new StrictCounter({ prefix, store: target.raw });
  try {
    assert.equal(await counter.inc("a"), 1);
    target.freeze();
    const r = await timed(() => counter.inc("a"));
    assert.ok(r.error instanceof StoreError, String(r.error));
    assert.match((r.error as Error).message, new RegExp(`within ${DEFAULT_COMMAND_TIMEOUT_MS} ms`));
    assert.ok(
      r.ms >= DEFAULT_COMMAND_TIMEOUT_MS - 5 && r.ms < DEFAULT_COMMAND_TIMEOUT_MS + SLACK,
      `settled after ${Math.round(r.ms)} ms`,
    );
    assert.equal(healthOf(store)?.down, true);
    const ms = await atOnce(() => counter.inc("a"), (r) => isKnownDown(r.error), "inc");
    assert.ok(ms < AT_ONCE_MS, `took ${ms.toFixed(2)} ms while known down`);
    target.thaw();
    await waitFor(() => counter.inc("a").then(() => true, () => false), {
      timeoutMs: 10_000,
      message: "the store back",
    });
  } finally {
    target.thaw();
    await store.close();
    await target.close();
  }
});

for (const [topology, start] of TOPOLOGIES) {
  Deno.test(`frozen Redis [${topology}]: lax counters keep buffering and lose nothing (nor double anything)`, async () => {
    const target = await start();
    const store = new RedisStore(target.raw, { commandTimeoutMs: BOUND });
    const prefix = `lax${Date.now().toString(36)}`;
    const lax = new LaxCounter({ prefix, store, allowedLagMs: 5 });
    const strict = new StrictCounter({ prefix, store });
    const errors: unknown[] = [];
    try {
      let expected = 0;
      for (let i = 0; i < 50; i++, expected++) await lax.inc(`k${i % 5}`);
      await lax.flush();
      target.freeze();
      const until = performance.now() + 3 * BOUND;
      while (performance.now() < until) {
        for (let i = 0; i < 5; i++, expected++) await lax.inc(`k${i}`);
        await sleep(10);
      }
      assert.ok(lax.pending > 0);
      await lax.flush().catch((e) => errors.push(e)); // fails within the bound: still buffered
      assert.ok(errors.every((e) => e instanceof StoreError), String(errors));
      target.thaw();
      await waitFor(() => lax.flush().then(() => true, () => false), {
        timeoutMs: 10_000,
        message: "a successful flush",
      });
      assert.equal(lax.pending, 0);
      const totals = await strict.getAll(["k0", "k1", "k2", "k3", "k4"]);
      assert.equal(totals.reduce((s, [, v]) => s + v, 0), expected);
    } finally {
      target.thaw();
      await lax.close().catch(() => {});
      await store.close();
      await target.close();
    }
  });
}

Deno.test("frozen Redis: lock waits keep retrying within their bound across a short outage and acquire once Redis is back", async () => {
  const target = await standalone();
  const raw = target.raw;
  const store = new RedisStore(raw, { commandTimeoutMs: BOUND });
  const key = `lw${Date.now().toString(36)}`;
  const opts = { store, ttlMs: 3000, retryIntervalMs: 20 };
  const locks = {
    plain: new Mutex({ key: `${key}a`, ...opts }),
    timeout: new Mutex({ key: `${key}b`, ...opts }),
    retries: new Mutex({ key: `${key}c`, ...opts }),
    write: new RwLock({ key: `${key}d`, ...opts }),
    read: new RwLock({ key: `${key}e`, ...opts }),
  };
  const ctrl = new AbortController();
  try {
    await (await locks.plain.tryLock())!.release(); // scripts loaded
    target.freeze();
    const t0 = performance.now();
    const waits = {
      plain: locks.plain.lock(),
      timeout: locks.timeout.tryLockWithTimeout(8000),
      retries: locks.retries.tryLockWithRetries(200),
      write: locks.write.write({ timeoutMs: 8000 }),
      read: locks.read.read({ signal: ctrl.signal }),
    };
    let settledEarly = false;
    for (const p of Object.values(waits)) {
      p.then(() => settledEarly = true, () => settledEarly = true);
    }
    await sleep(4 * BOUND);
    assert.equal(settledEarly, false, "a wait gave up on a StoreError during the outage");
    target.thaw();
    const thawed = performance.now();
    const guards = await Promise.all(Object.values(waits));
    const after = performance.now() - thawed;
    assert.ok(after < 3000, `acquired ${Math.round(after)} ms after SIGCONT`);
    for (const g of guards) assert.equal(g.state, "acquired");
    for (const g of guards) await g.release();
    assert.ok(performance.now() - t0 < 8000);
  } finally {
    target.thaw();
    ctrl.abort();
    for (const l of Object.values(locks)) await l.close();
    await store.close();
    await target.close();
  }
});

Deno.test("frozen Redis: a guard's renewals failing on the open breaker are failed renewals: a short freeze is survived, a long one loses the lease within ttlMs", async () => {
  const target = await standalone();
  const store = new RedisStore(target.raw, { commandTimeoutMs: 150 });
  const TTL = 3000; // renewals every 1,000 ms, retried every 333 ms after a failure
  const key = `gr${Date.now().toString(36)}`;
  const mutex = new Mutex({ key, store, ttlMs: TTL });
  try {
    const guard = await mutex.lock();
    await sleep(TTL / 3 + 50); // one renewal made
    // Short (longer than a renewal interval plus the bound, so one fails; far shorter than the
    // ttl): renewals fail (the timeout, then the open breaker) and one succeeds after SIGCONT.
    target.freeze();
    await sleep(TTL / 3 + 300);
    assert.equal(healthOf(store)?.down, true);
    target.thaw();
    await sleep(TTL / 2);
    assert.equal(guard.state, "acquired");
    assert.equal(guard.signal.aborted, false);
    // Long: no renewal succeeds for ttlMs; the signal aborts with LockLostError.
    const lost = new Promise<number>((resolve) =>
      guard.signal.addEventListener("abort", () => resolve(performance.now()), { once: true })
    );
    target.freeze();
    const frozenAt = performance.now();
    const at = await lost;
    assert.equal(guard.state, "lost");
    assert.equal((guard.signal.reason as Error).name, "LockLostError");
    assert.match((guard.signal.reason as Error).message, /no renewal succeeded/);
    assert.ok(
      at - frozenAt <= TTL + SLACK,
      `lost ${Math.round(at - frozenAt)} ms after the freeze`,
    );
    target.thaw();
    assert.equal(await guard.release().catch(() => "lost"), "lost");
  } finally {
    target.thaw();
    await mutex.close();
    await store.close();
    await target.close();
  }
});
