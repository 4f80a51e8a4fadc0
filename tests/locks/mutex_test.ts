import assert from "node:assert/strict";
import {
  LockLostError,
  LockRetriesExhaustedError,
  LockTimeoutError,
  MemoryStore,
  Mutex,
  type MutexGuard,
} from "../../mod.ts";
import { routeOf, WaitHub } from "../../locks/_hub.ts";
import { grantChannel, lockKeys, releaseOnce } from "../../locks/_remote.ts";
import type { Script, Store, Unsubscribe } from "../../store/types.ts";
import { storeTest } from "../_support/stores.ts";
import { waitFor } from "../_support/wait.ts";
import { keyOf, rawDel, rejects, traces, untilParts, zmembers } from "./_helpers.ts";
import { sleep } from "../_support/wait.ts";

storeTest("Mutex.tryLock() excludes a second owner", async (fx) => {
  const a = new Mutex({ key: fx.prefix, store: fx.store });
  const b = new Mutex({ key: fx.prefix, store: await fx.another() });
  await using g = await a.tryLock();
  assert.ok(g !== null);
  assert.equal(await b.tryLock(), null);
  assert.equal(await a.tryLock(), null, "not re-entrant: each acquisition has its own token");
});

storeTest("Mutex.lock() waits, then succeeds once the holder releases", async (fx) => {
  const a = new Mutex({ key: fx.prefix, store: fx.store });
  const b = new Mutex({ key: fx.prefix, store: await fx.another() });
  const g = await a.lock();
  let got = false;
  const waiting = b.lock().then((g2) => (got = true, g2));
  await sleep(40);
  assert.equal(got, false);
  await g.release();
  await using g2 = await waiting;
  assert.ok(g2.onAttempt >= 1);
  assert.ok(g2.fencingToken > g.fencingToken);
});

storeTest("Mutex.tryLockWithTimeout() times out while held", async (fx) => {
  const a = new Mutex({ key: fx.prefix, store: fx.store });
  const b = new Mutex({ key: fx.prefix, store: await fx.another() });
  await using _g = await a.lock();
  const e = await rejects(b.tryLockWithTimeout(60), LockTimeoutError);
  assert.equal(e.code, "LOCK_TIMEOUT");
  assert.ok(e.waitedMs >= 55, `waited ${e.waitedMs}`);
  const e0 = await rejects(b.tryLockWithTimeout(0), LockTimeoutError);
  assert.ok(e0.waitedMs < 1000);
  await untilParts(fx, fx.prefix, "mutex", ["fence", "lease"]);
});

storeTest("Mutex.lock() is bounded by maxWaitMs and opts.timeoutMs", async (fx) => {
  const a = new Mutex({ key: fx.prefix, store: fx.store });
  const b = new Mutex({ key: fx.prefix, store: await fx.another(), maxWaitMs: 50 });
  await using _g = await a.lock();
  await rejects(b.lock(), LockTimeoutError);
  const e = await rejects(b.lock({ timeoutMs: 10 }), LockTimeoutError);
  assert.ok(e.waitedMs < 50 + 500);
  await untilParts(fx, fx.prefix, "mutex", ["fence", "lease"]);
});

storeTest("Mutex guard release() frees the lock; dispose does too", async (fx) => {
  const a = new Mutex({ key: fx.prefix, store: fx.store });
  const b = new Mutex({ key: fx.prefix, store: await fx.another() });
  const g = await a.lock();
  assert.equal(await g.release(), "released");
  assert.equal(g.state, "released");
  assert.equal(await g.release(), "released", "idempotent");
  {
    await using g2 = await b.tryLock();
    assert.ok(g2 !== null);
  }
  await using g3 = await a.tryLock();
  assert.ok(g3 !== null, "disposal released it");
});

