/**
 * `WriteBehind`: the one engine behind every lax primitive. Changes wait in memory per key; at
 * most a flush interval after the first one, they go to the store as one batch with a sequence
 * number, resent unchanged until acknowledged (so a lost reply never applies them twice). One
 * serial queue orders every store call; a failed flush is retried with backoff; values read back
 * are served from memory for a while; the map of entries is swept down to the working set, never
 * dropping an entry a call holds across an await; `close()` makes a bounded final flush.
 *
 * What is specific to a primitive (the shape of an entry and of a write, the store call and the
 * decoding of its reply) comes in through a {@linkcode WriteBehindSink}.
 *
 * @module
 */
import { backoff } from "./backoff.ts";
import { MAX_BATCH } from "./entries.ts";
import { ClosedError, CounterOverflowError, type DistkitError, StoreError } from "./errors.ts";
import { finalFlush, notWritten } from "./final_flush.ts";
import { FlushTimer } from "./flush_timer.ts";
import { validateKey } from "./keys.ts";
import { SerialQueue } from "./serial_queue.ts";

/** What the engine keeps on every entry, beside the primitive's own fields. */
export interface Tracked {
  /** Local monotonic time of the last value learned from the store (`-Infinity`: never). */
  syncedAt: number;
  /** Calls holding this entry across an await (a read in flight): the sweep keeps it. */
  pins: number;
}

/** One key's outcome of a flush call. */
export interface Synced<V> {
  /** The store's value after the call. */
  value: V;
  /** The store refused this key's write (it would leave the safe-integer range). */
  dropped: boolean;
}

/**
 * What a primitive supplies: its entries and writes, and the one store call of a flush.
 * @typeParam E an entry (what this process knows of one key)
 * @typeParam W one key's write in a batch
 * @typeParam V one key's value as the store returns it
 */
export interface WriteBehindSink<E extends Tracked, W, V> {
  /** A new entry, never synced: `syncedAt: -Infinity`, `pins: 0`. */
  create(): E;
  /** Whether the entry holds nothing unsent and nothing unacknowledged. */
  settled(entry: E): boolean;
  /** Whether the entry holds a value learned from the store. */
  known(entry: E): boolean;
  /** Moves the entry's unsent change into flight and returns it (`undefined`: nothing to send). */
  take(entry: E): W | undefined;
  /** The store acknowledged `write`: it is no longer in flight. */
  acknowledge(entry: E, write: W): void;
  /** Records the store's value. */
  learn(entry: E, value: V): void;
  /**
   * One store call: applies `writes` under `seq` (0: no batch) exactly once per sequence number,
   * then reads every written key and every key of `reads`.
   * @returns one outcome per key, the written ones first, in order
   */
  send(
    seq: number,
    writes: ReadonlyArray<readonly [string, W]>,
    reads: readonly string[],
  ): Promise<Array<Synced<V>>>;
}

/** Options for {@linkcode WriteBehind}. */
export interface WriteBehindOptions<E extends Tracked, W, V> {
  /** The primitive's class name, for error messages. */
  what: string;
  /** The longest a change waits in memory before its flush starts, ms. */
  flushIntervalMs: number;
  /** How long a value read from the store is served from memory, ms. */
  allowedLagMs: number;
  /** The budget of the final flush in `close()`, ms. */
  closeTimeoutMs: number;
  /** Called with background failures. */
  onError: (error: DistkitError) => void;
  /** The primitive's part. */
  sink: WriteBehindSink<E, W, V>;
}

/** A flush in flight: resent unchanged, with the same sequence number, until acknowledged. */
interface Batch<W> {
  seq: number;
  writes: Map<string, W>;
}

/** An entry map stays this size at least before it is swept. */
const SWEEP_MIN = 1024;

const now = (): number => performance.now();

