import assert from "node:assert/strict";
import { COUNTER_INC } from "../counter/_scripts.ts";
import { CounterOverflowError, InvalidArgumentError, StoreError } from "../core/errors.ts";
import {
  BoundedCaller,
  Breaker,
  DEFAULT_COMMAND_TIMEOUT_MS,
  DOWN,
  healthOf,
  isKnownDown,
  markReply,
  Resilience,
} from "./_resilience.ts";
import { MemoryStore } from "./memory_store.ts";
import { type EvalOptions, RedisStore } from "./redis_store.ts";
import { toStore } from "./to_store.ts";
import type { Store } from "./types.ts";

const lost = () => new StoreError("connection lost");

Deno.test("Breaker: up → down → probe due → one probe at a time → backoff doubles to its cap → up", () => {
  let now = 1000;
  const b = new Breaker(50, 300, () => now);
  assert.equal(b.admit(), "pass");
  assert.equal(b.down, false);
  assert.equal(b.retryInMs, 0);

  const cause = lost();
  b.failed(cause, false);
  assert.equal(b.down, true);
  assert.equal(b.retryInMs, 50);
  const early = b.admit();
  assert.ok(early instanceof StoreError);
  assert.ok(isKnownDown(early));
  assert.equal(early.cause, cause);
  assert.match(early.message, /known to be down.*connection lost.*next probe goes in 50 ms/);

  // Calls sent before it opened, failing now (a burst of timeouts), do not push the probe back.
  now += 10;
  b.failed(lost(), false);
  assert.equal(b.retryInMs, 40);

  now += 40; // due: exactly one probe
  assert.equal(b.admit(), "probe");
  const meanwhile = b.admit();
  assert.ok(meanwhile instanceof StoreError && /probe is in flight/.test(meanwhile.message));
  b.failed(lost(), true); // second failure in a row: 100 ms
  assert.equal(b.retryInMs, 100);
  now += 100;
  assert.equal(b.admit(), "probe");
  b.failed(lost(), true); // 200
  assert.equal(b.retryInMs, 200);
  now += 200;
  assert.equal(b.admit(), "probe");
  b.failed(lost(), true); // 400, capped at 300
  assert.equal(b.retryInMs, 300);
  now += 300;
  assert.equal(b.admit(), "probe");
  b.released(); // no verdict (closed): the next call probes again at once
  assert.equal(b.admit(), "probe");
  b.succeeded(true);
  assert.equal(b.down, false);
  assert.equal(b.retryInMs, 0);
  assert.equal(b.admit(), "pass");

  // After recovery the backoff starts over.
  b.failed(lost(), false);
  assert.equal(b.retryInMs, 50);
});

/** A call that settles when told to. */
function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((a, b) => [resolve, reject] = [a, b]);
  return { promise, resolve, reject };
}

Deno.test("Resilience: a hung call fails within the bound, the breaker then answers at once, one probe brings it back", async () => {
  let now = 0;
  const r = new Resilience({
    timeoutMs: 40,
    breaker: { firstProbeMs: 50, maxProbeMs: 1000 },
    now: () => now,
  });
  assert.equal(await r.run(() => Promise.resolve(1)), 1);
  const hung = deferred<number>();
  const t0 = performance.now();
  await assert.rejects(r.run(() => hung.promise), /did not answer within 40 ms/);
  assert.ok(performance.now() - t0 < 1000);
  assert.equal(r.down, true);
  hung.resolve(5); // a late reply is ignored

  let called = 0;
  const t1 = performance.now();
  const e = await r.run(() => (called++, Promise.resolve(2))).catch((e) => e);
  assert.ok(performance.now() - t1 < 5, "answered at once");
  assert.ok(isKnownDown(e) && e instanceof StoreError);
  assert.match(String((e.cause as Error).message), /did not answer within 40 ms/);
  assert.equal(called, 0);

  now = 50; // the probe is due; calls meanwhile are answered at once
  const probe = deferred<number>();
  const p = r.run(() => probe.promise);
  await assert.rejects(r.run(() => Promise.resolve(3)), (e) => isKnownDown(e));
  probe.resolve(4);
  assert.equal(await p, 4);
  assert.equal(r.down, false);
  assert.equal(await r.run(() => Promise.resolve(6)), 6);
  assert.equal(r.inFlight, 0);
});