storeTest("Mutex guard renews its lease past ttlMs", async (fx) => {
  // ttlMs 1,200: a renewal falls due every 400 ms and the guard gives up 1,080 ms after the last
  // one it saw succeed, so only a stall of some 680 ms could lose it (with 600 ms, a loaded CI
  // machine lost a lease this way once); 1,500 ms outlasts the ttl: only renewals keep it.
  const a = new Mutex({ key: fx.prefix, store: fx.store, ttlMs: 1200 });
  const b = new Mutex({ key: fx.prefix, store: await fx.another() });
  await using g = await a.lock();
  await sleep(1500);
  assert.equal(g.state, "acquired");
  assert.equal(g.signal.aborted, false);
  assert.equal(await b.tryLock(), null);
  const t = await traces(fx, fx.prefix, "mutex");
  assert.ok(t.lease! > 0 && t.lease! <= 1200, `lease pttl ${t.lease}`);
  assert.equal(t.fence, -1, "the fence counter never expires");
});

storeTest("Mutex guard onAttempt is 0 uncontended, >= 1 under contention", async (fx) => {
  const a = new Mutex({ key: fx.prefix, store: fx.store });
  const g = await a.lock();
  assert.equal(g.onAttempt, 0);
  assert.equal(g.state, "acquired");
  const waiting = a.lock();
  await sleep(30);
  await g.release();
  await using g2 = await waiting;
  assert.ok(g2.onAttempt >= 1);
});

storeTest("Mutex guard turns lost when the lease is deleted; release reports it", async (fx) => {
  const a = new Mutex({ key: fx.prefix, store: fx.store, ttlMs: 150 });
  const g = await a.lock();
  await rawDel(fx, keyOf(fx.prefix, "mutex", "lease"));
  await waitFor(() => g.state === "lost", { timeoutMs: 1000, message: "lost" });
  assert.ok(g.signal.aborted);
  assert.ok(g.signal.reason instanceof LockLostError);
  assert.match(g.signal.reason.message, /^Lock '.*' was lost: /);
  assert.equal(g.signal.reason.code, "LOCK_LOST");
  // A stale guard can never release a newer one.
  await using g2 = await a.lock();
  assert.equal(await g.release(), "lost");
  assert.equal(g2.state, "acquired");
  assert.equal(await a.tryLock(), null, "g2 still holds");
});

storeTest("Mutex fencing tokens increase strictly across holders", async (fx) => {
  const a = new Mutex({ key: fx.prefix, store: fx.store });
  const b = new Mutex({ key: fx.prefix, store: await fx.another() });
  let last = 0;
  for (let i = 0; i < 6; i++) {
    const g = await (i % 2 ? a : b).lock();
    assert.ok(g.fencingToken > last);
    last = g.fencingToken;
    await g.release();
  }
});

storeTest("Mutex.tryLockWithRetries() makes n + 1 attempts", async (fx) => {
  const a = new Mutex({ key: fx.prefix, store: fx.store });
  const b = new Mutex({ key: fx.prefix, store: await fx.another(), retryIntervalMs: 5 });
  const g = await a.lock();
  const e = await rejects(b.tryLockWithRetries(3), LockRetriesExhaustedError);
  assert.equal(e.retries, 3);
  await untilParts(fx, fx.prefix, "mutex", ["fence", "lease"]);
  const waiting = b.tryLockWithRetries(1000);
  await sleep(20);
  await g.release();
  await using g2 = await waiting;
  assert.ok(g2.onAttempt >= 1);
});

storeTest("Mutex.lock() aborted by its signal leaves no trace", async (fx) => {
  const a = new Mutex({ key: fx.prefix, store: fx.store });
  const bStore = await fx.another();
  const b = new Mutex({ key: fx.prefix, store: bStore });
  await using _g = await a.lock();
  const ctrl = new AbortController();
  const waiting = b.lock({ signal: ctrl.signal });
  await waitFor(async () => (await zmembers(fx, keyOf(fx.prefix, "mutex", "queue"))).length === 1, {
    timeoutMs: 2000,
    message: "queued",
  });
  const t = await traces(fx, fx.prefix, "mutex");
  assert.ok(t.queue! > 0 && t["queue-exp"]! > 0, "queue keys expire");
  const reason = new Error("stop");
  ctrl.abort(reason);
  await assert.rejects(waiting, (e) => e === reason);
  await untilParts(fx, fx.prefix, "mutex", ["fence", "lease"]);
  assert.equal(WaitHub.count(bStore), 0);
  if (fx.memory) assert.equal(fx.memory.subscriptionCount, 0);
  // An already-aborted signal rejects before any I/O.
  await assert.rejects(b.lock({ signal: AbortSignal.abort(reason) }), (e) => e === reason);
});

