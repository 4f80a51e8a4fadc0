/**
 * What `RedisStore` (./redis_store.ts) loads on first use: runs atomic operations on a node-redis
 * v5 client or cluster with EVALSHA (falling back to EVAL on NOSCRIPT, so a `SCRIPT FLUSH` or a
 * restart is survived), and gives sharded pub/sub. node-redis is never imported at run time: the
 * client is typed structurally.
 *
 * @module
 */
import { ClosedError, StoreError } from "../core/errors.ts";
import { Batcher } from "./_batcher.ts";
import { luaSource } from "./_lua.ts";
import { mapScriptError } from "./script_failure.ts";
import { slotOf } from "./slot.ts";
import { TimeoutQueue } from "../core/timeout_queue.ts";
import { toArg } from "./script.ts";
import type { EvalOptions, RedisClientLike } from "./redis_store.ts";
import type { Reply, Script, Unsubscribe } from "./types.ts";

/** A standalone client: also knows how to open a second connection for subscriptions. */
interface StandaloneLike extends RedisClientLike {
  duplicate(): StandaloneLike & {
    connect(): Promise<unknown>;
    close?(): Promise<unknown>;
    quit?(): Promise<unknown>;
    destroy?(): unknown;
    unref?(): unknown;
    on?(event: string, fn: (e: unknown) => void): unknown;
  };
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function isErrorReply(e: unknown): boolean {
  const name = (e as { constructor?: { name?: string } })?.constructor?.name;
  return name === "ErrorReply" || name === "SimpleError" || name === "BlobError";
}

function toDistkitError(e: unknown, script: Script): unknown {
  if (e instanceof StoreError || e instanceof ClosedError) return e;
  if (isErrorReply(e)) return mapScriptError(errorText(e), e);
  return new StoreError(`Redis call '${script.name}' failed: ${errorText(e)}`, e);
}

/** What {@linkcode RedisStoreImpl} is built from: validated by `RedisStore`. @internal */
export interface RedisStoreParts {
  client: RedisClientLike;
  isCluster: boolean;
  /** `0`: unbounded. */
  commandTimeoutMs: number;
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
  /** The wrapped node-redis client or cluster. */
  readonly client: RedisClientLike;
  /** Whether the client is a cluster. */
  readonly isCluster: boolean;
  /** Bounds calls when `commandTimeoutMs` > 0 (one timer for all calls in flight). */
  #timeouts: TimeoutQueue | undefined;
  #subscriber:
    | Promise<
      RedisClientLike & {
        close?(): Promise<unknown>;
        quit?(): Promise<unknown>;
        destroy?(): unknown;
      }
    >
    | undefined;
  #listeners = new Map<string, Set<(message: string) => void>>();
  #closed = false;
  /** The standalone subscriber connection, as soon as it is made (still connecting or not). */
  #dup:
    | (RedisClientLike & {
      close?(): Promise<unknown>;
      quit?(): Promise<unknown>;
      destroy?(): unknown;
    })
    | undefined;
  /** Whether this store listens for the user's client to end. */
  #endWatched = false;
  /** Collects calls to batchable scripts (undefined: batching off). */
  #batcher: Batcher | undefined;
  /** Batch per slot: a cluster, or a server that refused a batch across slots. */
  #bySlot = false;

