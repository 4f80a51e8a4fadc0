/**
 * `WaitHub`: the waiters of one lock in one process (per store) share one pub/sub subscription and
 * one fallback poller. A release publishes a wake-up; the hub then lets every local waiter try
 * once. Polling (capped exponential backoff with full jitter) only covers a lost message or a
 * lease that expired without a release.
 *
 * @module
 */
import { backoff } from "../core/backoff.ts";
import { newId } from "../core/uuid.ts";
import type { Store, Unsubscribe } from "../store/types.ts";
import { grantChannel, parseWake } from "./_remote.ts";
import { tokenRoute } from "./_scripts.ts";

/** A parked acquisition, as the hub sees it. */
export interface HubWaiter {
  /** Its acquisition token. */
  readonly token: string;
  /** Try once now (a no-op while an attempt is in flight, which then retries once more). */
  attempt(): void;
  /** A release handed the lease to this waiter's queue entry `ticket`, with fencing token `fence`. */
  granted(fence: number, ticket: string): void;
  /** The poll's first delay bound, ms. */
  readonly baseMs: number;
  /** The poll's delay cap, ms. */
  readonly capMs: number;
}

const HUBS = new WeakMap<Store, Map<string, WaitHub>>();
const ROUTES = new WeakMap<Store, string>();
/** The stores of this process by route, so a release can find a grantee's hub here. */
const STORES = new Map<string, WeakRef<Store>>();
const FORGET = new FinalizationRegistry<string>((route) => STORES.delete(route));

/**
 * This process's route on `store`: the tokens it makes carry it, and a release publishes a grant
 * to one of them on `<lock channel>:<route>`, which only this process's hubs subscribe to (a
 * hand-off then wakes one process, not every process waiting on the lock).
 * @param store the store
 * @returns a short random id, the same for every lock on that store object
 */
export function routeOf(store: Store): string {
  let route = ROUTES.get(store);
  if (route === undefined) {
    ROUTES.set(store, route = newId().replaceAll("-", "").slice(-12));
    STORES.set(route, new WeakRef(store));
    FORGET.register(store, route);
  }
  return route;
}

/** Hubs with no waiter left after a success, kept subscribed (oldest first) for the next wait. */
const IDLE = new WeakMap<Store, Set<WaitHub>>();
/** How many idle subscriptions a store keeps at most. */
const MAX_IDLE = 8;

/** The waiters of one channel on one store. */
export class WaitHub {
  #store: Store;
  #channel: string;
  #waiters = new Map<string, HubWaiter>();
  #unsubscribe: Promise<Unsubscribe | undefined> | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #due = Infinity;
  #polls = 0;
  #subscribed = false;
  #closed = false;

  private constructor(store: Store, channel: string) {
    this.#store = store;
    this.#channel = channel;
  }

  /**
   * Parks `waiter` on the hub of `channel` (creating it and starting its subscription if needed),
   * at once: the hub polls even while the subscription is still being made (or never answers).
   * Once {@linkcode WaitHub.subscribed} settles, the waiter should try once, so a release that
   * happened before the subscription was active is never missed.
   * @returns the hub, to leave later
   */
  static join(store: Store, channel: string, waiter: HubWaiter): WaitHub {
    let byChannel = HUBS.get(store);
    if (byChannel === undefined) HUBS.set(store, byChannel = new Map());
    let hub = byChannel.get(channel);
    if (hub === undefined) byChannel.set(channel, hub = new WaitHub(store, channel));
    hub.add(waiter);
    void hub.#subscribe();
    return hub;
  }

  /** Settles once the subscription is active, or failed (polling then covers it). */
  subscribed(): Promise<unknown> {
    return this.#subscribe();
  }

  /**
   * Closes the hub of `channel` on `store` if no waiter is parked on it (a lock being closed
   * drops the idle subscription its last wait left behind).
   * @returns when the unsubscription (if any) is done
   */
  static drop(store: Store, channel: string): Promise<void> {
    const hub = HUBS.get(store)?.get(channel);
    return hub === undefined || hub.size > 0 ? Promise.resolve() : hub.#close();
  }

  /**
   * The hub of `channel` if its subscription is already active: a waiter parked on it before its
   * first attempt misses no wake-up, so it needs no extra attempt after parking.
   */
  static ready(store: Store, channel: string): WaitHub | undefined {
    const hub = HUBS.get(store)?.get(channel);
    return hub !== undefined && hub.#subscribed && !hub.#closed ? hub : undefined;
  }