Deno.test("Resilience: error replies and script refusals never open the breaker; a probe answered by one closes it", async () => {
  let now = 0;
  const r = new Resilience({
    timeoutMs: 0,
    breaker: { firstProbeMs: 10, maxProbeMs: 10 },
    now: () => now,
  });
  const reply = markReply(new StoreError("Redis call failed: ERR user_script:1: boom"));
  await assert.rejects(r.run(() => Promise.reject(reply)), /boom/);
  await assert.rejects(r.run(() => Promise.reject(markReply(new CounterOverflowError("x")))));
  await assert.rejects(r.run(() => Promise.reject(new TypeError("a bug"))), TypeError);
  assert.equal(r.down, false);
  await assert.rejects(r.run(() => Promise.reject(lost())), /connection lost/);
  assert.equal(r.down, true);
  now = 10;
  await assert.rejects(r.run(() => Promise.reject(reply)), /boom/); // the probe got an answer
  assert.equal(r.down, false);
  // A synchronous throw is judged like a rejection.
  await assert.rejects(
    r.run(() => {
      throw lost();
    }),
    /connection lost/,
  );
  assert.equal(r.down, true);
});

Deno.test("Resilience.sent: a call sent while up is bounded, and its failure opens the breaker; an error reply does not", async () => {
  const r = new Resilience({ timeoutMs: 30, breaker: { firstProbeMs: 1000, maxProbeMs: 1000 } });
  assert.equal(r.up, true);
  assert.equal(await r.sent(Promise.resolve(5)), 5);
  await assert.rejects(r.sent(Promise.reject(markReply(new StoreError("ERR boom")))), /boom/);
  assert.equal(r.up, true);
  const t = performance.now();
  const silent = r.sent(new Promise<never>(() => {}));
  await assert.rejects(silent, (e) => e instanceof StoreError && /within 30 ms/.test(e.message));
  assert.ok(performance.now() - t < 1000);
  assert.equal(r.up, false);
  assert.equal(r.down, true);
  assert.equal(r.inFlight, 0);
  // Down: calls go through run(), which answers at once until a probe is due.
  await assert.rejects(r.run(() => Promise.resolve(1)), (e) => isKnownDown(e));
});

Deno.test("Resilience.sent without a breaker: only the bound", async () => {
  const r = new Resilience({ timeoutMs: 20, breaker: false });
  await assert.rejects(r.sent(Promise.reject(lost())), /connection lost/);
  assert.equal(r.up, true);
  await assert.rejects(r.sent(new Promise<never>(() => {})), /within 20 ms/);
  assert.equal(r.up, true);
  const unbounded = new Resilience({ timeoutMs: 0, breaker: false });
  const p = Promise.resolve(7);
  assert.equal(unbounded.sent(p), p);
});

Deno.test("Resilience: without a breaker every call gets its own bound", async () => {
  const r = new Resilience({ timeoutMs: 20, breaker: false });
  const hung = new Promise<never>(() => {});
  await assert.rejects(r.run(() => hung), /within 20 ms/);
  assert.equal(r.down, false);
  await assert.rejects(r.run(() => hung), /within 20 ms/);
});

Deno.test("Resilience: a subscription made after its caller gave up is undone", async () => {
  const r = new Resilience({ timeoutMs: 20, breaker: false });
  const made = deferred<() => Promise<void>>();
  let undone = 0;
  await assert.rejects(r.subscribe(() => made.promise), /within 20 ms/);
  made.resolve(() => (undone++, Promise.resolve()));
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert.equal(undone, 1);
  // A hung unsubscription is bounded too, and never rejects.
  const unsub = await r.subscribe(() => Promise.resolve(() => new Promise<void>(() => {})));
  await unsub();
});

/** A raw client whose calls never answer (a frozen server), counting what it was sent. */
function silentClient() {
  const client = {
    sent: 0,
    evalSha: (_sha: string, _o: EvalOptions) => (client.sent++, new Promise<never>(() => {})),
    eval: () => new Promise<never>(() => {}),
    sSubscribe: () => new Promise<never>(() => {}),
    sUnsubscribe: () => Promise.resolve(),
  };
  return client;
}

Deno.test("a raw client wrapped by toStore gets the default bound and breaker", async () => {
  const client = silentClient();
  const store = toStore(client);
  try {
    const t0 = performance.now();
    await assert.rejects(
      store.run(COUNTER_INC, ["k"], [1]),
      (e) => e instanceof StoreError && /within 2000 ms/.test(e.message),
    );
    const ms = performance.now() - t0;
    assert.ok(
      ms >= DEFAULT_COMMAND_TIMEOUT_MS - 5 && ms < DEFAULT_COMMAND_TIMEOUT_MS + 1000,
      `${ms}`,
    );
    assert.equal(healthOf(store)?.down, true);
    const t1 = performance.now();
    await assert.rejects(store.run(COUNTER_INC, ["k"], [1]), (e) => isKnownDown(e));
    await assert.rejects(store.subscribe("{k}:ch", () => {}), (e) => isKnownDown(e));
    assert.ok(performance.now() - t1 < 5);
    assert.equal(client.sent, 1);
  } finally {
    await store.close();
  }
});