  /** @param options what `RedisStore` validated */
  constructor(options: RedisStoreParts) {
    const t = options.commandTimeoutMs;
    this.client = options.client;
    this.isCluster = options.isCluster;
    this.#bySlot = this.isCluster;
    this.#timeouts = t === 0 ? undefined : new TimeoutQueue(
      t,
      (ms) => new StoreError(`Redis did not answer within ${ms} ms`),
    );
    if (options.batch !== false) {
      this.#batcher = new Batcher({
        single: (script, keys, argv) => this.#evalSha(script, keys, argv),
        batch: (script, keys, argv) => {
          const b = script.batch!;
          return this.#send("EVALSHA", b.sha1, keys, argv).catch((e) => {
            if (!isErrorReply(e) || !errorText(e).startsWith("NOSCRIPT")) throw e;
            return luaSource(b).then((lua) => this.#send("EVAL", lua, keys, argv));
          }).catch((e) => {
            throw toDistkitError(e, script);
          });
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
   * Runs `script` with EVALSHA, loading it with EVAL on NOSCRIPT.
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
    const call = this.#batcher !== undefined && keys.length > 0
      ? this.#batcher.add(script, keys, this.#group(keys[0]!), argv)
      : this.#evalSha(script, keys, argv);
    return this.#timeouts === undefined ? call : this.#timeouts.bound(call).catch((e) => {
      throw toDistkitError(e, script);
    });
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
    // One reaction on the success path: an uncontended lock pays for every promise hop.
    return this.#send("EVALSHA", script.sha1, keys, argv).catch((e) =>
      this.#onEvalShaError(e, script, keys, argv)
    );
  }

  /** `EVALSHA`/`EVAL` with the raw command when the client has one, else its own methods. */
  #send(
    command: "EVALSHA" | "EVAL",
    body: string,
    keys: readonly string[],
    argv: readonly (string | number)[],
  ): Promise<Reply> {
    const client = this.client as RedisClientLike & {
      sendCommand?: (...a: unknown[]) => Promise<Reply>;
    };
    if (typeof client.sendCommand !== "function") {
      const options: EvalOptions = { keys: keys as string[], arguments: argv.map(toArg) };
      return (command === "EVALSHA"
        ? client.evalSha(body, options)
        : client.eval(body, options)) as Promise<Reply>;
    }
    const args: string[] = [command, body, String(keys.length)];
    for (const k of keys) args.push(k);
    for (const a of argv) args.push(typeof a === "string" ? a : toArg(a));
    return this.isCluster ? client.sendCommand(keys[0], false, args) : client.sendCommand(args);
  }

  /**
   * NOSCRIPT (after `SCRIPT FLUSH` or a restart): send the source, which also caches it. Any
   * other failure becomes a distkit error.
   */
  #onEvalShaError(
    e: unknown,
    script: Script,
    keys: readonly string[],
    argv: readonly (string | number)[],
  ): Promise<Reply> {
    if (isErrorReply(e) && errorText(e).startsWith("NOSCRIPT")) {
      return luaSource(script).then((lua) => this.#send("EVAL", lua, keys, argv)).catch((e2) => {
        throw toDistkitError(e2, script);
      });
    }
    throw toDistkitError(e, script);
  }

  /**
   * Subscribes with `SSUBSCRIBE` (on a second connection for a standalone client; the cluster
   * client manages its own per-shard connections). One Redis subscription per channel is shared
   * by every listener of this store.
   * @param channel the channel (carrying its keys' hash tag)
   * @param listener called with each message
   * @returns a function that unsubscribes
   */
  async subscribe(channel: string, listener: (message: string) => void): Promise<Unsubscribe> {
    if (this.#closed) throw new ClosedError("RedisStore");
    if ((this.client as { isOpen?: unknown }).isOpen === false) {
      // Never connected, or closed by the user: a subscriber made from it would only reconnect
      // forever (and keep the process alive). Callers fall back to polling.
      throw new StoreError(`Cannot subscribe to '${channel}': the client is not open`);
    }
    const wrapped = (m: string) => listener(m);
    let set = this.#listeners.get(channel);
    if (set === undefined) {
      set = new Set([wrapped]);
      this.#listeners.set(channel, set);
      try {
        const sub = await this.#subscriberClient();
        await sub.sSubscribe(channel, this.#dispatch);
      } catch (e) {
        this.#listeners.delete(channel);
        throw new StoreError(`Cannot subscribe to '${channel}': ${errorText(e)}`, e);
      }
    } else {
      set.add(wrapped);
    }
    return async () => {
      const s = this.#listeners.get(channel);
      if (s === undefined || !s.delete(wrapped) || s.size > 0) return;
      this.#listeners.delete(channel);
      if (this.#closed) return;
      try {
        const sub = await this.#subscriberClient();
        await sub.sUnsubscribe(channel, this.#dispatch);
      } catch {
        // The connection is gone; there is nothing left to unsubscribe.
      }
    };
  }

  #dispatch = (message: string, channel: string): void => {
    const s = this.#listeners.get(channel);
    if (s === undefined) return;
    for (const l of [...s]) l(message);
  };

  #subscriberClient(): Promise<
    RedisClientLike & { close?(): Promise<unknown>; quit?(): Promise<unknown>; destroy?(): unknown }
  > {
    if (this.#subscriber === undefined) {
      if (this.isCluster) {
        this.#subscriber = Promise.resolve(this.client);
      } else {
        const dup = (this.client as StandaloneLike).duplicate();
        dup.on?.("error", () => {}); // reconnects by itself; errors surface on calls
        // The subscriber never keeps a process alive by itself: the user's client does, and when
        // the user closes it ("end"), the subscriber goes too (it is opened again if needed).
        dup.unref?.();
        this.#dup = dup;
        this.#watchEnd();
        const p = this.#subscriber = dup.connect().then(() => dup);
        p.catch(() => {
          if (this.#subscriber === p) this.#subscriber = undefined;
        });
      }
    }
    return this.#subscriber;
  }

  /** Listens (once) for the user's standalone client to end. */
  #watchEnd(): void {
    const client = this.client as { on?: unknown; off?: unknown; removeListener?: unknown };
    if (this.#endWatched || typeof client.on !== "function") return;
    this.#endWatched = true;
    (client.on as (e: string, fn: () => void) => unknown).call(client, "end", this.#onClientEnd);
  }

  #unwatchEnd(): void {
    if (!this.#endWatched) return;
    this.#endWatched = false;
    const client = this.client as { off?: unknown; removeListener?: unknown };
    const off = typeof client.off === "function" ? client.off : client.removeListener;
    if (typeof off === "function") {
      (off as (e: string, fn: () => void) => unknown).call(client, "end", this.#onClientEnd);
    }
  }

  /**
   * The user closed their client (`close()`, `quit()`, `destroy()`): close the subscriber this
   * store opened from it, so it keeps nothing alive (not even a reconnect loop while Redis is
   * down). The store stays usable: a later subscription opens a new one from the client.
   */
  #onClientEnd = (): void => {
    this.#unwatchEnd();
    const dup = this.#dup;
    this.#dup = undefined;
    this.#subscriber = undefined;
    this.#listeners.clear();
    if (dup !== undefined) void this.#shut(dup); // even while it is still connecting
  };

  /** Closes a subscriber connection (errors ignored: it is gone anyway). */
  async #shut(
    c: RedisClientLike & {
      close?(): Promise<unknown>;
      quit?(): Promise<unknown>;
      destroy?(): unknown;
    },
  ): Promise<void> {
    try {
      if (c.destroy) c.destroy();
      else if (c.close) await c.close();
      else if (c.quit) await c.quit();
    } catch {
      // Already gone.
    }
  }

  /** Closes the subscriber connection this store opened; the user's client stays open. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#unwatchEnd();
    const sub = this.#subscriber;
    this.#subscriber = undefined;
    const channels = [...this.#listeners.keys()];
    this.#listeners.clear();
    const dup = this.#dup;
    this.#dup = undefined;
    if (dup !== undefined) return await this.#shut(dup); // even while it is still connecting
    if (sub === undefined) return;
    try {
      const c = await sub;
      if (this.isCluster) {
        for (const ch of channels) await c.sUnsubscribe(ch).catch(() => {});
      } else if (c.close) await c.close();
      else if (c.quit) await c.quit();
      else c.destroy?.();
    } catch {
      // Already gone.
    }
  }
}