storeTest("Mutex.lock() that times out leaves the queue at once", async (fx) => {
  const a = new Mutex({ key: fx.prefix, store: fx.store });
  const b = new Mutex({ key: fx.prefix, store: await fx.another() });
  const c = new Mutex({ key: fx.prefix, store: await fx.another() });
  const g = await a.lock();
  await rejects(b.lock({ timeoutMs: 80 }), LockTimeoutError);
  // The timeout settles within its bound, and its clean-up gets only a short grace before it: on
  // a loaded machine the entry's removal may land just after. Either way it goes long before the
  // entry would lapse by itself (queueMs, 3.25 s here).
  await waitFor(async () => (await zmembers(fx, keyOf(fx.prefix, "mutex", "queue"))).length === 0, {
    timeoutMs: 1000,
    message: "the timed-out waiter's queue entry removed",
  });
  await g.release();
  await using g2 = await c.tryLock();
  assert.ok(g2 !== null, "nobody is queued ahead");
});

storeTest("Mutex waiters are served first come, first served", async (fx) => {
  const holder = new Mutex({ key: fx.prefix, store: fx.store });
  const g = await holder.lock();
  const order: number[] = [];
  const waits: Promise<void>[] = [];
  for (let i = 0; i < 3; i++) {
    const m = new Mutex({ key: fx.prefix, store: await fx.another() });
    waits.push(
      m.lock().then(async (gi) => {
        order.push(i);
        await sleep(5);
        await gi.release();
      }),
    );
    await waitFor(
      async () => (await zmembers(fx, keyOf(fx.prefix, "mutex", "queue"))).length === i + 1,
      { timeoutMs: 2000, message: "queued" },
    );
  }
  // A one-shot attempt does not jump the queue.
  await g.release();
  await Promise.all(waits);
  assert.deepEqual(order, [0, 1, 2]);
  assert.deepEqual(Object.keys(await traces(fx, fx.prefix, "mutex")), ["fence"]);
});

storeTest("Mutex hand-off comes by pub/sub, not by polling", async (fx) => {
  const a = new Mutex({ key: fx.prefix, store: fx.store });
  const b = new Mutex({ key: fx.prefix, store: await fx.another(), retryIntervalMs: 60_000 });
  const g = await a.lock();
  const waiting = b.lock();
  await waitFor(async () => (await zmembers(fx, keyOf(fx.prefix, "mutex", "queue"))).length === 1, {
    timeoutMs: 2000,
    message: "queued",
  });
  await sleep(20); // let the post-subscribe attempt settle
  const t0 = performance.now();
  await g.release();
  await using _g2 = await waiting;
  const ms = performance.now() - t0;
  assert.ok(ms < 500, `hand-off took ${ms} ms`);
});