  /** Parks `waiter` on this hub (its fallback poll starts at once). */
  add(waiter: HubWaiter): void {
    IDLE.get(this.#store)?.delete(this);
    this.#waiters.set(waiter.token, waiter);
    if (this.#waiters.size === 1) this.#polls = 0;
    this.#arm();
  }

  /**
   * Hands a grant message of a release on `channel` to the grantee's hub, if it is in this
   * process (its token's route names one of our stores).
   */
  static deliver(channel: string, message: string): void {
    const wake = parseWake(message);
    if (!wake.grant) return;
    const route = tokenRoute(wake.token);
    const store = route === undefined ? undefined : STORES.get(route)?.deref();
    const hub = store === undefined ? undefined : HUBS.get(store)?.get(channel);
    if (hub !== undefined) hub.#onMessage(message);
  }

  /** How many hubs exist for `store` (tests check that waiters clean up). */
  static count(store: Store): number {
    return HUBS.get(store)?.size ?? 0;
  }

  /** The number of parked waiters. */
  get size(): number {
    return this.#waiters.size;
  }

  /** Subscribes to the lock's channel ("free" wake-ups) and this process's grant channel. */
  #subscribe(): Promise<Unsubscribe | undefined> {
    if (this.#unsubscribe === undefined) {
      const listener = (m: string) => this.#onMessage(m);
      const channels = [this.#channel, grantChannel(this.#channel, routeOf(this.#store))];
      const p = Promise.allSettled(channels.map((c) => this.#store.subscribe(c, listener)))
        .then(async (results) => {
          const done = results.flatMap((r) => r.status === "fulfilled" ? [r.value] : []);
          const unsubscribe = async () => {
            for (const u of done) await u();
          };
          if (done.length === channels.length) {
            this.#subscribed = true;
            return unsubscribe;
          }
          // Polling covers it; the next poll subscribes again.
          await unsubscribe().catch(() => {});
          if (this.#unsubscribe === p) this.#unsubscribe = undefined;
          return undefined;
        });
      this.#unsubscribe = p;
    }
    return this.#unsubscribe;
  }

  /** A grant settles its waiter (if it is ours); a "free" wake-up lets every waiter try once. */
  #onMessage(message: string): void {
    const wake = parseWake(message);
    if (wake.grant) this.#waiters.get(wake.token)?.granted(wake.fence, wake.ticket);
    else this.#kick();
  }

  /** Lets every waiter try once. */
  #kick(): void {
    for (const w of [...this.#waiters.values()]) w.attempt();
  }

  /** Schedules the next fallback poll, unless one is due. */
  #arm(): void {
    if (this.#closed || this.#waiters.size === 0 || this.#timer !== undefined) return;
    let base = Infinity;
    let cap = Infinity;
    for (const w of this.#waiters.values()) {
      base = Math.min(base, w.baseMs);
      cap = Math.min(cap, w.capMs);
    }
    this.#schedule(backoff(this.#polls++, { baseMs: base, maxMs: cap }));
  }

  #schedule(ms: number): void {
    clearTimeout(this.#timer);
    this.#due = performance.now() + ms;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#due = Infinity;
      void this.#subscribe();
      this.#kick();
      this.#arm();
    }, ms); // not unref'd: a waiting acquisition is work in progress
  }

  /**
   * A waiter learned that the blocking leases run out in `ms`: poll right after that, if sooner
   * than planned (a crashed holder publishes nothing).
   */
  hint(ms: number): void {
    if (this.#closed || ms < 0 || this.#waiters.size === 0) return;
    if (performance.now() + ms + 1 < this.#due) this.#schedule(ms + 1);
  }

  /**
   * Unparks `waiter`. When the last one leaves after a success (`linger`), the hub stays
   * subscribed, idle and timer-free, for the next wait on this lock (a store keeps at most
   * {@linkcode MAX_IDLE}, dropping the oldest); otherwise it stops and unsubscribes at once.
   * @returns when the unsubscription (if any) is done
   */
  async leave(waiter: HubWaiter, linger = false): Promise<void> {
    if (this.#waiters.get(waiter.token) !== waiter) return;
    this.#waiters.delete(waiter.token);
    if (this.#waiters.size > 0 || this.#closed) return;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#due = Infinity;
    if (linger && this.#subscribed) {
      let idle = IDLE.get(this.#store);
      if (idle === undefined) IDLE.set(this.#store, idle = new Set());
      idle.add(this);
      if (idle.size > MAX_IDLE) {
        const oldest = idle.values().next().value!;
        await oldest.#close();
      }
      return;
    }
    await this.#close();
  }

  async #close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    IDLE.get(this.#store)?.delete(this);
    const byChannel = HUBS.get(this.#store);
    if (byChannel?.get(this.#channel) === this) byChannel.delete(this.#channel);
    const unsubscribe = await this.#unsubscribe;
    await unsubscribe?.().catch(() => {});
  }
}
