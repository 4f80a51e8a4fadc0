import assert from "node:assert/strict";
import {
  InvalidArgumentError,
  InvalidKeyError,
  type LockOptions,
  MemoryStore,
  Mutex,
  RwLock,
} from "../../mod.ts";
import { storeTest } from "../_support/stores.ts";
import { traces } from "./_helpers.ts";

Deno.test("Mutex/RwLock options: documented defaults", () => {
  const store = new MemoryStore();
  for (const lock of [new Mutex({ key: "k", store }), new RwLock({ key: "k", store })]) {
    assert.equal(lock.key, "k");
    assert.equal(lock.namespace, "distkit-locks");
    assert.equal(lock.ttlMs, 30_000);
    assert.equal(lock.maxWaitMs, undefined);
    assert.equal(lock.retryIntervalMs, 50);
    assert.ok(lock.ownerId.length > 0);
  }
  assert.notEqual(new Mutex({ key: "k", store }).ownerId, new Mutex({ key: "k", store }).ownerId);
});

Deno.test("Mutex/RwLock options: every field can be overridden", () => {
  const store = new MemoryStore();
  const o: LockOptions = {
    key: "k",
    store,
    namespace: "ns",
    ttlMs: 500,
    ownerId: "host-1:42",
    maxWaitMs: 250,
    retryIntervalMs: 5,
  };
  for (const lock of [new Mutex(o), new RwLock(o)]) {
    assert.deepEqual(
      [lock.namespace, lock.ttlMs, lock.ownerId, lock.maxWaitMs, lock.retryIntervalMs],
      ["ns", 500, "host-1:42", 250, 5],
    );
  }
});

Deno.test("Mutex/RwLock options: bad input throws before any I/O", () => {
  const store = new MemoryStore();
  const bad: Array<[Partial<LockOptions>, typeof InvalidKeyError | typeof InvalidArgumentError]> = [
    [{ key: "" }, InvalidKeyError],
    [{ key: "x".repeat(256) }, InvalidKeyError],
    [{ key: "\uD800x" }, InvalidKeyError],
    [{ key: 42 as unknown as string }, InvalidKeyError],
    [{ namespace: "é".repeat(128) }, InvalidKeyError],
    [{ namespace: "" }, InvalidKeyError],
    [{ ttlMs: 0 }, InvalidArgumentError],
    [{ ttlMs: NaN }, InvalidArgumentError],
    [{ ttlMs: -1 }, InvalidArgumentError],
    [{ ttlMs: 1.5 }, InvalidArgumentError],
    [{ ttlMs: Infinity }, InvalidArgumentError],
    [{ ttlMs: 2 ** 31 }, InvalidArgumentError],
    [{ maxWaitMs: -1 }, InvalidArgumentError],
    [{ maxWaitMs: NaN }, InvalidArgumentError],
    [{ retryIntervalMs: 0 }, InvalidArgumentError],
    [{ retryIntervalMs: -5 }, InvalidArgumentError],
    [{ ownerId: "" }, InvalidArgumentError],
    [{ ownerId: "host\uD800" }, InvalidArgumentError],
    [{ ownerId: 7 as unknown as string }, InvalidArgumentError],
    [{ ownerId: "é".repeat(201) }, InvalidArgumentError],
    [{ store: undefined as unknown as MemoryStore }, InvalidArgumentError],
    [{ store: {} as unknown as MemoryStore }, InvalidArgumentError],
  ];
  for (const [patch, cls] of bad) {
    const o = { key: "k", store, ...patch } as LockOptions;
    assert.throws(() => new Mutex(o), cls, JSON.stringify(patch));
    assert.throws(() => new RwLock(o), cls, JSON.stringify(patch));
  }
  assert.throws(() => new Mutex(null as unknown as LockOptions), InvalidArgumentError);
  assert.deepEqual(store.db.dump(), []);
});

storeTest("Mutex/RwLock bad call arguments reject before any I/O", async (fx) => {
  const m = new Mutex({ key: fx.prefix, store: fx.store });
  const rw = new RwLock({ key: fx.prefix, store: fx.store });
  const badMs = [-1, NaN, 1.5, Infinity, "10" as unknown as number];
  for (const ms of badMs) {
    await assert.rejects(m.tryLockWithTimeout(ms), InvalidArgumentError);
    await assert.rejects(m.tryLockWithRetries(ms), InvalidArgumentError);
    await assert.rejects(m.lock({ timeoutMs: ms }), InvalidArgumentError);
    await assert.rejects(rw.tryReadWithTimeout(ms), InvalidArgumentError);
    await assert.rejects(rw.tryWriteWithTimeout(ms), InvalidArgumentError);
    await assert.rejects(rw.tryReadWithRetries(ms), InvalidArgumentError);
    await assert.rejects(rw.tryWriteWithRetries(ms), InvalidArgumentError);
    await assert.rejects(rw.read({ timeoutMs: ms }), InvalidArgumentError);
    await assert.rejects(rw.write({ timeoutMs: ms }), InvalidArgumentError);
  }
  await assert.rejects(
    m.lock({ signal: "no" as unknown as AbortSignal }),
    InvalidArgumentError,
  );
  assert.deepEqual(await traces(fx, fx.prefix, "mutex"), {});
  assert.deepEqual(await traces(fx, fx.prefix, "rw"), {});
});
