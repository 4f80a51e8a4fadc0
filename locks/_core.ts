/**
 * The acquisition engine shared by {@linkcode Mutex} and {@linkcode RwLock}: one direct attempt,
 * then (for the waiting forms) a parked {@linkcode Waiter} woken by pub/sub through a shared
 * {@linkcode WaitHub}, bounded by a deadline, a retry budget and an abort signal. A waiter that
 * gives up leaves the hub and the store's queue before its promise settles.
 *
 * @module
 */
import {
  InvalidArgumentError,
  LockRetriesExhaustedError,
  LockTimeoutError,
} from "../core/errors.ts";
import { intInRange } from "../core/int.ts";
import { validateKey } from "../core/keys.ts";
import { newId } from "../core/uuid.ts";
import { toStore } from "../store/to_store.ts";
import type { Store } from "../store/types.ts";
import { CLOCK } from "./_clock.ts";
import { type HubWaiter, release, routeOf, WaitHub } from "./_hub.ts";
import {
  acquireOnce,
  type AttemptResult,
  type LockKeys,
  lockKeys,
  type Mode,
  newToken,
} from "./_remote.ts";
import type { GuardInit } from "./guard.ts";
import type { LockOptions } from "./options.ts";
import { duration, MAX_DURATION_MS, ownerIdOf } from "./_validate.ts";

/** How long a give-up waits for its clean-up call before settling anyway, ms. */
const ABANDON_WAIT_MS = 1000;

/** One acquisition request. */
export interface Plan {
  /** Write or read. */
  mode: Mode;
  /** One attempt only: `null` on failure. */
  oneShot?: boolean;
  /** Give up after this many ms. */
  timeoutMs?: number | undefined;
  /** Give up after this many retries (attempts after the first). */
  retries?: number | undefined;
  /** Give up when aborted, with its reason. */
  signal?: AbortSignal | undefined;
}

/** Validated options and the engine. */
export class LockCore {
  readonly key: string;
  readonly namespace: string;
  readonly ttlMs: number;
  readonly ownerId: string;
  readonly maxWaitMs: number | undefined;
  readonly retryIntervalMs: number;
  readonly store: Store;
  readonly keys: LockKeys;
  /** The fallback poll's cap, ms. */
  readonly capMs: number;
  /** How long a waiting writer stays queued without trying again, ms. */
  readonly queueMs: number;
  /** Random per lock object (a UUID v7): with a sequence number, each acquisition's own token. */
  #tokenBase = newId();
  #seq = 0;

