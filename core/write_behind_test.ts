import assert from "node:assert/strict";
import { MAX_BATCH } from "./entries.ts";
import type { DistkitError } from "./errors.ts";
import { StoreError } from "./errors.ts";
import { type Synced, WriteBehind, type WriteBehindSink } from "./write_behind.ts";

/** A counter entry, as the fake primitive keeps it. */
interface Entry {
  base: number | undefined;
  inflight: number;
  pending: number;
  syncedAt: number;
  pins: number;
}

/** One store call the fake sink received. */
interface Call {
  seq: number;
  writes: Array<[string, number]>;
  reads: string[];
  at: number;
}

/** What the fake store does with the next call. */
type Fault = "none" | "fail" | "lose-reply" | "hang";

/**
 * A fake primitive: a counter over an in-memory map that applies each sequence number once, as
 * the real scripts do, and can fail, lose replies or hang.
 */
class FakeCounter {
  readonly values = new Map<string, number>();
  readonly calls: Call[] = [];
  readonly errors: DistkitError[] = [];
  /** Keys whose writes the fake store refuses. */
  readonly refused = new Set<string>();
  fault: Fault = "none";
  #lastSeq = 0;
  /** Called after each call is recorded. */
  onCall: () => void = () => {};
  readonly engine: WriteBehind<Entry, number, number>;

  constructor(options: { flushIntervalMs?: number; closeTimeoutMs?: number } = {}) {
    const sink: WriteBehindSink<Entry, number, number> = {
      create: () => ({ base: undefined, inflight: 0, pending: 0, syncedAt: -Infinity, pins: 0 }),
      settled: (e) => e.pending === 0 && e.inflight === 0,
      known: (e) => e.base !== undefined,
      take: (e) => {
        if (e.pending === 0) return undefined;
        const delta = e.pending;
        e.inflight += delta;
        e.pending = 0;
        return delta;
      },
      acknowledge: (e, delta) => void (e.inflight -= delta),
      learn: (e, value) => void (e.base = value),
      send: (seq, writes, reads) => this.#send(seq, writes, reads),
    };
    this.engine = new WriteBehind({
      what: "FakeCounter",
      flushIntervalMs: options.flushIntervalMs ?? 60_000,
      allowedLagMs: 60_000,
      closeTimeoutMs: options.closeTimeoutMs ?? 1000,
      onError: (e) => this.errors.push(e),
      sink,
    });
  }

  /** Adds `n` to `key` in memory. */
  inc(key: string, n: number): void {
    this.engine.entry(key).pending += n;
    this.engine.touch(key);
  }

  view(key: string): number {
    const e = this.engine.peek(key);
    return e === undefined ? 0 : (e.base ?? 0) + e.inflight + e.pending;
  }

  #send(
    seq: number,
    writes: ReadonlyArray<readonly [string, number]>,
    reads: readonly string[],
  ): Promise<Array<Synced<number>>> {
    this.calls.push({
      seq,
      writes: writes.map(([k, d]) => [k, d]),
      reads: [...reads],
      at: performance.now(),
    });
    this.onCall();
    if (this.fault === "fail") return Promise.reject(new StoreError("injected outage"));
    if (this.fault === "hang") return new Promise(() => {});
    const dropped = new Set<string>();
    if (seq > this.#lastSeq) {
      this.#lastSeq = seq;
      for (const [k, d] of writes) {
        if (this.refused.has(k)) dropped.add(k);
        else this.values.set(k, (this.values.get(k) ?? 0) + d);
      }
    }
    if (this.fault === "lose-reply") return Promise.reject(new StoreError("injected lost reply"));
    const keys = [...writes.map(([k]) => k), ...reads];
    return Promise.resolve(
      keys.map((k) => ({ value: this.values.get(k) ?? 0, dropped: dropped.has(k) })),
    );
  }
}

Deno.test("WriteBehind numbers each batch once, and a call that only reads carries 0", async () => {
  const c = new FakeCounter();
  c.inc("a", 1);
  await c.engine.flush();
  await c.engine.sync(["b"]);
  c.inc("a", 2);
  c.inc("b", 3);
  await c.engine.flush();
  await c.engine.flush(); // nothing left: no call
  assert.deepEqual(c.calls.map(({ seq, writes, reads }) => ({ seq, writes, reads })), [
    { seq: 1, writes: [["a", 1]], reads: [] },
    { seq: 0, writes: [], reads: ["b"] },
    { seq: 2, writes: [["a", 2], ["b", 3]], reads: [] },
  ]);
  assert.deepEqual([...c.values], [["a", 3], ["b", 3]]);
  await c.engine.close();
});

