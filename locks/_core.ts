/**
 * The acquisition engine shared by {@linkcode Mutex}, {@linkcode RwLock} and
 * {@linkcode Semaphore} (each brings its {@linkcode Lease}: its scripts): one direct attempt,
 * then (for the waiting forms) a parked {@linkcode Waiter} woken by pub/sub through a shared
 * {@linkcode WaitHub}, bounded by a deadline, a retry budget and an abort signal. A waiter that
 * gives up leaves the hub and the store's queue before its promise settles.
 *
 * @module
 */
import {
  ClosedError,
  InvalidArgumentError,
  LockRetriesExhaustedError,
  LockTimeoutError,
  StoreError,
} from "../core/errors.ts";
import { within } from "../core/final_flush.ts";
import { intInRange } from "../core/int.ts";
import { validateKey } from "../core/keys.ts";
import { newId } from "../core/uuid.ts";
import { toStore } from "../store/to_store.ts";
import type { Store } from "../store/types.ts";
import { CLOCK, unrefTimer } from "./_clock.ts";
import { type HubWaiter, routeOf, WaitHub } from "./_hub.ts";
import type { Lease } from "./_lease.ts";
import { type AttemptResult, newToken } from "./_remote.ts";
import type { GuardInit } from "./guard.ts";
import type { LockOptions, WaitOptions } from "./options.ts";
import { isKnownDown } from "../store/_resilience.ts";
import { duration, MAX_DURATION_MS, ownerIdOf, waitOptions } from "./_validate.ts";

/**
 * How long a give-up waits for its clean-up (the store call removing its queue entry or late
 * lease, and the unsubscription) before it settles anyway, ms: the clean-up goes on in the
 * background. A store that answered the wait's last attempt answers well within it, so the caller
 * finds no trace left; one that left an attempt unanswered (down, frozen) gets much less, so it
 * cannot hold the caller past its bound.
 */
const GRACE_MS = { answering: 60, silent: 10 } as const;

/**
 * The first attempt of a wait gets at least this long to answer, ms, even when the wait's bound
 * is shorter (`timeoutMs: 0` is a single attempt): a free lock is then taken, not timed out.
 */
const FIRST_MS = 30;

/** The first and the largest delay between retries of a failed clean-up call, ms. */
const CLEANUP_RETRY_MS = [50, 1000] as const;

/** The longest a clean-up goes on through an outage, ms (then its entries expire by themselves). */
const CLEANUP_MAX_MS = 60_000;

/** One acquisition request. */
export interface Plan {
  /** What to acquire (a lock's mode, a semaphore's permits). */
  lease: Lease;
  /** A tag the token's id carries (a semaphore's permit count: `*<n>`). */
  tag?: string | undefined;
  /** One attempt only: `null` on failure. */
  oneShot?: boolean;
  /** Give up after this many ms. */
  timeoutMs?: number | undefined;
  /** Give up after this many retries (attempts after the first). */
  retries?: number | undefined;
  /** Give up when aborted, with its reason. */
  signal?: AbortSignal | undefined;
}

/** Validated options and the engine; `K`: the primitive's Redis names. */
export class LockCore<K extends { readonly channel: string } = { readonly channel: string }> {
  readonly key: string;
  readonly namespace: string;
  readonly ttlMs: number;
  readonly ownerId: string;
  readonly maxWaitMs: number | undefined;
  readonly retryIntervalMs: number;
  readonly store: Store;
  readonly keys: K;
  /** The fallback poll's cap, ms. */
  readonly capMs: number;
  /**
   * How long a waiting writer stays queued without trying again, ms; also how long an attempt of
   * a retry-bounded wait may go unanswered before it counts as failed.
   */
  readonly queueMs: number;
  /** `"Mutex"`, `"RwLock"` or `"Semaphore"`, for messages. */
  readonly what: string;
  /** Random per lock object (a UUID v7): with a sequence number, each acquisition's own token. */
  #tokenBase = newId();
  #seq = 0;
  #closed = false;
  /** Waits in progress, rejected by `close()`. */
  #waits = new Set<Waiter>();
  /** Direct attempts in flight (`tryLock()`, a plain `lock()`'s first), rejected by `close()`. */
  #direct = new Set<(reason: unknown) => void>();
  /** Timers of clean-up retries (unref'd), cleared by `close()`. */
  #timers = new Set<ReturnType<typeof setTimeout>>();

