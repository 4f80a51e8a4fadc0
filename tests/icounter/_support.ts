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

/** Reads a prefix's stored state: raw Redis commands, or the MemoryDb. */
export async function readState(fx: Fixture, prefix: string): Promise<StoredState> {
  const [kInst, kReap, kTotal, kEpoch, kSlices, kOwned, kMeta, kApplied] = icounterKeys(prefix) as [
    string,
    string,
    string,
    string,
    string,
    string,
    string,
    string,
  ];
  let hash: (k: string) => Promise<Map<string, string>>;
  let zset: (k: string) => Promise<Map<string, number>>;
  if (fx.memory !== undefined) {
    const db = fx.memory.db;
    db.now = Date.now();
    hash = (k) => Promise.resolve(db.hgetall(k));
    zset = (k) => Promise.resolve(new Map(db.zrangeAll(k)));
  } else {
    hash = async (k) => new Map(Object.entries(await fx.raw.hGetAll(k) as Record<string, string>));
    zset = async (k) =>
      new Map(
        (await fx.raw.zRangeWithScores(k, 0, -1) as Array<{ value: string; score: number }>)
          .map(({ value, score }) => [value, score]),
      );
  }
  const total = new Map([...await hash(kTotal)].map(([k, v]) => [k, Number(v)]));
  return {
    instances: await zset(kInst),
    reaping: new Set((await zset(kReap)).keys()),
    total,
    epoch: await hash(kEpoch),
    slices: await hash(kSlices),
    owned: new Set((await zset(kOwned)).keys()),
    meta: await hash(kMeta),
    applied: await hash(kApplied),
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
 * slices; no zero is stored.
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

/** Short threshold used by the suites. */
export const THRESHOLD = 200;

/** Builds instances on a fixture and closes them at the end. */
export class Instances implements AsyncDisposable {
  #all: Array<{ close(o?: { leave?: boolean }): Promise<void> }> = [];
  constructor(readonly fx: Fixture, readonly prefix = fx.prefix) {}

  strict(
    options: Partial<StrictInstanceAwareCounterOptions> = {},
  ): StrictInstanceAwareCounter {
    const c = new StrictInstanceAwareCounter({
      prefix: this.prefix,
      store: this.fx.store,
      deadInstanceThresholdMs: THRESHOLD,
      ...options,
    });
    this.#all.push(c);
    return c;
  }

  lax(options: Partial<LaxInstanceAwareCounterOptions> = {}): LaxInstanceAwareCounter {
    const c = new LaxInstanceAwareCounter({
      prefix: this.prefix,
      store: this.fx.store,
      deadInstanceThresholdMs: THRESHOLD,
      ...options,
    });
    this.#all.push(c);
    return c;
  }

  /** A strict instance behind its own partitionable store. */
  partitioned(
    options: Partial<StrictInstanceAwareCounterOptions> = {},
  ): [StrictInstanceAwareCounter, Partition] {
    const p = new Partition(this.fx.store);
    return [this.strict({ store: p, ...options }), p];
  }

  /** A lax instance behind its own partitionable store. */
  partitionedLax(
    options: Partial<LaxInstanceAwareCounterOptions> = {},
  ): [LaxInstanceAwareCounter, Partition] {
    const p = new Partition(this.fx.store);
    return [this.lax({ store: p, ...options }), p];
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