storeTest("Mutex waiters of one process share one subscription", async (fx) => {
  const a = new Mutex({ key: fx.prefix, store: fx.store });
  const bStore = await fx.another();
  const g = await a.lock();
  const waits = [];
  for (let i = 0; i < 5; i++) {
    waits.push(new Mutex({ key: fx.prefix, store: bStore }).lock());
  }
  await waitFor(async () => (await zmembers(fx, keyOf(fx.prefix, "mutex", "queue"))).length === 5, {
    timeoutMs: 2000,
    message: "queued",
  });
  await waitFor(() => WaitHub.count(bStore) === 1, { timeoutMs: 2000, message: "one hub" });
  // Its subscription active (a hub still subscribing when its last waiter leaves is closed, not
  // kept: on a loaded machine GLIDE's confirmation came after the waiters were served).
  const channel = lockKeys("distkit-locks", fx.prefix, "mutex").channel;
  await waitFor(() => WaitHub.ready(bStore, channel) !== undefined, {
    timeoutMs: 5000,
    message: "subscribed",
  });
  // One hub: the lock's channel and this process's grant channel.
  if (fx.memory) assert.equal(fx.memory.subscriptionCount, 2);
  await g.release();
  for (const w of waits) await (await w).release();
  assert.equal(WaitHub.count(bStore), 1, "idle after a success, kept for the next wait");
  if (fx.memory) assert.equal(fx.memory.subscriptionCount, 2);
  // The next wait on this lock parks on the idle subscription; a timeout then drops it.
  const g2 = await a.lock();
  await rejects(
    new Mutex({ key: fx.prefix, store: bStore }).lock({ timeoutMs: 30 }),
    LockTimeoutError,
  );
  assert.equal(WaitHub.count(bStore), 0);
  if (fx.memory) assert.equal(fx.memory.subscriptionCount, 0);
  await g2.release();
}, { pubsub: true });

Deno.test("Mutex on MemoryStore: a crashed holder's lease expires by itself", async () => {
  let now = 1_000_000;
  const store = new MemoryStore({ now: () => now });
  const m = new Mutex({ key: "k", store, ttlMs: 1000 });
  // A holder that never renews: take the lease through the script with a throwaway guard.
  const g = await m.tryLock();
  assert.ok(g !== null);
  await g.release();
  const crashed = await m.tryLock(); // will be "crashed": we move time past its ttl
  assert.ok(crashed !== null);
  now += 1001;
  await using g2 = await m.tryLock();
  assert.ok(g2 !== null, "the expired lease no longer blocks");
  assert.ok(g2.fencingToken > crashed.fencingToken);
  await crashed.release();
});

