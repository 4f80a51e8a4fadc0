import assert from "node:assert/strict";
import { MAX_BATCH } from "./entries.ts";
import type { DistkitError } from "./errors.ts";
import { StoreError } from "./errors.ts";
import { type Synced, WriteBehind, type WriteBehindSink } from "./write_behind.ts";

/** One key of the fake primitive: a log that items are appended to. */
interface Log {
  /** The store's items at the last sync (`undefined`: never read). */
  stored: string[] | undefined;
  /** Items sent in the unacknowledged batch. */
  sent: string[];
  /** Items not sent yet. */
  unsent: string[];
  syncedAt: number;
  pins: number;
}

/** One store call the fake sink received. */
interface Call {
  seq: number;
  writes: Array<[string, string]>;
  reads: string[];
  at: number;
}

/** What the fake store does with the next call. */
type Fault = "none" | "fail" | "lose-reply" | "hang";

/**
 * A fake primitive: append-only logs in an in-memory store that applies each sequence number
 * once, as the real scripts do, and can fail, lose replies or hang. A write is the items a batch
 * appends, joined by commas.
 */
class FakeLogs {
  readonly stored = new Map<string, string[]>();
  readonly calls: Call[] = [];
  readonly errors: DistkitError[] = [];
  /** Keys whose writes the fake store refuses. */
  readonly refused = new Set<string>();
  fault: Fault = "none";
  #lastSeq = 0;
  /** Called after each call is recorded. */
  onCall: () => void = () => {};
  readonly engine: WriteBehind<Log, string[], string[]>;

  constructor(options: { flushIntervalMs?: number; closeTimeoutMs?: number } = {}) {
    const sink: WriteBehindSink<Log, string[], string[]> = {
      create: () => ({ stored: undefined, sent: [], unsent: [], syncedAt: -Infinity, pins: 0 }),
      settled: (log) => log.sent.length + log.unsent.length === 0,
      known: (log) => log.stored !== undefined,
      take: (log) => {
        if (log.unsent.length === 0) return undefined;
        log.sent = log.unsent;
        log.unsent = [];
        return log.sent;
      },
      acknowledge: (log) => void (log.sent = []),
      learn: (log, items) => void (log.stored = items),
      send: (seq, writes, reads) => this.#send(seq, writes, reads),
    };
    this.engine = new WriteBehind({
      what: "FakeLogs",
      flushIntervalMs: options.flushIntervalMs ?? 60_000,
      allowedLagMs: 60_000,
      closeTimeoutMs: options.closeTimeoutMs ?? 1000,
      onError: (e) => this.errors.push(e),
      sink,
    });
  }

  /** Appends `item` to the log of `key`, in memory. */
  append(key: string, item: string): void {
    this.engine.entry(key).unsent.push(item);
    this.engine.touch(key);
  }

  /** The log of `key` as this process sees it. */
  view(key: string): string[] {
    const log = this.engine.peek(key);
    return log === undefined ? [] : [...log.stored ?? [], ...log.sent, ...log.unsent];
  }

  #send(
    seq: number,
    writes: ReadonlyArray<readonly [string, string[]]>,
    reads: readonly string[],
  ): Promise<Array<Synced<string[]>>> {
    this.calls.push({
      seq,
      writes: writes.map(([k, items]) => [k, items.join()]),
      reads: [...reads],
      at: performance.now(),
    });
    this.onCall();
    if (this.fault === "fail") return Promise.reject(new StoreError("injected outage"));
    if (this.fault === "hang") return new Promise(() => {});
    if (seq > this.#lastSeq) {
      this.#lastSeq = seq;
      for (const [k, items] of writes) {
        if (!this.refused.has(k)) this.stored.set(k, [...this.stored.get(k) ?? [], ...items]);
      }
    }
    if (this.fault === "lose-reply") return Promise.reject(new StoreError("injected lost reply"));
    const keys = [...writes.map(([k]) => k), ...reads];
    return Promise.resolve(keys.map((k, i) => ({
      value: [...this.stored.get(k) ?? []],
      dropped: i < writes.length && this.refused.has(k),
    })));
  }
}

Deno.test("WriteBehind numbers each batch once, and a call that only reads carries 0", async () => {
  const logs = new FakeLogs();
  logs.append("a", "a1");
  await logs.engine.flush();
  await logs.engine.sync(["b"]);
  logs.append("a", "a2");
  logs.append("b", "b1");
  logs.append("a", "a3");
  await logs.engine.flush();
  await logs.engine.flush(); // nothing left: no call
  assert.deepEqual(logs.calls.map(({ seq, writes, reads }) => ({ seq, writes, reads })), [
    { seq: 1, writes: [["a", "a1"]], reads: [] },
    { seq: 0, writes: [], reads: ["b"] },
    { seq: 2, writes: [["a", "a2,a3"], ["b", "b1"]], reads: [] },
  ]);
  assert.deepEqual([...logs.stored], [["a", ["a1", "a2", "a3"]], ["b", ["b1"]]]);
  await logs.engine.close();
});