Deno.test("RedisStore validates commandTimeoutMs and breaker", async () => {
  const client = silentClient();
  const bad: unknown[] = [
    { commandTimeoutMs: -1 },
    { commandTimeoutMs: 1.5 },
    { commandTimeoutMs: 3_600_001 },
    { commandTimeoutMs: "5" },
    { breaker: "yes" },
    { breaker: null },
    { breaker: { firstProbeMs: 0 } },
    { breaker: { firstProbeMs: 100, maxProbeMs: 50 } },
    { breaker: { maxProbeMs: Infinity } },
  ];
  for (const o of bad) {
    assert.throws(
      () => new RedisStore(client, o as never),
      (e) => e instanceof InvalidArgumentError && /commandTimeoutMs|breaker/.test(e.message),
      JSON.stringify(o),
    );
  }
  for (
    const o of [{ commandTimeoutMs: 0, breaker: false }, { breaker: { firstProbeMs: 2000 } }, {
      breaker: true,
    }]
  ) {
    await new RedisStore(client, o).close();
  }
});

Deno.test("BoundedCaller: its own tighter bound answers DOWN and opens the store's breaker; MemoryStore is never down", async () => {
  const client = silentClient();
  const store = new RedisStore(client, { commandTimeoutMs: 5000 });
  const errors: StoreError[] = [];
  try {
    const c = new BoundedCaller(store, 30, false, (e) => errors.push(e));
    assert.equal(await c.run(() => store.run(COUNTER_INC, ["k"], [1])), DOWN);
    assert.equal(c.down, true);
    assert.ok(c.retryInMs > 0 && c.retryInMs <= 50);
    assert.equal(errors.length, 1);
    // The store answers at once now, for every caller; not reported again.
    const t0 = performance.now();
    await assert.rejects(store.run(COUNTER_INC, ["k"], [1]), (e) => isKnownDown(e));
    assert.equal(await c.run(() => store.run(COUNTER_INC, ["k"], [1])), DOWN);
    assert.ok(performance.now() - t0 < 5);
    assert.equal(errors.length, 1);
    const thrower = new BoundedCaller(store, 30, true, () => {});
    await assert.rejects(
      thrower.run(() => store.run(COUNTER_INC, ["k"], [1])),
      /Rate-limit store unreachable: The store is known to be down/,
    );
  } finally {
    await store.close();
  }
  const memory = new MemoryStore();
  assert.equal(healthOf(memory)?.down, false);
  assert.equal(new BoundedCaller(memory, 30, false, () => {}).retryInMs, 0);
  await memory.close();
});

Deno.test("BoundedCaller on a Store implemented elsewhere: one breaker per store, shared by its callers", async () => {
  const memory = new MemoryStore();
  let fail = true;
  let calls = 0;
  const foreign: Store = {
    isDistkitStore: true,
    run: (s, k, a) => (calls++, fail ? Promise.reject(lost()) : memory.run(s, k, a)),
    subscribe: (c, l) => memory.subscribe(c, l),
    close: () => Promise.resolve(),
    [Symbol.asyncDispose]: () => Promise.resolve(),
  };
  const a = new BoundedCaller(foreign, 1000, false, () => {});
  const b = new BoundedCaller(foreign, 1000, false, () => {});
  assert.equal(await a.run(() => foreign.run(COUNTER_INC, ["k"], [1])), DOWN);
  assert.equal(calls, 1);
  assert.equal(b.down, true);
  assert.equal(await b.run(() => foreign.run(COUNTER_INC, ["k"], [1])), DOWN);
  assert.equal(calls, 1); // answered by the breaker
  fail = false;
  await new Promise((resolve) => setTimeout(resolve, 60));
  assert.notEqual(await b.run(() => foreign.run(COUNTER_INC, ["k"], [1])), DOWN);
  assert.equal(a.down, false);
  await memory.close();
});

Deno.test("Resilience: a refused subscription does not open the breaker, a timed-out one does; a probe is bounded even when calls are not", async () => {
  let now = 0;
  const r = new Resilience({
    timeoutMs: 30,
    breaker: { firstProbeMs: 10, maxProbeMs: 10 },
    now: () => now,
  });
  await assert.rejects(
    r.subscribe(() => Promise.reject(new StoreError("Cannot subscribe: unknown command"))),
    /unknown command/,
  );
  assert.equal(r.down, false);
  await assert.rejects(r.subscribe(() => new Promise(() => {})), /within 30 ms/);
  assert.equal(r.down, true);

  // Unbounded calls (commandTimeoutMs: 0): a hung probe still frees the probe slot.
  const u = new Resilience({
    timeoutMs: 0,
    breaker: { firstProbeMs: 1, maxProbeMs: 1 },
    now: () => now,
  });
  u.failed(lost());
  now += 1;
  const t0 = performance.now();
  await assert.rejects(u.run(() => new Promise(() => {})), /within 2000 ms/);
  assert.ok(performance.now() - t0 >= 1990);
  now += 1;
  assert.equal(await u.run(() => Promise.resolve(7)), 7);
  assert.equal(u.down, false);
});