/** A store whose lock_acquire calls wait at a gate (before running) while `hold` is set. */
class GateStore implements Store {
  readonly isDistkitStore = true as const;
  hold = false;
  held = 0;
  /** The scripts run, in order. */
  names: string[] = [];
  #open: Array<() => void> = [];
  constructor(readonly inner: Store) {}
  async run(script: Script, keys: readonly string[], argv: readonly (string | number)[]) {
    this.names.push(script.name);
    if (this.hold && script.name === "lock_acquire") {
      this.held++;
      await new Promise<void>((resolve) => this.#open.push(resolve));
    }
    return await this.inner.run(script, keys, argv);
  }
  openGate(): void {
    this.hold = false;
    for (const f of this.#open.splice(0)) f();
  }
  subscribe(channel: string, listener: (message: string) => void): Promise<Unsubscribe> {
    return this.inner.subscribe(channel, listener);
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
  [Symbol.asyncDispose](): Promise<void> {
    return Promise.resolve();
  }
}

Deno.test("Mutex: a renewal that falls due while the release is in flight sends nothing", async () => {
  const store = new MemoryStore();
  const gate = new GateStore(store);
  let open!: () => void;
  const slow = Object.assign(Object.create(gate) as GateStore, {
    async run(script: Script, keys: readonly string[], argv: readonly (string | number)[]) {
      if (script.name === "lock_release") await new Promise<void>((r) => open = r);
      return await gate.run(script, keys, argv);
    },
  });
  const g = await new Mutex({ key: "k", store: slow, ttlMs: 30 }).lock(); // renews every 10 ms
  const released = g.release();
  await sleep(35); // three renewals would have fallen due
  open();
  assert.equal(await released, "lost", "the lease lapsed while the release waited");
  assert.deepEqual(gate.names, ["lock_acquire", "lock_release"], "no renewal after release()");
});

Deno.test("Mutex: an attempt that lands after a grant keeps the granted lease", async () => {
  const store = new MemoryStore();
  const gate = new GateStore(store);
  const holder = new Mutex({ key: "k", store });
  const waiter = new Mutex({ key: "k", store: gate, retryIntervalMs: 1 });
  const g = await holder.lock();
  const waiting = waiter.lock();
  await waitFor(() => store.db.zcard(keyOf("k", "mutex", "queue")) === 1, {
    timeoutMs: 2000,
    message: "queued",
  });
  gate.hold = true; // the next poll's attempt waits at the gate
  await waitFor(() => gate.held > 0, { timeoutMs: 2000, message: "an attempt in flight" });
  await g.release(); // hands the lease to the waiter, by message
  const granted = await waiting;
  gate.openGate(); // the attempt now runs and finds the lease already ours
  await sleep(20);
  assert.equal(granted.state, "acquired");
  assert.equal(await holder.tryLock(), null, "the granted lease was not released");
  assert.equal(await granted.release(), "released");
});

Deno.test("Mutex: a hand-off anchors the guard on the waiter's own recent attempt, with no extra call", async () => {
  const store = new MemoryStore();
  const gate = new GateStore(store);
  const holder = new Mutex({ key: "k", store });
  const waiter = new Mutex({ key: "k", store: gate, ttlMs: 3000, retryIntervalMs: 60_000 });
  const g = await holder.lock();
  const waiting = waiter.lock();
  await waitFor(() => store.db.zcard(keyOf("k", "mutex", "queue")) === 1, {
    timeoutMs: 2000,
    message: "queued",
  });
  // Its first attempt queued it; a second one follows once its subscription is active.
  await waitFor(() => gate.names.length === 2, { timeoutMs: 2000, message: "both attempts" });
  const before = gate.names.length;
  await g.release();
  await using granted = await waiting;
  assert.equal(granted.state, "acquired");
  await sleep(50); // far from the first renewal (ttl/3 = 1 s): any call now would be extra
  assert.deepEqual(gate.names.slice(before), [], "resolved from the grant alone, nothing after");
});

Deno.test("Mutex: a hand-off whose waiter's last attempt is older than a renewal interval confirms the lease first", async () => {
  const store = new MemoryStore();
  const gate = new GateStore(store);
  const holder = new Mutex({ key: "k", store });
  // ttlMs 300 (renewals every 100 ms): wide enough that a loaded machine's stalls cannot lapse
  // the granted lease, short enough to wait past.
  const waiter = new Mutex({ key: "k", store: gate, ttlMs: 300, retryIntervalMs: 60_000 });
  const g = await holder.lock();
  const waiting = waiter.lock();
  await waitFor(() => store.db.zcard(keyOf("k", "mutex", "queue")) === 1, {
    timeoutMs: 2000,
    message: "queued",
  });
  await sleep(400); // older than ttlMs: anchoring on that attempt would presume the lease lost
  const before = gate.names.length;
  await g.release();
  await using granted = await waiting;
  assert.equal(gate.names[before], "lock_acquire", "an attempt confirmed the granted lease");
  await sleep(600); // two renewal intervals past the grant
  assert.equal(granted.state, "acquired", "anchored on the confirming attempt, and renewed");
});

Deno.test("Mutex: a grant that arrives after its lease lapsed and another owner took the lock is not a win", async () => {
  // The grant message is held back past the waiter's ttl. Meanwhile the granted lease lapses and
  // a third owner takes the lock. When the late grant arrives, the waiter must confirm, find the
  // lock taken, and keep waiting for its real turn.
  const store = new MemoryStore();
  let delayGrants = true;
  const late: Array<() => void> = [];
  const slowPubSub = new GateStore(store);
  slowPubSub.subscribe = (channel, listener) =>
    store.subscribe(channel, (m) => {
      if (delayGrants && m.startsWith("g ")) late.push(() => listener(m));
      else listener(m);
    });
  const holder = new Mutex({ key: "k", store });
  const waiter = new Mutex({ key: "k", store: slowPubSub, ttlMs: 60, retryIntervalMs: 60_000 });
  const third = new Mutex({ key: "k", store });
  const g = await holder.lock();
  let won = false;
  const waiting = waiter.lock().then((w) => (won = true, w));
  // Queued by its first attempt; a second one follows once its subscription is active.
  await waitFor(() => slowPubSub.names.length === 2, { timeoutMs: 2000, message: "both attempts" });
  // The holder releases from another process: it grants the lease (ttl 60 ms) to the waiter,
  // and only the message, held back, can tell the waiter so.
  const keys = lockKeys("distkit-locks", "k", "mutex");
  assert.ok((await releaseOnce(store, keys, "write", store.db.get(keys.lease)!)).held);
  await waitFor(() => late.length === 1, { timeoutMs: 2000, message: "the grant" });
  let taken: MutexGuard | null = null;
  await waitFor(async () => (taken = await third.tryLock()) !== null, {
    timeoutMs: 2000,
    message: "the lapsed lease",
  });
  delayGrants = false;
  for (const deliver of late.splice(0)) deliver();
  await sleep(50);
  assert.equal(won, false, "the stale grant did not make the waiter a holder");
  const thirdFence = taken!.fencingToken;
  await taken!.release();
  const w = await waiting;
  assert.ok(w.fencingToken > thirdFence, "the waiter's real turn came after the third owner's");
  assert.equal(await w.release(), "released");
  assert.equal(await g.release(), "lost", "the holder's guard: released elsewhere");
});

Deno.test("Mutex: a hand-off to a waiter of the same process needs no pub/sub message", async () => {
  const store = new MemoryStore();
  const deaf = new GateStore(store); // hears no grant message
  deaf.subscribe = (channel, listener) =>
    store.subscribe(channel, (m) => m.startsWith("g ") ? undefined : listener(m));
  const holder = new Mutex({ key: "k", store });
  const waiter = new Mutex({ key: "k", store: deaf, retryIntervalMs: 60_000 });
  const g = await holder.lock();
  let granted = false;
  const waiting = waiter.lock().then((w) => (granted = true, w));
  await waitFor(() => deaf.names.length === 2, { timeoutMs: 2000, message: "both attempts" });
  const before = deaf.names.length;
  await g.release(); // its reply names the grant; the waiter is told at once
  await waitFor(() => granted, {
    timeoutMs: 200,
    message: "the grant, with the next poll a minute away",
  });
  await using w = await waiting;
  assert.equal(w.state, "acquired");
  assert.deepEqual(deaf.names.slice(before), [], "no attempt was needed");
});

storeTest("Mutex uncontended acquisitions and releases publish nothing", async (fx) => {
  const a = new Mutex({ key: fx.prefix, store: fx.store });
  const bStore = await fx.another();
  const b = new Mutex({ key: fx.prefix, store: bStore, retryIntervalMs: 60_000 });
  const got: string[] = [];
  const grants: string[] = [];
  const channel = lockKeys("distkit-locks", fx.prefix, "mutex").channel;
  // One connection for both channels: it receives messages in publish order.
  const unsubscribes = [
    await fx.store.subscribe(channel, (m) => got.push(m)),
    await fx.store.subscribe(grantChannel(channel, routeOf(bStore)), (m) => grants.push(m)),
  ];
  const unsubscribe = async () => {
    for (const u of unsubscribes) await u();
  };
  try {
    const handOff = async () => {
      const g = await a.lock();
      const waiting = b.lock();
      await waitFor(
        async () => (await zmembers(fx, keyOf(fx.prefix, "mutex", "queue"))).length === 1,
        { timeoutMs: 2000, message: "queued" },
      );
      await g.release(); // publishes the grant
      await (await waiting).release(); // nobody waits: silent
    };
    for (let i = 0; i < 3; i++) await (await a.tryLock())!.release();
    await handOff();
    for (let i = 0; i < 3; i++) await (await a.lock()).release();
    await handOff(); // a connection keeps its order: a stray message would arrive before this grant
    await waitFor(() => grants.length >= 2, { timeoutMs: 2000, message: "two grants" });
    await sleep(20);
    assert.equal(grants.length, 2, grants.join(", "));
    assert.ok(grants.every((m) => m.startsWith("g ")), grants.join(", "));
    assert.deepEqual(got, [], "grants go to the grantee's route, not to every waiter");
  } finally {
    await unsubscribe();
  }
}, { pubsub: true });
