/**
 * What every instance-aware counter owns in-process: its registration ("member"), the slices it
 * knows it holds (for recovery after being reaped), the background heartbeat, and the calls to
 * the atomic operations.
 *
 * Recovery protocol: a script refuses (`{0}`) to act for a member that is not registered and did
 * not ask to register. The instance then takes a fresh member name (so leftovers of the reaped
 * one are reaped independently, never mixed with new data) and re-sends every slice it knows,
 * negative ones included, each with the epoch it belongs to; the script restores a slice as an
 * absolute value only if its epoch is still current. Restoring is idempotent, so it is exactly
 * once whichever call discovers the loss first, and even when a restore call is retried.
 *
 * @module
 */
import { MAX_BATCH } from "../core/entries.ts";
import type { Comparator } from "../core/comparator.ts";
import { ClosedError, type DistkitError, StoreError } from "../core/errors.ts";
import { intInRange } from "../core/int.ts";
import { encodeKeyPart, validateKey } from "../core/keys.ts";
import { newId } from "../core/uuid.ts";
import { type StoreLike, toStore } from "../store/to_store.ts";
import type { Store } from "../store/types.ts";
import { APPLY_ENTRIES, type ApplyCall, CLEAR_ALL } from "./_scripts.ts";

/** The most entries one call carries. */
export { MAX_BATCH };
/** The smallest `deadInstanceThresholdMs`: heartbeats every threshold/3 need some slack. */
export const MIN_THRESHOLD_MS = 150;
const MAX_THRESHOLD_MS = 86_400_000;

/** The operations one entry can carry (see lua/icounter_apply.lua). */
export type EntryOp = "get" | "inc" | "set" | "seti" | "delo" | "del" | "rst";

/** One entry of an apply call. */
export interface Entry {
  op: EntryOp;
  key: string;
  cmp?: Comparator | undefined;
  amount: number;
  /** rst: the epoch the slice belongs to. */
  epoch?: string;
}

/** One entry's outcome. */
export interface EntryResult {
  key: string;
  total: number;
  mine: number;
  previousTotal: number;
  previousMine: number;
  matched: boolean;
  epoch: string;
}

/** A slice this instance holds, as last acknowledged by the store. */
export interface KnownSlice {
  mine: number;
  epoch: string;
}

/**
 * The store keys of a prefix, in script order; one hash tag, `{<prefix>}` with the prefix encoded
 * (see `encodeKeyPart`). The user keys are hash fields as they are; slice fields are
 * `<member>:<key>` (see `sliceField` in _scripts.ts and {@linkcode memberName}).
 */
export function icounterKeys(prefix: string): string[] {
  const p = `{${encodeKeyPart(prefix)}}:ic:`;
  return ["instances", "reaping", "total", "epoch", "slices", "owned", "meta", "applied"].map((
    s,
  ) => p + s);
}

/** Options the core needs. */
export interface CoreOptions {
  prefix: unknown;
  store: StoreLike;
  deadInstanceThresholdMs?: number | undefined;
  instanceId?: string | undefined;
  onError?: ((error: DistkitError) => void) | undefined;
}

function randomBase(): string {
  // Epochs of a prefix start at a random point, so a prefix whose data was lost (a restart
  // without persistence) never reissues an epoch an instance still remembers.
  return String(1 + Math.floor(Math.random() * 2 ** 40));
}

/**
 * A registration name: the instance id (encoded, see `encodeKeyPart`) plus a random tag in braces,
 * new for every counter object and every recovery. Two processes given the same `instanceId` (or a
 * restarted process reusing its id) therefore never share slices or flush sequences. An encoded id
 * holds no `{`, `}` or `:`, so a name parses back to one id and never holds a `:`: a slice field
 * `<member>:<key>` splits at its first `:` whatever the key holds, and the lexicographic range of
 * one member's fields holds no other member's.
 * @param instanceId the instance id
 * @param tag the random tag (a fresh one by default)
 * @returns the name
 */
export function memberName(
  instanceId: string,
  tag: string = Math.random().toString(36).slice(2, 10),
): string {
  return `${encodeKeyPart(instanceId)}{${tag}}`;
}

function unrefTimer(t: unknown): void {
  if (typeof t === "number") {
    (globalThis as { Deno?: { unrefTimer?(id: number): void } }).Deno?.unrefTimer?.(t);
  } else (t as { unref?(): void })?.unref?.();
}

/** The in-process half of an instance. */
export class InstanceCore {
  readonly prefix: string;
  readonly instanceId: string;
  readonly thresholdMs: number;
  readonly store: Store;
  readonly keys: string[];
  /** Slices this instance holds (non-zero, current when last acknowledged), by key. */
  readonly slices: Map<string, KnownSlice> = new Map();
  /** Called for each restored entry after a recovery. */
  onRestored: (r: EntryResult) => void = () => {};
  #what: string;
  #onError: (error: DistkitError) => void;
  #member: string;
  #registered = false;
  #needsRestore = false;
  /**
   * The call in flight that asks to register this member, if any. Only one call at a time may
   * ask: a second one, arriving after the member was reaped, would register it again under the
   * same name and hide that its earlier slices were lost (no restore would follow).
   */
  #registering: Promise<unknown> | undefined;
  #restoring: Promise<void> | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #heartbeat: Promise<void> | undefined;
  #closed = false;