/**
 * The write-behind engine a lax primitive is a shell over.
 * @typeParam E an entry (what this process knows of one key)
 * @typeParam W one key's write in a batch
 * @typeParam V one key's value as the store returns it
 *
 * @example A counter whose store is a plain map
 * ```ts
 * import { WriteBehind } from "./write_behind.ts";
 * const store = new Map<string, number>();
 * type E = { value: number; pending: number; inflight: number; syncedAt: number; pins: number };
 * const engine = new WriteBehind<E, number, number>({
 *   what: "Example",
 *   flushIntervalMs: 20,
 *   allowedLagMs: 20,
 *   closeTimeoutMs: 100,
 *   onError: () => {},
 *   sink: {
 *     create: () => ({ value: 0, pending: 0, inflight: 0, syncedAt: -Infinity, pins: 0 }),
 *     settled: (e) => e.pending === 0 && e.inflight === 0,
 *     known: (e) => e.syncedAt > -Infinity,
 *     take: (e) => {
 *       if (e.pending === 0) return undefined;
 *       e.inflight = e.pending;
 *       e.pending = 0;
 *       return e.inflight;
 *     },
 *     acknowledge: (e, delta) => void (e.inflight -= delta),
 *     learn: (e, value) => void (e.value = value),
 *     send: (_seq, writes, reads) => {
 *       for (const [k, d] of writes) store.set(k, (store.get(k) ?? 0) + d);
 *       const keys = [...writes.map(([k]) => k), ...reads];
 *       return Promise.resolve(keys.map((k) => ({ value: store.get(k) ?? 0, dropped: false })));
 *     },
 *   },
 * });
 * engine.entry("k").pending += 2;
 * engine.touch("k");
 * await engine.close();
 * console.assert(store.get("k") === 2);
 * ```
 */