Deno.test("WriteBehind resends a batch unchanged after a lost reply, so it applies once", async () => {
  const c = new FakeCounter();
  c.inc("a", 5);
  c.fault = "lose-reply";
  await assert.rejects(c.engine.flush(), StoreError); // applied, reply lost
  c.inc("a", 1); // waits for the next batch
  c.inc("b", 2);
  c.fault = "none";
  await c.engine.flush();
  assert.deepEqual(c.calls.map(({ seq, writes }) => ({ seq, writes })), [
    { seq: 1, writes: [["a", 5]] },
    { seq: 1, writes: [["a", 5]] }, // the same batch, not merged with the new changes
    { seq: 2, writes: [["a", 1], ["b", 2]] },
  ]);
  assert.deepEqual([...c.values], [["a", 6], ["b", 2]]);
  assert.equal(c.view("a"), 6);
  assert.equal(c.engine.pending, 0);
  assert.equal(c.errors.length, 1, "the lost reply was reported");
  await c.engine.close();
});

Deno.test("WriteBehind reports a write the store dropped and counts it settled", async () => {
  const c = new FakeCounter();
  c.refused.add("a");
  c.inc("a", 1);
  c.inc("b", 1);
  await c.engine.flush();
  assert.deepEqual(c.errors.map((e) => [e.code, e.message]), [
    ["COUNTER_OVERFLOW", "a: a flushed change was dropped by the store"],
  ]);
  assert.equal(c.view("a"), 0, "the store's value");
  assert.equal(c.engine.pending, 0);
  await c.engine.close();
});

Deno.test("WriteBehind's sweep keeps an entry held across an await and drops idle ones", async () => {
  const c = new FakeCounter();
  const read = c.engine.hold(["held"], async ([e]) => {
    await Promise.resolve();
    // Never synced (stale), not dirty: sweepable but for the pin. Enough new keys to sweep.
    for (let i = 0; i <= 1024; i++) c.engine.entry(`k${i}`);
    return e!;
  });
  const held = await read;
  assert.equal(c.engine.peek("held"), held, "the held entry survived the sweep");
  assert.equal(held.pins, 0, "unpinned afterwards");
  assert.equal(c.engine.peek("k0"), undefined, "an idle entry was swept");
  await c.engine.close();
});

Deno.test("WriteBehind flushes what a full batch left over at its deadline, not an interval later", async () => {
  const INTERVAL = 500;
  const c = new FakeCounter({ flushIntervalMs: INTERVAL });
  const both = new Promise<void>((resolve) => {
    c.onCall = () => {
      if (c.calls.length === 2) resolve();
    };
  });
  const start = performance.now();
  for (let i = 0; i <= MAX_BATCH; i++) c.inc(`k${i}`, 1);
  await both;
  assert.deepEqual(c.calls.map((x) => [x.seq, x.writes.length]), [[1, MAX_BATCH], [2, 1]]);
  const late = c.calls[1]!.at - start;
  assert.ok(late < INTERVAL * 1.6, `the leftover waited ${late} ms, not a second interval`);
  await c.engine.close();
});

Deno.test("WriteBehind.close() settles within closeTimeoutMs when the store never answers", async () => {
  const c = new FakeCounter({ closeTimeoutMs: 50 });
  c.inc("a", 1);
  c.inc("b", 1);
  c.fault = "hang";
  await assert.rejects(c.engine.close(), (e: unknown) => {
    assert.ok(e instanceof StoreError);
    assert.match(e.message, /^FakeCounter\.close\(\): 2 keys were not written to the store/);
    return true;
  });
  assert.throws(() => c.engine.open(), { code: "CLOSED" });
  await c.engine.close(); // a later call resolves: the first caller had the error
});

Deno.test("WriteBehind.close() retries a failed final flush, then runs `after`", async () => {
  const c = new FakeCounter({ flushIntervalMs: 1 });
  c.inc("a", 1);
  c.fault = "fail";
  c.onCall = () => {
    if (c.calls.length === 2) c.fault = "none"; // the second attempt succeeds
  };
  let after = 0;
  await c.engine.close(() => Promise.resolve(void after++));
  assert.equal(c.calls.length, 2);
  assert.equal(c.values.get("a"), 1);
  assert.equal(after, 1);
});