  constructor(options: CoreOptions, what: string) {
    this.prefix = validateKey(options?.prefix, "Prefix");
    this.thresholdMs = intInRange(
      options.deadInstanceThresholdMs ?? 30_000,
      "deadInstanceThresholdMs",
      MIN_THRESHOLD_MS,
      MAX_THRESHOLD_MS,
    );
    this.instanceId = options.instanceId === undefined
      ? newId()
      : validateKey(options.instanceId, "instanceId");
    this.store = toStore(options.store);
    this.keys = icounterKeys(this.prefix);
    this.#what = what;
    this.#onError = options.onError ?? (() => {});
    this.#member = memberName(this.instanceId);
    this.#schedule();
  }

  /** The registration name in the store (changes after each recovery). */
  get member(): string {
    return this.#member;
  }

  get closed(): boolean {
    return this.#closed;
  }

  open(): void {
    if (this.#closed) throw new ClosedError(this.#what);
  }

  // ------------------------------------------------------------ heartbeat

  #schedule(): void {
    if (this.#closed) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#heartbeat = this.apply([]).then(
        () => {},
        (e) => this.#onError(e instanceof StoreError ? e : new StoreError("Heartbeat failed", e)),
      ).finally(() => {
        this.#heartbeat = undefined;
        this.#schedule();
      });
    }, Math.floor(this.thresholdMs / 3));
    unrefTimer(this.#timer);
  }

  /** Stops heartbeats (waits for one in flight). */
  async stop(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#heartbeat;
  }

  // ------------------------------------------------------------ calls

  #lost(): void {
    this.#member = memberName(this.instanceId);
    this.#registered = false;
    this.#needsRestore = true;
  }

  /** An `ops` call of this member. */
  #ops(entries: readonly Entry[], seq = 0, lenient = false): ApplyCall {
    return {
      member: this.#member,
      thresholdMs: this.thresholdMs,
      register: !this.#registered,
      base: randomBase(),
      seq,
      lenient,
      mode: "ops",
      entries,
    };
  }

  #restore(): Promise<void> {
    this.#restoring ??= this.#restoreNow().finally(() => (this.#restoring = undefined));
    return this.#restoring;
  }

  async #restoreNow(): Promise<void> {
    for (let attempt = 0; this.#needsRestore; attempt++) {
      if (attempt >= 5) throw new StoreError("Cannot re-register this instance");
      const all: Entry[] = [...this.slices].map(([key, s]) => ({
        op: "rst",
        key,
        amount: s.mine,
        epoch: s.epoch,
      }));
      let lost = false;
      for (let i = 0; i === 0 || i < all.length; i += MAX_BATCH) {
        const chunk = all.slice(i, i + MAX_BATCH);
        const member = this.#member;
        const out = await APPLY_ENTRIES.run(this.store, this.keys, this.#ops(chunk, 0, true));
        if (!out.registered) {
          if (member === this.#member) this.#lost();
          lost = true;
          break;
        }
        this.#registered = true;
        this.#record(out.results);
        for (const r of out.results) this.onRestored(r);
      }
      if (!lost) this.#needsRestore = false;
    }
  }

  #record(results: readonly EntryResult[]): void {
    for (const r of results) {
      if (r.mine === 0) this.slices.delete(r.key);
      else this.slices.set(r.key, { mine: r.mine, epoch: r.epoch });
    }
  }

  /**
   * Runs entries atomically (one call), recovering first if this instance was reaped.
   * @returns whether a flush sequence was applied, and one result per entry
   */
  async apply(
    entries: readonly Entry[],
    options: { seq?: number; lenient?: boolean } = {},
  ): Promise<{ applied: boolean; results: EntryResult[] }> {
    for (let attempt = 0;; attempt++) {
      if (attempt >= 5) throw new StoreError("Cannot re-register this instance");
      for (;;) {
        if (this.#needsRestore || this.#restoring) await this.#restore();
        else if (!this.#registered && this.#registering !== undefined) await this.#registering;
        else break;
      }
      const member = this.#member;
      const registering = !this.#registered;
      const call = APPLY_ENTRIES.run(
        this.store,
        this.keys,
        this.#ops(entries, options.seq ?? 0, options.lenient ?? false),
      );
      if (registering) this.#awaitRegistration(call);
      const out = await call;
      if (!out.registered) {
        if (member === this.#member) this.#lost();
        continue;
      }
      if (registering && member === this.#member) this.#registered = true;
      this.#record(out.results);
      return { applied: out.applied, results: out.results };
    }
  }

  /** Makes later calls wait for `call`, which asks to register this member. */
  #awaitRegistration(call: Promise<unknown>): void {
    const settled: Promise<unknown> = call.then(() => {}, () => {}).finally(() => {
      if (this.#registering === settled) this.#registering = undefined;
    });
    this.#registering = settled;
  }

  /** Removes every slice of mine (bounded steps); with `unregister`, also my registration. */
  async drop(unregister: boolean): Promise<void> {
    if (this.#needsRestore && !this.#registered) {
      // Reaped already: nothing of mine is counted; forget what would have been restored.
      this.slices.clear();
      return;
    }
    for (;;) {
      const out = await APPLY_ENTRIES.run(this.store, this.keys, {
        member: this.#member,
        thresholdMs: this.thresholdMs,
        register: false,
        base: randomBase(),
        seq: 0,
        lenient: false,
        mode: "drop",
        unregister,
      });
      if (!out.registered) {
        this.slices.clear();
        if (this.#registered) this.#lost();
        return;
      }
      if (!out.more) break;
    }
    this.slices.clear();
    if (unregister) this.#registered = false;
  }

  /** Clears the whole prefix for every instance. */
  async clear(): Promise<void> {
    await CLEAR_ALL.run(this.store, this.keys, randomBase());
    this.slices.clear();
  }
}