  /**
   * @param options the validated-here options
   * @param what the primitive's name, for messages
   * @param keysOf its Redis names for a validated namespace and key
   */
  constructor(
    options: LockOptions,
    what: "Mutex" | "RwLock" | "Semaphore",
    keysOf: (namespace: string, key: string) => K,
  ) {
    if (options === null || typeof options !== "object") {
      throw new InvalidArgumentError(`${what} options must be an object`);
    }
    this.key = validateKey(options.key);
    this.namespace = validateKey(options.namespace ?? "distkit-locks", "Namespace");
    this.ttlMs = intInRange(options.ttlMs ?? 30_000, "ttlMs", 10, MAX_DURATION_MS);
    this.ownerId = ownerIdOf(options.ownerId ?? newId());
    this.maxWaitMs = options.maxWaitMs === undefined
      ? undefined
      : duration(options.maxWaitMs, "maxWaitMs");
    this.retryIntervalMs = intInRange(options.retryIntervalMs ?? 50, "retryIntervalMs", 1, 60_000);
    this.store = toStore(options.store);
    this.keys = keysOf(this.namespace, this.key);
    this.capMs = Math.max(this.retryIntervalMs, Math.min(1000, Math.floor(this.ttlMs / 3)));
    this.queueMs = 3 * this.capMs + 250;
    this.what = what;
  }

  /**
   * Validates a waiting form's options and bounds its wait by `maxWaitMs`.
   * @throws {InvalidArgumentError} if `opts` is invalid
   */
  bounded(opts: WaitOptions | undefined): Pick<Plan, "timeoutMs" | "signal"> {
    const { timeoutMs, signal } = waitOptions(opts);
    const max = this.maxWaitMs;
    return {
      timeoutMs: timeoutMs === undefined
        ? max
        : max === undefined
        ? timeoutMs
        : Math.min(max, timeoutMs),
      signal,
    };
  }