Deno.test("WriteBehind resends a batch unchanged after a lost reply, so it applies once", async () => {
  const logs = new FakeLogs();
  logs.append("a", "a1");
  logs.fault = "lose-reply";
  await assert.rejects(logs.engine.flush(), StoreError); // applied, reply lost
  logs.append("a", "a2"); // waits for the next batch
  logs.append("b", "b1");
  logs.fault = "none";
  await logs.engine.flush();
  assert.deepEqual(logs.calls.map(({ seq, writes }) => ({ seq, writes })), [
    { seq: 1, writes: [["a", "a1"]] },
    { seq: 1, writes: [["a", "a1"]] }, // the same batch, not merged with the new changes
    { seq: 2, writes: [["a", "a2"], ["b", "b1"]] },
  ]);
  assert.deepEqual([...logs.stored], [["a", ["a1", "a2"]], ["b", ["b1"]]]);
  assert.deepEqual(logs.view("a"), ["a1", "a2"]);
  assert.equal(logs.engine.pending, 0);
  assert.equal(logs.errors.length, 1, "the lost reply was reported");
  await logs.engine.close();
});

Deno.test("WriteBehind reports a write the store dropped and counts it settled", async () => {
  const logs = new FakeLogs();
  logs.refused.add("a");
  logs.append("a", "a1");
  logs.append("b", "b1");
  await logs.engine.flush();
  assert.deepEqual(logs.errors.map((e) => [e.code, e.message]), [
    ["COUNTER_OVERFLOW", "a: a flushed change was dropped by the store"],
  ]);
  assert.deepEqual(logs.view("a"), [], "the store's value");
  assert.equal(logs.engine.pending, 0);
  await logs.engine.close();
});

Deno.test("WriteBehind's sweep keeps an entry held across an await and drops idle ones", async () => {
  const logs = new FakeLogs();
  const held = await logs.engine.hold(["held"], async ([log]) => {
    await Promise.resolve();
    // Never synced (stale), not dirty: sweepable but for the pin. Enough new keys to sweep.
    for (let i = 0; i <= 1024; i++) logs.engine.entry(`k${i}`);
    return log!;
  });
  assert.equal(logs.engine.peek("held"), held, "the held entry survived the sweep");
  assert.equal(held.pins, 0, "unpinned afterwards");
  assert.equal(logs.engine.peek("k0"), undefined, "an idle entry was swept");
  await logs.engine.close();
});

Deno.test("WriteBehind flushes what a full batch left over at its deadline, not an interval later", async () => {
  const INTERVAL = 500;
  const logs = new FakeLogs({ flushIntervalMs: INTERVAL });
  const both = new Promise<void>((resolve) => {
    logs.onCall = () => {
      if (logs.calls.length === 2) resolve();
    };
  });
  const start = performance.now();
  for (let i = 0; i <= MAX_BATCH; i++) logs.append(`k${i}`, "x");
  await both;
  assert.deepEqual(logs.calls.map((x) => [x.seq, x.writes.length]), [[1, MAX_BATCH], [2, 1]]);
  const late = logs.calls[1]!.at - start;
  assert.ok(late < INTERVAL * 1.6, `the leftover waited ${late} ms, not a second interval`);
  await logs.engine.close();
});

Deno.test("WriteBehind.close() settles within closeTimeoutMs when the store never answers", async () => {
  const logs = new FakeLogs({ closeTimeoutMs: 50 });
  logs.append("a", "a1");
  logs.append("b", "b1");
  logs.fault = "hang";
  await assert.rejects(logs.engine.close(), (e: unknown) => {
    assert.ok(e instanceof StoreError);
    assert.match(e.message, /^FakeLogs\.close\(\): 2 keys were not written to the store/);
    return true;
  });
  assert.throws(() => logs.engine.open(), { code: "CLOSED" });
  await logs.engine.close(); // a later call resolves: the first caller had the error
});

Deno.test("WriteBehind.close() retries a failed final flush, then runs `after`", async () => {
  const logs = new FakeLogs({ flushIntervalMs: 1 });
  logs.append("a", "a1");
  logs.fault = "fail";
  logs.onCall = () => {
    if (logs.calls.length === 2) logs.fault = "none"; // the second attempt succeeds
  };
  let after = 0;
  await logs.engine.close(() => Promise.resolve(void after++));
  assert.equal(logs.calls.length, 2);
  assert.deepEqual(logs.stored.get("a"), ["a1"]);
  assert.equal(after, 1);
});
