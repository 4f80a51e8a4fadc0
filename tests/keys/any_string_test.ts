/**
 * Any string is a key, on every store: keys, prefixes, namespaces and instance ids holding `:`,
 * `{`, `}`, `%`, IP addresses, URLs, JSON and unicode are accepted, and strings that differ are
 * independent counters, locks and limits (`a:b`, `a%3Ab` and `a_b` never share anything).
 */
import assert from "node:assert/strict";
import { CounterOverflowError } from "../../core/errors.ts";
import { LaxCounter } from "../../counter/lax_counter.ts";
import { StrictCounter } from "../../counter/strict_counter.ts";
import { Mutex } from "../../locks/mutex.ts";
import { RwLock } from "../../locks/rw_lock.ts";
import { RateLimiter } from "../../ratelimit/rate_limiter.ts";
import { HARD_KEYS } from "../_support/keys.ts";
import { storeTest } from "../_support/stores.ts";
import { assertInvariant, Instances } from "../icounter/_support.ts";

/**
 * Prefix variants that a naive join would confuse with each other (and with keys); `}P` would
 * make a naive `{}P…}` name hash as a whole, each key of a call to its own cluster slot.
 */
const prefixesOf = (p: string) => [
  `}${p}`,
  p,
  `${p}:`,
  `${p}%3A`,
  `${p}:a`,
  `${p}%3Aa`,
  `${p}{x}`,
  `${p}}`,
];

storeTest("keys: counters with any string as key or prefix are independent", async (fx) => {
  for (const prefix of prefixesOf(fx.prefix)) {
    await using strict = new StrictCounter({ prefix, store: fx.store });
    await strict.incAll(HARD_KEYS.map((k, i) => [k, i + 1]));
  }
  // Every prefix holds its own counters; the lax counter of a prefix shares them.
  for (const [j, prefix] of prefixesOf(fx.prefix).entries()) {
    await using strict = new StrictCounter({ prefix, store: fx.store });
    await using lax = new LaxCounter({ prefix, store: fx.store });
    await strict.inc(HARD_KEYS[0]!, 100 * j);
    const want = HARD_KEYS.map((k, i): [string, number] => [k, i + 1 + (i === 0 ? 100 * j : 0)]);
    assert.deepEqual(await strict.getAll(HARD_KEYS), want, prefix);
    assert.deepEqual(await lax.getAll(HARD_KEYS), want, prefix);
    await lax.inc("a:b", 1000);
    await lax.flush();
    assert.equal(await strict.get("a:b"), 1002, prefix);
    assert.equal(await strict.get("a%3Ab"), 4, prefix);
  }
  await using c = new StrictCounter({ prefix: `${fx.prefix}:a`, store: fx.store });
  assert.equal(await c.del("a:b"), 1002);
  assert.deepEqual(await c.getAll(["a:b", "a_b", "a%3Ab"]), [["a:b", 0], ["a_b", 3], ["a%3Ab", 4]]);
  await c.clear();
  await using other = new StrictCounter({ prefix: `${fx.prefix}%3Aa`, store: fx.store });
  assert.equal(await other.get("a_b"), 3, "clearing prefix P:a left prefix P%3Aa alone");
  const weird = "line\nbreak\r\n";
  await other.set(weird, Number.MAX_SAFE_INTEGER);
  await assert.rejects(() => other.inc(weird, 1), CounterOverflowError);
});

storeTest(
  "keys: instance-aware counters with any string as key, prefix and instance id",
  async (fx) => {
    for (const prefix of [`${fx.prefix}:p`, `${fx.prefix}%3Ap`]) {
      await using is = new Instances(fx, prefix);
      // Nothing is reaped during the test, whatever the machine's speed.
      const a = is.strict({ instanceId: "n", deadInstanceThresholdMs: 60_000 });
      const b = is.lax({ instanceId: "n:1", deadInstanceThresholdMs: 60_000 });
      const c = is.strict({ instanceId: "{n}%", deadInstanceThresholdMs: 60_000 });
      await a.incAll(HARD_KEYS.map((k, i) => [k, i + 1]));
      await b.incAll(HARD_KEYS.map((k, i) => [k, 10 * (i + 1)]));
      await b.flush();
      await c.inc("a:b", 1000);
      for (const [i, k] of HARD_KEYS.entries()) {
        const extra = k === "a:b" ? 1000 : 0;
        assert.deepEqual(await a.get(k), { total: 11 * (i + 1) + extra, mine: i + 1 }, k);
      }
      await assertInvariant(fx, prefix);
      // b leaves: exactly its slices leave the totals, whatever ":" its id and the keys hold.
      await b.close();
      for (const [i, k] of HARD_KEYS.entries()) {
        const extra = k === "a:b" ? 1000 : 0;
        assert.deepEqual(await a.get(k), { total: i + 1 + extra, mine: i + 1 }, k);
      }
      await c.delOnInstance("a:b");
      assert.deepEqual(await a.get("a:b"), { total: 2, mine: 2 });
      assert.deepEqual(await a.get("a%3Ab"), { total: 4, mine: 4 });
      await assertInvariant(fx, prefix);
    }
    // The two prefixes above are separate: clearing one leaves the other.
    await using is = new Instances(fx, `${fx.prefix}:p`);
    await is.strict({ deadInstanceThresholdMs: 60_000 }).clear();
    await using js = new Instances(fx, `${fx.prefix}%3Ap`);
    assert.deepEqual(await js.strict({ deadInstanceThresholdMs: 60_000 }).get("a_b"), {
      total: 3,
      mine: 0,
    });
  },
);

