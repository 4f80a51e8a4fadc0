/**
 * The guards' shared clock: one timer per process for every held guard's next renewal or loss
 * deadline, kept in a min-heap. Guards held at the same time share that timer: a new guard (whose
 * deadlines come after those of the guards already held, for one ttl) costs a heap insertion, not
 * a `setTimeout` (which costs some 15-20 µs on Deno when the process does I/O, as much as the rest
 * of an uncontended acquire + release on the client). The timer is cleared when the last guard
 * leaves (test sanitizers see no pending timer) and never keeps a process alive.
 *
 * @module
 */

/**
 * What the clock calls when an entry's time has come. The entry also carries its place in the heap
 * (`clockPos`) and its time (`clockAt`), which the clock keeps, so scheduling and cancelling move
 * entries without a lookup table (a `Map` from entry to place took two `set`s per heap swap: about
 * half the lock code's CPU in an uncontended `tryLock` + `release`, 2.9 µs of it before, 1.5
 * after). So an entry is on one clock at a time.
 */
export interface ClockEntry {
  /** Called once at (or after) the time it was scheduled for; it schedules itself again. */
  onTime(): void;
  /** Its place in the heap while scheduled; absent or -1 otherwise (the clock's to set). */
  clockPos?: number;
  /** Its time while scheduled (the clock's to set). */
  clockAt?: number;
}

/** An entry on the heap: both fields set. */
type Scheduled = ClockEntry & { clockPos: number; clockAt: number };

/** Lets a timer not keep the process alive (Node and Bun: `unref()`; Deno: `Deno.unrefTimer`). */
export function unrefTimer(timer: ReturnType<typeof setTimeout>): void {
  const t = timer as unknown as { unref?: () => void };
  if (typeof t?.unref === "function") return void t.unref();
  const deno = (globalThis as { Deno?: { unrefTimer?: (id: number) => void } }).Deno;
  if (typeof timer === "number") deno?.unrefTimer?.(timer);
}

/** How many microtask hops an empty clock waits before it stops its timer. */
const IDLE_HOPS = 8;

/** A min-heap of entries by time, with one shared timer. */
export class Clock {
  #heap: Scheduled[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  #armedAt = Infinity;
  #stopping = false;
  #holds = 0;

  /** Entries scheduled (for tests). */
  get size(): number {
    return this.#heap.length;
  }

  /** Calls `entry.onTime()` at `at` (`performance.now()` time), replacing its earlier time. */
  schedule(entry: ClockEntry, at: number): void {
    const i = this.#place(entry);
    if (i < 0) {
      const e = entry as Scheduled;
      e.clockAt = at;
      e.clockPos = this.#heap.push(e) - 1;
      this.#up(e.clockPos);
    } else {
      const e = this.#heap[i]!;
      const old = e.clockAt;
      e.clockAt = at;
      if (at < old) this.#up(i);
      else this.#down(i);
    }
    if (at < this.#armedAt) this.#arm(at);
  }

  /**
   * Forgets `entry`; stops the timer when nothing is left (an earlier timer just fires early). The
   * stop waits a few microtask hops, so a guard that ends just as another begins in the same tick
   * (a hand-off inside this process) keeps the timer rather than clearing and re-arming it; it
   * still happens within the tick.
   */
  cancel(entry: ClockEntry): void {
    const i = this.#place(entry);
    if (i < 0) return;
    entry.clockPos = -1;
    const last = this.#heap.pop()!;
    if (this.#heap.length === 0 && this.#timer !== undefined && !this.#stopping) {
      this.#stopping = true;
      this.#stopAfter(IDLE_HOPS);
    }
    if (i === this.#heap.length) return;
    this.#heap[i] = last;
    last.clockPos = i;
    this.#up(i);
    this.#down(i);
  }

  /** Where `entry` is on this clock's heap, or -1 (not scheduled here). */
  #place(entry: ClockEntry): number {
    const i = entry.clockPos;
    return i !== undefined && i >= 0 && this.#heap[i] === entry ? i : -1;
  }

  /**
   * An acquisition is in flight: if it wins, its guard will need the timer, so an empty clock keeps
   * it until {@linkcode unhold} (an uncontended acquire + release loop then arms it once, not once
   * per guard). The timer still never outlives the calls: it stops once nothing holds it.
   */
  hold(): void {
    this.#holds++;
  }

  /** The acquisition has settled (its guard, if any, is scheduled within the tick). */
  unhold(): void {
    if (--this.#holds > 0) return;
    if (this.#heap.length === 0 && this.#timer !== undefined && !this.#stopping) {
      this.#stopping = true;
      this.#stopAfter(IDLE_HOPS);
    }
  }

  #stopAfter(hops: number): void {
    queueMicrotask(() => {
      if (this.#heap.length > 0 || this.#holds > 0) return void (this.#stopping = false);
      if (hops > 1) return this.#stopAfter(hops - 1);
      this.#stopping = false;
      clearTimeout(this.#timer);
      this.#timer = undefined;
      this.#armedAt = Infinity;
    });
  }

  #arm(at: number): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#armedAt = at;
    this.#timer = setTimeout(this.#fire, Math.max(0, Math.ceil(at - performance.now())));
    unrefTimer(this.#timer);
  }

  #fire = (): void => {
    this.#timer = undefined;
    this.#armedAt = Infinity;
    const now = performance.now();
    // Each due entry leaves the heap before it runs (it usually schedules itself again, later).
    for (let n = this.#heap.length; n > 0 && this.#heap[0]!.clockAt <= now; n--) {
      const entry = this.#heap[0]!;
      this.cancel(entry);
      try {
        entry.onTime();
      } catch {
        // An entry's failure is its own; the others still run.
      }
    }
    const next = this.#heap[0];
    if (next !== undefined && next.clockAt < this.#armedAt) {
      this.#arm(Math.max(next.clockAt, now + 1));
    }
  };

  #up(i: number): void {
    const h = this.#heap;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (h[p]!.clockAt <= h[i]!.clockAt) return;
      this.#swap(i, p);
      i = p;
    }
  }

  #down(i: number): void {
    const h = this.#heap;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && h[l]!.clockAt < h[m]!.clockAt) m = l;
      if (r < h.length && h[r]!.clockAt < h[m]!.clockAt) m = r;
      if (m === i) return;
      this.#swap(i, m);
      i = m;
    }
  }

  #swap(a: number, b: number): void {
    const h = this.#heap;
    const t = h[a]!;
    const u = h[b]!;
    h[a] = u;
    u.clockPos = a;
    h[b] = t;
    t.clockPos = b;
  }
}

/** The clock of every guard in this process. */
export const CLOCK: Clock = new Clock();