export class WriteBehind<E extends Tracked, W, V> {
  /** See {@linkcode WriteBehindOptions}. */
  readonly flushIntervalMs: number;
  /** See {@linkcode WriteBehindOptions}. */
  readonly allowedLagMs: number;
  /** See {@linkcode WriteBehindOptions}. */
  readonly closeTimeoutMs: number;
  #what: string;
  #onError: (error: DistkitError) => void;
  #sink: WriteBehindSink<E, W, V>;
  #entries = new Map<string, E>();
  #dirty = new Set<string>();
  /** When `#dirty` last stopped being empty: its flush is due a flush interval later. */
  #dirtySince = 0;
  #batch: Batch<W> | undefined;
  #seq = 0;
  #serial = new SerialQueue();
  #timer = new FlushTimer(() => {
    this.sync([]).catch(() => {/* reported through onError, retried */});
  });
  #failures = 0;
  #sweepAt = SWEEP_MIN;
  #closing: Promise<void> | undefined;

  /** An idle engine: no I/O, no timer until used. @param options see the interface */
  constructor(options: WriteBehindOptions<E, W, V>) {
    this.flushIntervalMs = options.flushIntervalMs;
    this.allowedLagMs = options.allowedLagMs;
    this.closeTimeoutMs = options.closeTimeoutMs;
    this.#what = options.what;
    this.#onError = options.onError;
    this.#sink = options.sink;
  }

  /** Whether `close()` was called. */
  get closed(): boolean {
    return this.#closing !== undefined;
  }

  /** Number of keys with changes not yet acknowledged by the store. */
  get pending(): number {
    const keys = new Set(this.#dirty);
    for (const k of this.#batch?.writes.keys() ?? []) keys.add(k);
    let n = 0;
    for (const k of keys) {
      const e = this.#entries.get(k);
      if (e !== undefined && !this.#sink.settled(e)) n++;
    }
    return n;
  }

  /** Throws once `close()` was called. @throws {ClosedError} then */
  open(): void {
    if (this.#closing !== undefined) throw new ClosedError(this.#what);
  }

  // ---------------------------------------------------------------- entries

  /** The entry of `key`, if any (the hot path: no sweep, no allocation). @returns it */
  peek(key: string): E | undefined {
    return this.#entries.get(key);
  }

  /**
   * The entry of a caller's `key`; a key already in the map was validated when it entered it,
   * so the hot path skips that. @returns it @throws {InvalidKeyError} if `key` is new and invalid
   */
  validEntry(key: string): E {
    return this.#entries.get(key) ?? this.entry(validateKey(key));
  }

  /** The entry of a valid `key`, made if needed (which may sweep first). @returns it */
  entry(key: string): E {
    let e = this.#entries.get(key);
    if (e === undefined) {
      if (this.#entries.size >= this.#sweepAt) this.#sweep();
      e = this.#sink.create();
      this.#entries.set(key, e);
    }
    return e;
  }

  /** The keys of every entry in memory. @returns them */
  keys(): string[] {
    return [...this.#entries.keys()];
  }

  /** Nothing unsent or unacknowledged, and no call holds it: the entry may be forgotten. */
  #idle(key: string, e: E): boolean {
    return e.pins === 0 && !this.#dirty.has(key) && this.#sink.settled(e);
  }

  /** Forgets idle entries older than the lag (never a pinned one: its read-back lands there). */
  #sweep(): void {
    const t = now();
    for (const [k, e] of this.#entries) {
      if (this.#idle(k, e) && t - e.syncedAt >= this.allowedLagMs) this.#entries.delete(k);
    }
    this.#sweepAt = Math.max(SWEEP_MIN, 2 * this.#entries.size);
  }

  /** After a clear: forgets idle entries; the others get `adjust` and turn cold. */
  invalidate(adjust: (entry: E) => void): void {
    for (const [k, e] of this.#entries) {
      if (this.#idle(k, e)) {
        this.#entries.delete(k);
      } else {
        adjust(e);
        e.syncedAt = -Infinity;
      }
    }
  }

  /** Whether the store's value is known, and fresh or about to be refreshed. @returns it */
  isWarm(key: string, e: E): boolean {
    return this.#sink.known(e) &&
      (this.#dirty.has(key) || this.#batch?.writes.has(key) === true ||
        now() - e.syncedAt < this.allowedLagMs);
  }

  /** Records the store's value of `key`, as returned by a call outside the flush path. */
  record(key: string, value: V): void {
    const e = this.entry(key);
    this.#sink.learn(e, value);
    e.syncedAt = now();
  }

  /** Marks `key` as changed: flushed a flush interval after the oldest change at most. */
  touch(key: string): void {
    if (this.#dirty.size === 0) {
      this.#dirtySince = now();
      if (!this.#timer.scheduled) this.#timer.schedule(this.flushIntervalMs);
    }
    this.#dirty.add(key);
  }

  /** Runs `task` with the entries of `keys` (aligned) pinned: the sweep keeps them. */
  async hold<T>(keys: readonly string[], task: (held: E[]) => Promise<T>): Promise<T> {
    const held: E[] = [];
    try {
      for (const k of keys) {
        const e = this.entry(k);
        e.pins++;
        held.push(e);
      }
      return await task(held);
    } finally {
      for (const e of held) e.pins--;
    }
  }

  /** The entries of `keys`, the cold ones read back first in one call. @returns them, aligned */
  read(keys: readonly string[]): Promise<E[]> {
    return this.hold(keys, async (held) => {
      const cold = keys.filter((k, i) => !this.isWarm(k, held[i]!));
      if (cold.length > 0) await this.sync(cold);
      return held;
    });
  }

  /** The entry of a caller's `key`, read back first when cold. @returns it @throws {StoreError} */
  async get(key: string): Promise<E> {
    validateKey(key);
    this.open();
    const [e] = await this.read([key]);
    return e!;
  }

  /**
   * A memory-first write: `apply` changes the entry `e` of `key`; a cold key is then flushed and
   * read back (one call). @returns `view` of the entry after the read-back, or what `apply`
   * returned when the key was warm or the read-back failed (the change stays buffered)
   */
  async write<R>(key: string, e: E, apply: (e: E) => R, view: (e: E) => R): Promise<R> {
    this.open();
    const warm = this.isWarm(key, e);
    const result = apply(e);
    if (warm) return result;
    try {
      await this.readBack([key]);
    } catch {
      return result; // buffered; the flush is retried in the background
    }
    return view(e);
  }

  /** Flushes and reads `keys` back, warm or not. @returns their entries (aligned) */
  readBack(keys: readonly string[]): Promise<E[]> {
    return this.hold(keys, async (held) => {
      await this.sync(keys);
      return held;
    });
  }

  // ---------------------------------------------------------------- flushing

  /** Flushes the batch and reads `reads` back: one call, queued. @throws {StoreError} */
  sync(reads: readonly string[]): Promise<void> {
    return this.#serial.run(() => this.#syncNow(reads));
  }

  async #syncNow(reads: readonly string[]): Promise<void> {
    if (this.#batch === undefined && this.#dirty.size > 0) this.#takeBatch();
    const b = this.#batch;
    const writes = [...(b?.writes ?? [])];
    const extra = [...new Set(reads)].filter((k) => b?.writes.has(k) !== true);
    if (b === undefined && extra.length === 0) return;
    let outcomes: Array<Synced<V>>;
    try {
      outcomes = await this.#sink.send(b?.seq ?? 0, writes, extra);
    } catch (e) {
      this.#failures++;
      if (this.#batch !== undefined || this.#dirty.size > 0) {
        this.#timer.reschedule(
          backoff(this.#failures, { baseMs: this.flushIntervalMs, maxMs: 1000 }),
        );
      }
      const err = e instanceof StoreError ? e : new StoreError(`${this.#what} flush failed`, e);
      this.#onError(err);
      throw err;
    }
    this.#failures = 0;
    this.#batch = undefined;
    const t = now();
    const keys = [...writes.map(([k]) => k), ...extra];
    keys.forEach((k, i) => {
      const e = this.entry(k);
      const outcome = outcomes[i]!;
      if (i < writes.length) {
        this.#sink.acknowledge(e, writes[i]![1]);
        if (outcome.dropped) {
          this.#onError(
            new CounterOverflowError(`${k}: a flushed change was dropped by the store`),
          );
        }
      }
      this.#sink.learn(e, outcome.value);
      e.syncedAt = t;
    });
    // Changes made meanwhile, and a full batch's leftovers, keep their deadline.
    if (this.#dirty.size > 0) this.#timer.schedule(this.#dirtySince + this.flushIntervalMs - now());
  }

  /** Moves unsent changes (at most MAX_BATCH keys) into a batch with the next number. */
  #takeBatch(): void {
    const writes = new Map<string, W>();
    for (const k of this.#dirty) {
      this.#dirty.delete(k);
      const e = this.#entries.get(k);
      const w = e === undefined ? undefined : this.#sink.take(e);
      if (w === undefined) continue;
      writes.set(k, w);
      if (writes.size === MAX_BATCH) break;
    }
    if (writes.size > 0) this.#batch = { seq: ++this.#seq, writes };
  }

  async #settle(): Promise<void> {
    while (this.#batch !== undefined || this.#dirty.size > 0) await this.#syncNow([]);
  }

  /** Settles every earlier change, then runs `op` before any later call. @returns its result */
  exclusive<T>(op: () => Promise<T>): Promise<T> {
    return this.#serial.run(async () => {
      await this.#settle();
      return await op();
    });
  }

  /** Pushes every pending change now. @throws {StoreError} (they stay buffered) */
  flush(): Promise<void> {
    return this.#serial.run(() => this.#settle());
  }

  /** Waits for every call queued so far to settle. @returns then (it never rejects) */
  idle(): Promise<void> {
    return this.#serial.run(() => Promise.resolve());
  }

  /**
   * Stops; the final flush is tried at most 3 times within `closeTimeoutMs`, then `after(deadline)`
   * runs. A later call waits and resolves. @throws {StoreError} naming the keys not written
   */
  close(after?: (deadline: number) => Promise<void>): Promise<void> {
    if (this.#closing !== undefined) return this.#closing.catch(() => {});
    this.#timer.close(); // the final flush does the retrying from now on
    this.#closing = this.#close(after);
    return this.#closing;
  }

  async #close(after: ((deadline: number) => Promise<void>) | undefined): Promise<void> {
    const deadline = now() + this.closeTimeoutMs;
    const failure = await finalFlush(() => this.flush(), {
      timeoutMs: this.closeTimeoutMs,
      baseMs: this.flushIntervalMs,
    });
    const unwritten = this.pending;
    if (failure !== undefined && unwritten > 0) throw notWritten(this.#what, unwritten, failure);
    await after?.(deadline);
  }
}
