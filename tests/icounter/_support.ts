/**
 * Support for the instance-aware counter suites: the invariant check over the stored state (raw
 * Redis reads or the MemoryDb), a store wrapper that partitions one instance from the store, and
 * counter factories.
 */
import nodeAssert from "node:assert/strict";
import { StoreError } from "../../core/errors.ts";
import { encodeKeyPart } from "../../core/keys.ts";
import { icounterKeys } from "../../icounter/_core.ts";
import { parseSlice, splitSliceField as splitField } from "../../icounter/_scripts.ts";
import {
  LaxInstanceAwareCounter,
  type LaxInstanceAwareCounterOptions,
} from "../../icounter/lax.ts";
import {
  StrictInstanceAwareCounter,
  type StrictInstanceAwareCounterOptions,
} from "../../icounter/strict.ts";
import type { Reply, Script, Store, Unsubscribe } from "../../store/types.ts";
import type { Fixture } from "../_support/stores.ts";
import { waitFor } from "../_support/wait.ts";

function assert(cond: unknown, msg: string): asserts cond {
  nodeAssert.ok(cond, msg);
}
function assertEquals<T>(a: T, b: T, msg: string): void {
  nodeAssert.deepStrictEqual(a, b, msg);
}

/** Everything an instance-aware prefix stores. */
export interface StoredState {
  instances: Map<string, number>;
  reaping: Set<string>;
  total: Map<string, number>;
  epoch: Map<string, string>;
  slices: Map<string, string>;
  owned: Set<string>;
  meta: Map<string, string>;
  applied: Map<string, string>;
}

/**
 * The prefix's 8 structures in one atomic read: a flat array (HGETALL / ZRANGE WITHSCORES reply)
 * per key, in `icounterKeys` order. One script, so no instance's call lands between two reads.
 */
const SNAPSHOT_LUA = `local out = {}
for i, k in ipairs(KEYS) do
  if redis.call("TYPE", k).ok == "zset" then
    out[i] = redis.call("ZRANGE", k, 0, -1, "WITHSCORES")
  else
    out[i] = redis.call("HGETALL", k)
  end
end
return out`;

function pairs(flat: readonly unknown[]): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (let i = 0; i < flat.length; i += 2) out.push([String(flat[i]), String(flat[i + 1])]);
  return out;
}

/**
 * Reads a prefix's stored state as one snapshot: a single Lua script on Redis (the instances'
 * heartbeats keep running, and a reap followed by a restore between two separate reads would
 * show a total of one moment beside the slices of another), or synchronously from the MemoryDb.
 */
export async function readState(fx: Fixture, prefix: string): Promise<StoredState> {
  const keys = icounterKeys(prefix);
  let raw: Array<Array<[string, string]>>;
  if (fx.memory !== undefined) {
    const db = fx.memory.db;
    db.now = Date.now();
    const zsets = new Set([0, 1, 5]);
    raw = keys.map((k, i) =>
      zsets.has(i)
        ? db.zrangeAll(k).map(([m, score]): [string, string] => [m, String(score)])
        : [...db.hgetall(k)]
    );
  } else {
    const reply = await fx.raw.eval(SNAPSHOT_LUA, { keys, arguments: [] }) as unknown[][];
    raw = reply.map((flat) => pairs(flat));
  }
  const [inst, reap, total, epoch, slices, owned, meta, applied] = raw as [
    Array<[string, string]>,
    Array<[string, string]>,
    Array<[string, string]>,
    Array<[string, string]>,
    Array<[string, string]>,
    Array<[string, string]>,
    Array<[string, string]>,
    Array<[string, string]>,
  ];
  return {
    instances: new Map(inst.map(([m, score]) => [m, Number(score)])),
    reaping: new Set(reap.map(([m]) => m)),
    total: new Map(total.map(([k, v]) => [k, Number(v)])),
    epoch: new Map(epoch),
    slices: new Map(slices),
    owned: new Set(owned.map(([f]) => f)),
    meta: new Map(meta),
    applied: new Map(applied),
  };
}

/** Sums of current-epoch slices per key, optionally only of registered (live) members. */
export function sliceSums(s: StoredState, liveOnly = false): Map<string, number> {
  const floor = s.meta.get("floor");
  const sums = new Map<string, number>();
  for (const [field, rec] of s.slices) {
    const [member, key] = splitField(field);
    if (liveOnly && !s.instances.has(member)) continue;
    const [e, v] = parseSlice(rec);
    if (e !== (s.epoch.get(key) ?? floor)) continue;
    sums.set(key, (sums.get(key) ?? 0) + v);
  }
  return sums;
}

/**
 * Asserts the invariant on the stored state: for every key, total == the sum of the
 * current-epoch slices; every slice belongs to a registered member or one being reaped (and
 * when nothing is being reaped, all slices are of live members); the owned index matches the
 * slices; no zero is stored. It judges one snapshot ({@linkcode readState}) and no clock: as in
 * the scripts, a member is live while it is registered, even past its deadline, until some call
 * reaps it (moving it to the reaping set, whose slices still count until they are dropped).
 * @returns the state, for further checks
 */
