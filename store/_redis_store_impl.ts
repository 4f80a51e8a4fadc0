/**
 * What `RedisStore` (./redis_store.ts) loads on first use: runs atomic operations through a
 * {@linkcode Driver} (one per client family) with EVALSHA, falling back to EVAL on NOSCRIPT (so a
 * `SCRIPT FLUSH`, a restart or a new node is survived), batches calls to batchable scripts, and
 * shares one pub/sub subscription per channel among the store's listeners.
 *
 * @module
 */
import { ClosedError, StoreError } from "../core/errors.ts";
import { Batcher } from "./_batcher.ts";
import { type Driver, ServerReplyError } from "./driver.ts";
import { luaSource } from "./_lua.ts";
import { mapScriptError } from "./script_failure.ts";
import { slotOf } from "./slot.ts";
import { toArg } from "./script.ts";
import type { Reply, Script, Unsubscribe } from "./types.ts";

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function isNoScript(e: unknown): boolean {
  return e instanceof ServerReplyError && e.isNoScript;
}

function toDistkitError(e: unknown, script: Script): unknown {
  if (e instanceof StoreError || e instanceof ClosedError) return e;
  if (e instanceof ServerReplyError) return mapScriptError(e.message, e.cause ?? e);
  return new StoreError(`Redis call '${script.name}' failed: ${errorText(e)}`, e);
}

/** `argv` as strings (numbers formatted without exponent); itself when it holds strings only. */
function stringArgs(argv: readonly (string | number)[]): readonly string[] {
  for (let i = 0; i < argv.length; i++) {
    if (typeof argv[i] !== "string") return argv.map(toArg);
  }
  return argv as readonly string[];
}

/** What {@linkcode RedisStoreImpl} is built from: validated by `RedisStore`. @internal */
export interface RedisStoreParts {
  driver: Driver;
  /**
   * Bounds each call as it is sent (a batch once, whatever its items) and lets the store's
   * breaker see it fail: `RedisStore`'s resilience layer.
   */
  sent: <T>(call: Promise<T>) => Promise<T>;
  batch: boolean;
}

/**
 * The Redis-backed store's implementation; `RedisStore` builds it on its first call.
 *
 * @example
 * ```ts ignore
 * import { RedisStore } from "./redis_store.ts";
 * await using store = new RedisStore(client); // loads and builds this on its first call
 * ```
 * @internal
 */
export class RedisStoreImpl {
  /** The client's driver. */
  readonly driver: Driver;
  /** Bounds each call sent, and observes its failure. */
  readonly #sent: <T>(call: Promise<T>) => Promise<T>;
  /** channel → this store's listeners (one driver subscription per channel). */
  #listeners = new Map<string, Set<(message: string) => void>>();
  /** channel → its driver subscription (while being made, too). */
  #subscriptions = new Map<string, Promise<() => Promise<void>>>();
  #closed = false;
  /** Stops listening for the user's client to end (set while this store listens). */
  #unwatchEnd: (() => void) | undefined;
  /** Collects calls to batchable scripts (undefined: batching off). */
  #batcher: Batcher | undefined;
  /** Batch per slot: a cluster, or a server that refused a batch across slots. */
  #bySlot = false;