  /** Whether `close()` was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Runs `plan`. A wait with a bound (`timeoutMs`, `retries`) or a signal races each of its store
   * calls against them, so it settles in time whatever the store does; every form settles with
   * `ClosedError` when the lock is closed.
   * @returns what the guard needs, or `null` when a one-shot attempt failed
   */
  async acquire(plan: Plan): Promise<GuardInit | null> {
    if (this.#closed) throw new ClosedError(this.what);
    const { lease, signal } = plan;
    signal?.throwIfAborted();
    const token = newToken(
      `${this.#tokenBase}.${(this.#seq++).toString(36)}${plan.tag ?? ""}`,
      this.ttlMs,
      routeOf(this.store),
      this.ownerId,
    );
    const start = performance.now();
    const waits = !plan.oneShot && plan.timeoutMs !== 0 && plan.retries !== 0;
    // A waiting writer queues; a waiting reader keeps the read-waiters marker alive (so releases
    // publish wake-ups). A single attempt leaves nothing behind.
    const queueMs = waits ? this.queueMs : 0;
    const bounded = plan.timeoutMs !== undefined || plan.retries !== undefined ||
      signal !== undefined;
    if (bounded) {
      const waiter = new Waiter(this, plan, token, start, queueMs);
      // Under contention this process is usually subscribed already: park first, then try.
      const hub = waits ? WaitHub.ready(this.store, this.keys.channel) : undefined;
      return await waiter.run(hub ?? (waits ? "first" : "single"));
    }
    if (waits) {
      const hub = WaitHub.ready(this.store, this.keys.channel);
      if (hub !== undefined) {
        return await new Waiter(this, plan, token, start, queueMs).run(hub);
      }
    }
    // Unbounded (`tryLock()`, or a plain `lock()`'s first attempt): only `close()` cuts it short.
    let first: AttemptResult;
    CLOCK.hold(); // a win's guard will want the shared timer: keep it meanwhile
    try {
      first = await this.#direct1(lease.acquire(token, this.ttlMs, queueMs));
    } catch (e) {
      if (!waits || e instanceof ClosedError) {
        CLOCK.unhold();
        // A lost reply may have acquired or queued.
        const grace = e instanceof ClosedError ? GRACE_MS.silent : GRACE_MS.answering;
        await within(this.cleanUp(lease, token), grace);
        throw e;
      }
      first = { ok: false, hintMs: -1 }; // transient: keep waiting
    }
    CLOCK.unhold();
    if (first.ok) return this.init(lease, token, 0, first.fence, start);
    if (first.refused !== undefined) throw first.refused;
    if (plan.oneShot) return null;
    const waiter = new Waiter(this, plan, token, start, queueMs);
    waiter.noteTicket(first.ticket, start);
    return await waiter.run(first.hintMs);
  }

  /** `p`, or a `ClosedError` as soon as the lock closes. */
  #direct1<T>(p: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#direct.add(reject);
      p.then((v) => {
        this.#direct.delete(reject);
        resolve(v);
      }, (e) => {
        this.#direct.delete(reject);
        reject(e);
      });
    });
  }

  /** The guard's birth certificate. */
  init(lease: Lease, token: string, onAttempt: number, fence: number, sentAt: number): GuardInit {
    return {
      lease,
      key: this.key,
      token,
      ttlMs: this.ttlMs,
      onAttempt,
      fence,
      sentAt,
      ended: false,
    };
  }

  /** A wait starts (`close()` will reject it). */
  track(waiter: Waiter): void {
    this.#waits.add(waiter);
  }

  /** A wait settled. */
  untrack(waiter: Waiter): void {
    this.#waits.delete(waiter);
  }

  /**
   * Removes every trace of `token` (a queued entry, or a lease won by an attempt whose reply came
   * too late, or never). The release is sent after the token's acquisition calls, so on the same
   * connection Redis runs it after them. A failed call (a connection lost with the call on it) is
   * retried, with unref'd timers, until one succeeds, the store or the lock is closed, or the
   * token's entries must have expired by themselves (`max(ttlMs, queueMs)`); a call that never
   * answers holds no timer.
   * @returns when the first call settles: done, or failed and retried in the background (callers
   *   wait for it at most a short grace)
   */
  cleanUp(lease: Lease, token: string): Promise<void> {
    const life = Math.max(this.ttlMs, this.queueMs);
    const start = performance.now();
    let until = start + life;
    let first!: () => void;
    const settled = new Promise<void>((resolve) => first = resolve);
    const attempt = (delay: number): Promise<void> =>
      lease.release(token).then(() => {}, (e) => {
        first();
        // The store's breaker answered without sending the call (the store is known down): the
        // token's acquisition calls may still run once it is back, and make entries that live
        // `life` from then, so the clean-up goes on past the outage (up to CLEANUP_MAX_MS).
        if (isKnownDown(e)) {
          until = Math.min(start + CLEANUP_MAX_MS, Math.max(until, performance.now() + life));
        }
        if (e instanceof ClosedError || this.#closed || performance.now() >= until) return;
        return new Promise<void>((resolve) => {
          const timer = setTimeout(() => {
            this.#timers.delete(timer);
            resolve(attempt(Math.min(delay * 2, CLEANUP_RETRY_MS[1])));
          }, delay);
          unrefTimer(timer);
          this.#timers.add(timer);
        });
      });
    void attempt(CLEANUP_RETRY_MS[0]).then(first);
    return settled;
  }

  /**
   * Rejects every pending wait and direct attempt with `ClosedError` (their queue entries are
   * removed in the background), stops clean-up retries and drops the lock's idle subscription.
   * Held guards are left alone. Idempotent.
   * @returns when the waits have settled
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const error = new ClosedError(this.what);
    for (const reject of this.#direct) reject(error);
    this.#direct.clear();
    const waits = [...this.#waits].map((w) => w.stop(error));
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    await Promise.all(waits);
    await within(WaitHub.drop(this.store, this.keys.channel), GRACE_MS.silent);
  }
}

/**
 * A parked acquisition. Its promise settles by itself: at its deadline, on its signal, after its
 * last retry, or on `close()`, whether or not its store calls ever answer.
 */
class Waiter implements HubWaiter {
  readonly baseMs: number;
  readonly capMs: number;
  readonly token: string;
  #core: LockCore;
  #plan: Plan;
  #start: number;
  #queueMs: number;
  /** The next attempt's index. */
  #next = 1;
  /** The attempt in flight whose reply counts (-1: none). */
  #current = -1;
  #again = false;
  #settled = false;
  #won = false;
  /** One attempt only (`timeoutMs: 0`, `retries: 0`). */
  #single = false;
  #hub: WaitHub | undefined;
  #deadline: ReturnType<typeof setTimeout> | undefined;
  /** Counts an attempt of a retry-bounded wait that does not answer as failed. */
  #silence: ReturnType<typeof setTimeout> | undefined;
  /** Why the latest attempt failed, when it did not find the lock held. */
  #lastError: unknown;
  /** The ticket of this waiter's queue entry, as the latest attempt that reported one saw it. */
  #ticket: string | undefined;
  /** When the latest attempt that found (or made) that entry was sent. */
  #ticketAt = 0;
  #resolve!: (init: GuardInit) => void;
  #reject!: (reason: unknown) => void;
  #done: Promise<unknown> | undefined;
  /** What the wait won (its guard marks it ended). */
  #init: GuardInit | undefined;

  constructor(core: LockCore, plan: Plan, token: string, start: number, queueMs: number) {
    this.#core = core;
    this.#plan = plan;
    this.token = token;
    this.#start = start;
    this.#queueMs = queueMs;
    this.baseMs = core.retryIntervalMs;
    this.capMs = core.capMs;
  }

  /**
   * Waits. With a subscribed `hub`, parks on it and makes the first attempt (index 0). With
   * `"first"`, makes the first attempt, then joins the hub if it failed; with `"single"`, makes
   * one attempt only. With a number (the hint of a failed first attempt already made), joins the
   * hub, subscribing, and tries once more when the subscription is active.
   */
  run(how: WaitHub | number | "first" | "single"): Promise<GuardInit> {
    return new Promise<GuardInit>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
      const { signal, timeoutMs } = this.#plan;
      this.#core.track(this);
      if (signal?.aborted) return void this.#giveUp(signal.reason);
      signal?.addEventListener("abort", this.#onAbort, { once: true });
      if (timeoutMs !== undefined) this.#armDeadline(this.#start + timeoutMs);
      if (typeof how === "number") return this.#join(how);
      this.#next = 0;
      if (how === "single") this.#single = true;
      else if (how !== "first") {
        this.#hub = how;
        how.add(this);
      }
      this.attempt();
    });
  }

  #armDeadline(at: number): void {
    this.#deadline = setTimeout(this.#onDeadline, Math.max(0, Math.ceil(at - performance.now())));
  }

  #onDeadline = (): void => {
    // A first attempt still in flight gets FIRST_MS: with a tiny bound, a free lock is taken.
    const first = this.#start + FIRST_MS;
    if (this.#current === 0 && performance.now() < first) return this.#armDeadline(first);
    this.#giveUp(new LockTimeoutError(this.#core.key, this.#waited(), this.#lastError));
  };

  /** Joins the hub (it polls at once) and tries again once the subscription is active. */
  #join(hint: number): void {
    const hub = this.#hub = WaitHub.join(this.#core.store, this.#core.keys.channel, this);
    hub.hint(hint);
    void hub.subscribed().then(() => {
      if (this.#settled) return;
      this.attempt(); // covers a release that happened before the subscription was active
    });
  }

  #waited(): number {
    return Math.round(performance.now() - this.#start);
  }

  #onAbort = (): void => {
    this.#giveUp(this.#plan.signal?.reason);
  };

  attempt(): void {
    if (this.#settled) return;
    if (this.#current >= 0) {
      this.#again = true;
      return;
    }
    this.#again = false;
    const n = this.#current = this.#next++;
    const sentAt = performance.now();
    const { ttlMs } = this.#core;
    if (this.#plan.retries !== undefined) {
      this.#silence = setTimeout(() => this.#unanswered(n), this.#core.queueMs);
    }
    this.#plan.lease.acquire(this.token, ttlMs, this.#queueMs).then(
      (r) => this.#after(n, sentAt, r),
      (e) => this.#after(n, sentAt, { ok: false, hintMs: -1 }, e ?? new Error("failed")),
    );
  }

  /** Attempt `n` of a retry-bounded wait did not answer in time: it counts as failed. */
  #unanswered(n: number): void {
    if (this.#settled || this.#current !== n) return;
    this.#current = -1;
    const ms = this.#core.queueMs;
    this.#failed(
      n,
      -1,
      new StoreError(`The store did not answer attempt ${n + 1} within ${ms} ms`),
    );
  }

  /**
   * Records that an attempt sent at `sentAt` found (or made) this waiter's queue entry `ticket`.
   * The store ran that attempt before any grant of that entry (a grant removes the entry, and a
   * ticket is never reused), so a lease granted from it runs at least ttlMs from `sentAt`.
   */
  noteTicket(ticket: string | undefined, sentAt: number): void {
    if (ticket === undefined) return;
    this.#ticket = ticket;
    this.#ticketAt = sentAt; // attempts are sequential: the latest is the best anchor
  }

  /**
   * A release handed the lease to this waiter's queue entry `ticket`. With a recent attempt that
   * saw that entry, the guard's deadlines are anchored on it at once (no extra call). Otherwise
   * (the grant names an older entry, one whose lease may have lapsed while the message was on its
   * way; or the last attempt is older than a renewal interval) an attempt confirms first: it finds
   * the lease still ours, or the waiter goes on waiting.
   */
  granted(fence: number, ticket: string): void {
    if (this.#settled) return; // gave up: its clean-up call releases the granted lease
    const { ttlMs } = this.#core;
    if (ticket === this.#ticket && performance.now() - this.#ticketAt < ttlMs / 3) {
      this.#finish(true);
      this.#resolve(
        this.#init = this.#core.init(
          this.#plan.lease,
          this.token,
          this.#next,
          fence,
          this.#ticketAt,
        ),
      );
      return;
    }
    this.attempt();
  }

  /** The reply (or failure, `error`) of attempt `n`. */
  #after(n: number, sentAt: number, r: AttemptResult, error?: unknown): void {
    const current = n === this.#current;
    if (current) {
      this.#current = -1;
      clearTimeout(this.#silence);
    }
    if (this.#settled) {
      // Gave up meanwhile: the clean-up normally runs after this attempt, but be sure. Won
      // meanwhile, by a grant or another attempt: this attempt, sent before the guard's release,
      // found the same lease, ours; unless the store ran it after that release (a call reloaded
      // on NOSCRIPT runs after the calls sent behind it), when it took the lock anew for a guard
      // that is gone: release that too (owner-checked: at worst a call that finds nothing).
      if (
        (r.ok || r.ticket !== undefined) && (!this.#won || (r.ok && this.#init?.ended === true))
      ) {
        void this.#core.cleanUp(this.#plan.lease, this.token);
      }
      return;
    }
    if (r.ok) {
      // A late reply of an attempt already counted as failed still wins, while the wait lasts.
      this.#finish(true);
      this.#resolve(this.#init = this.#core.init(this.#plan.lease, this.token, n, r.fence, sentAt));
      return;
    }
    if (!current) return; // counted when it went unanswered
    if (error instanceof ClosedError) return void this.#giveUp(error); // the store is closed
    if (r.refused !== undefined) return void this.#giveUp(r.refused); // waiting cannot help
    this.noteTicket(r.ticket, sentAt);
    this.#failed(n, r.hintMs, error);
  }

  /** Attempt `n` failed (found the lock held, or `error`): give up, or wait for the next. */
  #failed(n: number, hintMs: number, error: unknown): void {
    this.#lastError = error;
    const { retries } = this.#plan;
    if (retries !== undefined && n >= retries) {
      return void this.#giveUp(new LockRetriesExhaustedError(this.#core.key, retries, error));
    }
    if (this.#single) {
      return void this.#giveUp(new LockTimeoutError(this.#core.key, this.#waited(), error));
    }
    if (this.#hub === undefined) return this.#join(hintMs);
    this.#hub.hint(hintMs);
    if (this.#again) this.attempt();
  }

  /** Stops the timers and the abort listener; leaves the hub (which lingers after a success). */
  #finish(success = false): Promise<void> {
    this.#settled = true;
    this.#won = success;
    clearTimeout(this.#deadline);
    clearTimeout(this.#silence);
    this.#plan.signal?.removeEventListener("abort", this.#onAbort);
    this.#core.untrack(this);
    return this.#hub?.leave(this, success) ?? Promise.resolve();
  }

  /** `close()`: gives up with `reason`. @returns when settled */
  stop(reason: unknown): Promise<unknown> {
    this.#giveUp(reason);
    return this.#done ?? Promise.resolve();
  }

  /**
   * Settles with `reason` once the hub is left and the store's queue cleaned, or after a grace
   * ({@linkcode GRACE_MS}; the clean-up then finishes in the background).
   */
  #giveUp(reason: unknown): void {
    if (this.#settled) return;
    const left = this.#finish();
    const cleaned = this.#core.cleanUp(this.#plan.lease, this.token);
    const grace = this.#current >= 0 ? GRACE_MS.silent : GRACE_MS.answering;
    this.#done = within(Promise.all([left, cleaned]), grace).then(() => this.#reject(reason));
  }
}