export async function assertInvariant(fx: Fixture, prefix: string): Promise<StoredState> {
  const s = await readState(fx, prefix);
  const sums = sliceSums(s);
  const keys = new Set([...s.total.keys(), ...sums.keys()]);
  for (const k of keys) {
    assertEquals(s.total.get(k) ?? 0, sums.get(k) ?? 0, `invariant broken for key ${k}`);
  }
  for (const [k, v] of s.total) assert(v !== 0, `zero total stored for ${k}`);
  assertEquals(new Set(s.slices.keys()), s.owned, "owned index differs from the slices");
  for (const field of s.slices.keys()) {
    const [member] = splitField(field);
    assert(
      s.instances.has(member) || s.reaping.has(member),
      `slice ${field} belongs to no registered or reaping member`,
    );
    const [, v] = parseSlice(s.slices.get(field)!);
    assert(v !== 0, `zero slice stored: ${field}`);
  }
  if (s.reaping.size === 0) {
    const live = sliceSums(s, true);
    for (const k of keys) assertEquals(s.total.get(k) ?? 0, live.get(k) ?? 0, `live sum of ${k}`);
  }
  return s;
}

/** A store that can be cut off from its instance (a network partition of one process). */
export class Partition implements Store {
  readonly isDistkitStore = true as const;
  down = false;
  #inner: Store;
  constructor(inner: Store) {
    this.#inner = inner;
  }
  run(script: Script, keys: readonly string[], argv: readonly (string | number)[]): Promise<Reply> {
    if (this.down) return Promise.reject(new StoreError("partitioned (test)"));
    return this.#inner.run(script, keys, argv);
  }
  subscribe(channel: string, listener: (message: string) => void): Promise<Unsubscribe> {
    return this.#inner.subscribe(channel, listener);
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/**
 * The threshold of an instance a test lets die (`close({ leave: false })`) or cuts off (the
 * partitioned ones): short, so that its reaping is quick to await.
 */
export const THRESHOLD = 200;

/**
 * The default threshold of every other instance. A live instance must stay live however loaded
 * the machine is: with 200 ms (heartbeats every 66 ms), an event loop or a Redis stalled for
 * ~140 ms got a survivor reaped (and restored) in the middle of a test whose results assume it
 * never was. Reaping is driven by the dying instance's own threshold, not by this one.
 */
export const LIVE_THRESHOLD = 10_000;

/** Options for an instance a test lets die: {@linkcode THRESHOLD}. */
export const MORTAL = { deadInstanceThresholdMs: THRESHOLD } as const;

/** Builds instances on a fixture and closes them at the end. */
export class Instances implements AsyncDisposable {
  #all: Array<{ close(o?: { leave?: boolean }): Promise<void> }> = [];
  constructor(readonly fx: Fixture, readonly prefix = fx.prefix) {}

  /** A strict instance; {@linkcode LIVE_THRESHOLD} unless given (pass {@linkcode MORTAL}). */
  strict(
    options: Partial<StrictInstanceAwareCounterOptions> = {},
  ): StrictInstanceAwareCounter {
    const c = new StrictInstanceAwareCounter({
      prefix: this.prefix,
      store: this.fx.store,
      deadInstanceThresholdMs: LIVE_THRESHOLD,
      ...options,
    });
    this.#all.push(c);
    return c;
  }

  /** A lax instance; {@linkcode LIVE_THRESHOLD} unless given (pass {@linkcode MORTAL}). */
  lax(options: Partial<LaxInstanceAwareCounterOptions> = {}): LaxInstanceAwareCounter {
    const c = new LaxInstanceAwareCounter({
      prefix: this.prefix,
      store: this.fx.store,
      deadInstanceThresholdMs: LIVE_THRESHOLD,
      ...options,
    });
    this.#all.push(c);
    return c;
  }

  /** A strict instance behind its own partitionable store ({@linkcode THRESHOLD} unless given). */
  partitioned(
    options: Partial<StrictInstanceAwareCounterOptions> = {},
  ): [StrictInstanceAwareCounter, Partition] {
    const p = new Partition(this.fx.store);
    return [this.strict({ store: p, ...MORTAL, ...options }), p];
  }

  /** A lax instance behind its own partitionable store ({@linkcode THRESHOLD} unless given). */
  partitionedLax(
    options: Partial<LaxInstanceAwareCounterOptions> = {},
  ): [LaxInstanceAwareCounter, Partition] {
    const p = new Partition(this.fx.store);
    return [this.lax({ store: p, ...MORTAL, ...options }), p];
  }

  async [Symbol.asyncDispose](): Promise<void> {
    for (const c of this.#all) await c.close({ leave: false }).catch(() => {});
  }
}

/** The registered members (registration names) of instance `id`. */
export function membersOf(s: StoredState, id: string): string[] {
  return [...s.instances.keys()].filter((m) => m.startsWith(`${encodeKeyPart(id)}{`));
}

/** Waits until the member of `id` is no longer registered (it was reaped). */
export async function waitReaped(
  fx: Fixture,
  prefix: string,
  poke: () => Promise<unknown>,
  id: string,
  timeoutMs = 3000,
): Promise<void> {
  await waitFor(
    async () => {
      await poke();
      const s = await readState(fx, prefix);
      const mine = (m: string) => m.startsWith(`${encodeKeyPart(id)}{`);
      return membersOf(s, id).length === 0 && ![...s.reaping].some(mine);
    },
    { timeoutMs, intervalMs: 20, message: `instance ${id} to be reaped` },
  );
}