storeTest("keys: locks with any string as key or namespace are independent", async (fx) => {
  const held: Array<{ release(): Promise<string> }> = [];
  for (const namespace of [fx.prefix, `${fx.prefix}:a`, `}${fx.prefix}`]) {
    for (const key of HARD_KEYS) {
      const g = await new Mutex({ key, namespace, store: fx.store }).tryLock();
      assert.ok(g !== null, `${namespace} ${key} is free`);
      held.push(g);
      assert.equal(await new Mutex({ key, namespace, store: fx.store }).tryLock(), null, key);
    }
  }
  // "P:a" + "b" and "P" + "a:b" are two locks (both held above, by different guards).
  assert.equal(held.length, 3 * HARD_KEYS.length);
  const rw = new RwLock({ key: "a:b", namespace: fx.prefix, store: fx.store });
  const w = await rw.tryWrite();
  assert.ok(w !== null, "an RwLock and a Mutex of the same key are separate");
  const r = await new RwLock({ key: "a%3Ab", namespace: fx.prefix, store: fx.store }).tryRead();
  assert.ok(r !== null, "a writer of a:b does not block readers of a%3Ab");
  // A waiter on a key with braces and colons is woken by the release (its grant channel).
  const key = "{x}:a%3A}";
  const first = await new Mutex({ key, namespace: fx.prefix, store: fx.store }).lock();
  const waiting = new Mutex({ key, namespace: fx.prefix, store: fx.store }).lock({
    timeoutMs: 5000,
  });
  await first.release();
  const second = await waiting;
  assert.equal(second.state, "acquired");
  for (const g of [...held, w, r, second]) assert.equal(await g.release(), "released");
});

storeTest("keys: rate limits with any string as entity or prefix are independent", async (fx) => {
  for (const prefix of [fx.prefix, `${fx.prefix}:a`, `}${fx.prefix}`]) {
    // One request per 10 s window.
    await using rl = new RateLimiter({ store: fx.store, prefix, windowSizeSeconds: 10 });
    const absolute = [rl.local.absolute, rl.redis.absolute, rl.hybrid.absolute];
    for (const [j, l] of absolute.entries()) {
      for (const k of HARD_KEYS) {
        const key = `${j}${k}`;
        assert.equal((await l.inc(key, 0.1)).kind, "allowed", `${j} ${prefix} ${key}`);
        assert.equal((await l.inc(key, 0.1)).kind, "rejected", `${j} ${prefix} ${key}`);
      }
      for (const k of HARD_KEYS) assert.equal(await l.get(`${j}${k}`), 1, `${j} ${k}`);
    }
    const suppressed = [rl.local.suppressed, rl.redis.suppressed, rl.hybrid.suppressed];
    for (const [j, l] of suppressed.entries()) {
      for (const [i, k] of HARD_KEYS.entries()) await l.inc(`${j}${k}`, 1000, i + 1);
      for (const [i, k] of HARD_KEYS.entries()) {
        assert.equal((await l.get(`${j}${k}`)).total, i + 1, `${j} ${prefix} ${k}`);
      }
    }
  }
  // The entity "a:b" under prefix P is not the entity "b" under prefix "P:a".
  await using rl = new RateLimiter({ store: fx.store, prefix: fx.prefix });
  assert.equal(await rl.redis.absolute.get("1a:b"), 1);
  await using sub = new RateLimiter({ store: fx.store, prefix: `${fx.prefix}:1a` });
  assert.equal(await sub.redis.absolute.get("b"), 0);
});