  constructor(options: LockOptions, kind: "mutex" | "rw") {
    if (options === null || typeof options !== "object") {
      throw new InvalidArgumentError("Lock options must be an object");
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
    this.keys = lockKeys(this.namespace, this.key, kind);
    this.capMs = Math.max(this.retryIntervalMs, Math.min(1000, Math.floor(this.ttlMs / 3)));
    this.queueMs = 3 * this.capMs + 250;
  }

  /**
   * Runs `plan`.
   * @returns what the guard needs, or `null` when a one-shot attempt failed
   */
  async acquire(plan: Plan): Promise<GuardInit | null> {
    const { mode, signal } = plan;
    signal?.throwIfAborted();
    const token = newToken(
      `${this.#tokenBase}.${(this.#seq++).toString(36)}`,
      this.ttlMs,
      routeOf(this.store),
      this.ownerId,
    );
    const start = performance.now();
    const waits = !plan.oneShot && plan.timeoutMs !== 0 && plan.retries !== 0;
    // A waiting writer queues; a waiting reader keeps the read-waiters marker alive (so releases
    // publish wake-ups). A single attempt leaves nothing behind.
    const queueMs = waits ? this.queueMs : 0;
    if (waits) {
      // Under contention this process is usually subscribed already: park first, then try.
      const hub = WaitHub.ready(this.store, this.keys.channel);
      if (hub !== undefined) {
        return await new Waiter(this, plan, token, start, queueMs).run(hub);
      }
    }
    let first: AttemptResult;
    CLOCK.hold(); // a win's guard will want the shared timer: keep it meanwhile
    try {
      first = await acquireOnce(this.store, this.keys, mode, token, this.ttlMs, queueMs);
    } catch (e) {
      if (!waits) {
        CLOCK.unhold();
        await this.abandon(mode, token); // a lost reply may have acquired or queued
        throw e;
      }
      first = { ok: false, hintMs: -1 }; // transient: keep waiting
    }
    CLOCK.unhold();
    if (first.ok) {
      if (signal?.aborted) {
        await this.abandon(mode, token);
        throw signal.reason;
      }
      return this.init(mode, token, 0, first.fence, start);
    }
    if (!waits) {
      if (plan.oneShot) return null;
      if (plan.retries === 0) throw new LockRetriesExhaustedError(this.key, 0);
      throw new LockTimeoutError(this.key, Math.round(performance.now() - start));
    }
    const waiter = new Waiter(this, plan, token, start, queueMs);
    waiter.noteTicket(first.ticket, start);
    return await waiter.run(first.hintMs);
  }

  /** The guard's birth certificate. */
  init(mode: Mode, token: string, onAttempt: number, fence: number, sentAt: number): GuardInit {
    return {
      store: this.store,
      keys: this.keys,
      key: this.key,
      mode,
      token,
      ttlMs: this.ttlMs,
      onAttempt,
      fence,
      sentAt,
    };
  }

  /**
   * Removes every trace of `token` (a queued entry, or a lease won by an attempt whose reply came
   * too late). Best effort: a failure leaves entries that expire by themselves. The caller waits
   * at most `ABANDON_WAIT_MS`; the call itself may finish later.
   */
  async abandon(mode: Mode, token: string): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<void>((resolve) => timer = setTimeout(resolve, ABANDON_WAIT_MS));
    await Promise.race([this.#cleanUp(mode, token), timeout]);
    clearTimeout(timer);
  }

  /**
   * The same clean-up when nobody waits for it: no timer (one left running would outlive its
   * owner); the store call settles by itself, or when the store closes.
   */
  abandonInBackground(mode: Mode, token: string): void {
    void this.#cleanUp(mode, token);
  }

  #cleanUp(mode: Mode, token: string): Promise<unknown> {
    return release(this.store, this.keys, mode, token).catch(() => false);
  }
}

/** A parked acquisition. */
class Waiter implements HubWaiter {
  readonly baseMs: number;
  readonly capMs: number;
  readonly token: string;
  #core: LockCore;
  #plan: Plan;
  #start: number;
  #queueMs: number;
  #next = 1;
  #inFlight = false;
  #again = false;
  #settled = false;
  #won = false;
  #hub: Promise<WaitHub> | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** The ticket of this waiter's queue entry, as the latest attempt that reported one saw it. */
  #ticket: string | undefined;
  /** When the latest attempt that found (or made) that entry was sent. */
  #ticketAt = 0;
  #resolve!: (init: GuardInit) => void;
  #reject!: (reason: unknown) => void;

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
   * Waits. With a subscribed `hub`, parks on it and makes the first attempt (index 0); otherwise
   * (after a failed first attempt whose reply carried `hint`) joins the hub, subscribing, and
   * tries once more when the subscription is active.
   */
  run(hubOrHint: WaitHub | number): Promise<GuardInit> {
    return new Promise<GuardInit>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
      const { signal, timeoutMs } = this.#plan;
      if (signal?.aborted) return void this.#giveUp(signal.reason);
      signal?.addEventListener("abort", this.#onAbort, { once: true });
      if (timeoutMs !== undefined) {
        const left = Math.max(0, this.#start + timeoutMs - performance.now());
        this.#timer = setTimeout(
          () => this.#giveUp(new LockTimeoutError(this.#core.key, this.#waited())),
          left,
        );
      }
      if (typeof hubOrHint !== "number") {
        const hub = hubOrHint;
        this.#hub = Promise.resolve(hub);
        this.#next = 0;
        hub.add(this);
        this.attempt();
        return;
      }
      this.#hub = WaitHub.join(this.#core.store, this.#core.keys.channel, this);
      void this.#hub.then((hub) => {
        if (this.#settled) return;
        hub.hint(hubOrHint);
        this.attempt(); // covers a release that happened before the subscription was active
      });
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
    if (this.#inFlight) {
      this.#again = true;
      return;
    }
    this.#inFlight = true;
    this.#again = false;
    const n = this.#next++;
    const sentAt = performance.now();
    const { store, keys, ttlMs } = this.#core;
    acquireOnce(store, keys, this.#plan.mode, this.token, ttlMs, this.#queueMs).then(
      (r) => this.#after(n, sentAt, r),
      () => this.#after(n, sentAt, { ok: false, hintMs: -1 }),
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
        this.#core.init(this.#plan.mode, this.token, this.#next, fence, this.#ticketAt),
      );
      return;
    }
    this.attempt();
  }

  #after(n: number, sentAt: number, r: AttemptResult): void {
    this.#inFlight = false;
    if (this.#settled) {
      // Gave up meanwhile: the clean-up normally runs after this attempt, but be sure. (Won
      // meanwhile, by a grant: this attempt found the same lease, which is ours to keep.)
      if (r.ok && !this.#won) this.#core.abandonInBackground(this.#plan.mode, this.token);
      return;
    }
    if (r.ok) {
      this.#finish(true);
      this.#resolve(this.#core.init(this.#plan.mode, this.token, n, r.fence, sentAt));
      return;
    }
    this.noteTicket(r.ticket, sentAt);
    const { retries } = this.#plan;
    if (retries !== undefined && n >= retries) {
      return void this.#giveUp(new LockRetriesExhaustedError(this.#core.key, retries));
    }
    void this.#hub?.then((hub) => hub.hint(r.hintMs));
    if (this.#again) this.attempt();
  }

  /** Stops the timer and the abort listener; leaves the hub (which lingers after a success). */
  #finish(success = false): Promise<void> {
    this.#settled = true;
    this.#won = success;
    clearTimeout(this.#timer);
    this.#plan.signal?.removeEventListener("abort", this.#onAbort);
    return this.#hub?.then((hub) => hub.leave(this, success)) ?? Promise.resolve();
  }

  async #giveUp(reason: unknown): Promise<void> {
    if (this.#settled) return;
    const left = this.#finish();
    await Promise.all([left, this.#core.abandon(this.#plan.mode, this.token)]);
    this.#reject(reason);
  }
}