  /** @param options what `RedisStore` validated */
  constructor(options: RedisStoreParts) {
    this.driver = options.driver;
    this.#bySlot = this.driver.isCluster;
    this.#sent = options.sent;
    if (options.batch !== false) {
      this.#batcher = new Batcher({
        single: (script, keys, argv) => this.#evalSha(script, keys, argv),
        batch: (script, keys, argv) => {
          const b = script.batch!;
          return this.#sent(
            this.driver.evalSha(b.sha1, keys, argv).catch((e) => {
              if (!isNoScript(e)) throw e;
              return luaSource(b).then((lua) => this.driver.eval(lua, keys, argv));
            }).catch((e) => {
              throw this.#failure(e, script);
            }),
          );
        },
        itemError: (message) => mapScriptError(message),
        // A server behind a sharding proxy refuses a script call on keys of several slots even
        // without cluster mode: send that batch call by call, and batch per slot from then on.
        split: (e) => {
          if (this.#bySlot || !(e instanceof StoreError) || !e.message.includes("CROSSSLOT")) {
            return false;
          }
          this.#bySlot = true;
          return true;
        },
      });
    }
  }

  /**
   * Runs `script` with EVALSHA, loading it with EVAL on NOSCRIPT; the call is bounded when it is
   * sent (with the others of its batch).
   * @param script the operation
   * @param keys its keys (one hash tag)
   * @param argv its arguments
   * @returns the script's reply
   */
  run(
    script: Script,
    keys: readonly string[],
    argv: readonly (string | number)[],
  ): Promise<Reply> {
    if (this.#closed) return Promise.reject(new ClosedError("RedisStore"));
    // With batching on, every call goes through the batcher, which keeps a slot's calls in the
    // order made (a call without a batch form is sent at once when nothing is open).
    return this.#batcher !== undefined && keys.length > 0
      ? this.#batcher.add(script, keys, this.#group(keys[0]!), argv)
      : this.#evalSha(script, keys, argv);
  }

  /** A call's order group (its batches are per script within it): its slot on a cluster. */
  #group(key: string): string {
    return this.#bySlot ? String(slotOf(key)) : "";
  }

  /** One call by itself: EVALSHA, then EVAL on NOSCRIPT. */
  #evalSha(
    script: Script,
    keys: readonly string[],
    argv: readonly (string | number)[],
  ): Promise<Reply> {
    const args = stringArgs(argv);
    // One reaction on the success path: an uncontended lock pays for every promise hop.
    return this.#sent(
      this.driver.evalSha(script.sha1, keys, args).catch((e) =>
        this.#onEvalShaError(e, script, keys, args)
      ),
    );
  }

  /**
   * A failed call's distkit error. A call that fails without a reply from Redis once this store is
   * closed (its client closed under it, say) fails with `ClosedError`: what ended it is the
   * close, and a caller that retries store failures (a lock's clean-up, a lax counter's flush)
   * stops at once instead of retrying on timers a closed store can never serve.
   */
  #failure(e: unknown, script: Script): unknown {
    if (this.#closed && !(e instanceof ServerReplyError) && !(e instanceof ClosedError)) {
      return new ClosedError("RedisStore");
    }
    return toDistkitError(e, script);
  }

  /**
   * NOSCRIPT (after `SCRIPT FLUSH` or a restart): send the source, which also caches it. Any
   * other failure becomes a distkit error.
   */
  #onEvalShaError(
    e: unknown,
    script: Script,
    keys: readonly string[],
    args: readonly string[],
  ): Promise<Reply> {
    if (isNoScript(e)) {
      return luaSource(script).then((lua) => this.driver.eval(lua, keys, args)).catch((e2) => {
        throw this.#failure(e2, script);
      });
    }
    throw this.#failure(e, script);
  }

  /**
   * Subscribes through the driver (sharded pub/sub where it has it). One driver subscription per
   * channel is shared by every listener of this store.
   * @param channel the channel (carrying its keys' hash tag)
   * @param listener called with each message
   * @returns a function that unsubscribes
   */
  async subscribe(channel: string, listener: (message: string) => void): Promise<Unsubscribe> {
    if (this.#closed) throw new ClosedError("RedisStore");
    const driver = this.driver;
    if (driver.pubsub === "none" || driver.subscribe === undefined) {
      throw new StoreError(`Cannot subscribe to '${channel}': ${driver.name} has no pub/sub here`);
    }
    if (!driver.isOpen()) {
      // Never connected, or closed by the user: a subscriber made from it would only reconnect
      // forever (and keep the process alive). Callers fall back to polling.
      throw new StoreError(`Cannot subscribe to '${channel}': the client is not open`);
    }
    const wrapped = (m: string) => listener(m);
    let set = this.#listeners.get(channel);
    if (set === undefined) {
      set = new Set([wrapped]);
      this.#listeners.set(channel, set);
      // The driver's connections go when the user closes their client (it is opened again if
      // needed), so they never keep a process alive, nor reconnect, on the user's behalf.
      this.#unwatchEnd ??= driver.onEnd?.(this.#onClientEnd);
      const made = driver.subscribe(channel, (m) => this.#dispatch(channel, m));
      this.#subscriptions.set(channel, made);
      try {
        await made;
      } catch (e) {
        if (this.#listeners.get(channel) === set) this.#listeners.delete(channel);
        if (this.#subscriptions.get(channel) === made) this.#subscriptions.delete(channel);
        throw new StoreError(`Cannot subscribe to '${channel}': ${errorText(e)}`, e);
      }
    } else {
      set.add(wrapped);
      try {
        await this.#subscriptions.get(channel);
      } catch (e) {
        set.delete(wrapped);
        throw new StoreError(`Cannot subscribe to '${channel}': ${errorText(e)}`, e);
      }
    }
    return async () => {
      const s = this.#listeners.get(channel);
      if (s === undefined || !s.delete(wrapped) || s.size > 0) return;
      this.#listeners.delete(channel);
      const made = this.#subscriptions.get(channel);
      this.#subscriptions.delete(channel);
      if (this.#closed || made === undefined) return;
      try {
        await (await made)();
      } catch {
        // The connection is gone; there is nothing left to unsubscribe.
      }
    };
  }

  #dispatch(channel: string, message: string): void {
    const s = this.#listeners.get(channel);
    if (s === undefined) return;
    for (const l of [...s]) l(message);
  }

  /**
   * The user closed their client (`close()`, `quit()`, `destroy()`): close the connections the
   * driver opened from it, so they keep nothing alive (not even a reconnect loop while Redis is
   * down). The store stays usable: a later subscription opens them again.
   */
  #onClientEnd = (): void => {
    this.#unwatchEnd?.();
    this.#unwatchEnd = undefined;
    this.#listeners.clear();
    this.#subscriptions.clear();
    void this.driver.close().catch(() => {});
  };

  /** Closes the connections the driver opened; the user's client stays open. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#batcher?.flush();
    this.#unwatchEnd?.();
    this.#unwatchEnd = undefined;
    this.#listeners.clear();
    this.#subscriptions.clear();
    try {
      await this.driver.close();
    } catch {
      // Already gone.
    }
  }
}
