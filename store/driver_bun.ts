/**
 * The {@linkcode Driver} over Bun's built-in `RedisClient` (`import { RedisClient } from "bun"`,
 * Bun ≥ 1.2.9), which is standalone only. Bun is never imported: the client is typed
 * structurally.
 *
 * **Scripts** go through `send("EVALSHA", [...])` (and `EVAL` on NOSCRIPT, which `RedisStore`
 * does for every driver).
 *
 * **Error replies.** Bun rejects them with an error whose `code` is `ERR_REDIS_SERVER_ERROR` and
 * whose message is the reply's text; the driver rejects with {@linkcode ServerReplyError}. Every
 * other failure (`ERR_REDIS_CONNECTION_CLOSED`, a timeout, ...) is a transport failure and is
 * passed on unchanged.
 *
 * **Replies.** Bun speaks RESP3: integers arrive as numbers (exact within ±(2^53−1), which is all
 * a distkit script returns as an integer: counter values come back as strings), bulk strings as
 * strings, nil and Lua `false` as `null`, arrays as arrays; RESP3-only shapes a script never
 * returns unless it switches protocol (booleans, big numbers, maps) are normalised by the shared
 * `normalizeReply` (./_reply.ts).
 *
 * **Pub/sub** is `plain`: Bun's client has `subscribe`/`unsubscribe` for exact channels but drops
 * sharded messages (`SSUBSCRIBE` through `send` subscribes, yet no listener ever hears an
 * `smessage`). The driver subscribes on a connection of its own (`client.duplicate()`), made on
 * first use, and subscribes it again after a reconnection (Bun reconnects it, but does not restore
 * its subscriptions). A subscribed Bun connection keeps the process alive (an idle one does not), so the
 * driver closes it when the user's client closes: it chains the client's `onclose` handler
 * (calling the one that was set first), from its first subscription on. {@linkcode Driver.close}
 * closes it too.
 *
 * @module
 */
import { type Driver, ServerReplyError } from "./driver.ts";
import type { Reply } from "./types.ts";
import { normalizeReply } from "./_reply.ts";
import { Subscriptions } from "./_subscriptions.ts";

/** The `code` of a Bun error that is the server's error reply. */
const SERVER_ERROR = "ERR_REDIS_SERVER_ERROR";

/** The part of Bun's `RedisClient` this driver calls. */
export interface BunRedisClientLike {
  /** A raw command. */
  send(command: string, args: string[]): Promise<unknown>;
  /** Connects (Bun also connects on the first command). */
  connect?(): Promise<unknown>;
  /** A new connection with the same options. */
  duplicate(): Promise<BunRedisClientLike>;
  /** `SUBSCRIBE channel`, with a listener for its messages. */
  subscribe(
    channel: string,
    listener: (message: string, channel: string) => void,
  ): Promise<unknown>;
  /** `UNSUBSCRIBE channel`. */
  unsubscribe(channel: string): Promise<unknown>;
  /** Closes the connection. */
  close(): void;
  /** Whether the connection is up. */
  readonly connected: boolean;
  /** Called when the connection is made again after it dropped. */
  onconnect?: ((this: BunRedisClientLike) => void) | null | undefined;
  /** Called when the connection closes for good. */
  onclose: ((this: BunRedisClientLike, error: Error) => void) | null | undefined;
}

/**
 * Whether `x` looks like Bun's `RedisClient`.
 *
 * @param x anything
 * @returns whether it has Bun's shape
 *
 * @example
 * ```ts
 * import { isBunRedisClient } from "./driver_bun.ts";
 * console.assert(!isBunRedisClient({ sendCommand() {} }));
 * ```
 */
export function isBunRedisClient(x: unknown): x is BunRedisClientLike {
  const c = x as Record<string, unknown> | null;
  return typeof c === "object" && c !== null && typeof c.send === "function" &&
    typeof c.duplicate === "function" && typeof c.subscribe === "function" &&
    typeof c.unsubscribe === "function" && typeof c.close === "function" &&
    typeof c.connected === "boolean" && "onclose" in c && "bufferedAmount" in c;
}

/** The driver's error for Bun's failure `e`: a {@linkcode ServerReplyError} for a reply. */
function toDriverError(e: unknown): unknown {
  return e instanceof Error && (e as { code?: unknown }).code === SERVER_ERROR
    ? new ServerReplyError(e.message, e)
    : e;
}

function rejectWith(e: unknown): never {
  throw toDriverError(e);
}

/**
 * A {@linkcode Driver} over Bun's `RedisClient`.
 *
 * @example
 * ```ts ignore
 * import { RedisClient } from "bun";
 * import { BunDriver } from "./driver_bun.ts";
 * const client = new RedisClient("redis://127.0.0.1:6379");
 * const driver = new BunDriver(client);
 * console.log(await driver.eval("return 1", [], [])); // 1
 * await driver.close();
 * client.close();
 * ```
 */
export class BunDriver implements Driver {
  /** The client family. */
  readonly name = "bun";
  /** Bun's client is standalone only. */
  readonly isCluster = false;
  /** Exact-channel pub/sub on a connection of the driver's own. */
  readonly pubsub = "plain" as const;
  #client: BunRedisClientLike;
  #subscriber: Promise<BunRedisClientLike> | undefined;
  /** Whether the user's client closed for good (seen once the driver watches it). */
  #ended = false;
  #watching = false;
  #endListeners = new Set<() => void>();
  /** Bumped by every close: a subscriber made before it is closed as soon as it exists. */
  #generation = 0;
  #subscriptions = new Subscriptions({
    subscribe: async (channel) => {
      const sub = await this.#subscriberClient();
      await sub.subscribe(channel, this.#dispatch).catch(rejectWith);
    },
    unsubscribe: async (channel) => {
      const sub = await this.#subscriberClient();
      await sub.unsubscribe(channel);
    },
  });

  /** @param client Bun's `RedisClient` */
  constructor(client: BunRedisClientLike) {
    this.#client = client;
  }

  /**
   * `EVALSHA sha1 numkeys keys... args...`.
   * @param sha1 the script's SHA-1
   * @param keys its keys
   * @param args its arguments
   * @returns the normalised reply
   */
  evalSha(sha1: string, keys: readonly string[], args: readonly string[]): Promise<Reply> {
    return this.#call("EVALSHA", sha1, keys, args);
  }

  /**
   * `EVAL source numkeys keys... args...`.
   * @param source the Lua source
   * @param keys its keys
   * @param args its arguments
   * @returns the normalised reply
   */
  eval(source: string, keys: readonly string[], args: readonly string[]): Promise<Reply> {
    return this.#call("EVAL", source, keys, args);
  }

  #call(
    command: "EVALSHA" | "EVAL",
    body: string,
    keys: readonly string[],
    args: readonly string[],
  ): Promise<Reply> {
    const argv = [body, String(keys.length)];
    for (const k of keys) argv.push(k);
    for (const a of args) argv.push(a);
    let p: Promise<unknown>;
    try {
      p = this.#client.send(command, argv);
    } catch (e) {
      return Promise.reject(toDriverError(e));
    }
    return p.then(normalizeReply, rejectWith);
  }

  /** `false` once the user's client closed for good (known from the first subscription on). */
  isOpen(): boolean {
    return !this.#ended;
  }

  /**
   * Calls `fn` once when the user's client closes for good (through its `onclose`, chained).
   * @param fn called on the client's end
   * @returns a function that stops listening
   */
  onEnd(fn: () => void): () => void {
    this.#watch();
    const once = () => {
      this.#endListeners.delete(once);
      fn();
    };
    this.#endListeners.add(once);
    return () => void this.#endListeners.delete(once);
  }

  /**
   * Subscribes to `channel` (exact-channel pub/sub) on the driver's own connection.
   * @param channel the channel
   * @param listener called with each message
   * @returns a function that unsubscribes
   */
  async subscribe(
    channel: string,
    listener: (message: string) => void,
  ): Promise<() => Promise<void>> {
    this.#watch();
    if (this.#ended) throw new Error(`Cannot subscribe to '${channel}': the Bun client is closed`);
    return await this.#subscriptions.add(channel, listener);
  }

  #dispatch = (message: string, channel: string): void => {
    this.#subscriptions.dispatch(channel, message);
  };

  /** Chains the user's client's `onclose`, once. */
  #watch(): void {
    if (this.#watching) return;
    this.#watching = true;
    const client = this.#client;
    const previous = client.onclose;
    const ended = () => {
      this.#ended = true;
      void this.close();
      for (const fn of [...this.#endListeners]) fn();
    };
    client.onclose = function (this: BunRedisClientLike, error: Error) {
      try {
        previous?.call(this, error);
      } finally {
        ended();
      }
    };
  }

  /** The subscriber connection, made on first use by `duplicate()`. */
  #subscriberClient(): Promise<BunRedisClientLike> {
    if (this.#subscriber === undefined) {
      const generation = this.#generation;
      const client = this.#client;
      // Bun tells `onclose` only to a client that was connected: connect the user's first (a
      // script call would), so that closing it is seen and this subscriber goes with it.
      const connected = client.connected ? Promise.resolve() : client.connect?.();
      const p = Promise.resolve(connected).then(() => client.duplicate()).then((sub) => {
        if (generation !== this.#generation) {
          sub.close(); // closed while it was being made
          throw new Error("the driver was closed");
        }
        // Bun reconnects a dropped connection but does not subscribe it again: do it.
        sub.onconnect = () => void this.#restore(sub, p);
        return sub;
      });
      p.catch(() => {
        if (this.#subscriber === p) this.#subscriber = undefined;
      });
      this.#subscriber = p;
    }
    return this.#subscriber;
  }

  /**
   * After a reconnection of the subscriber `sub`: subscribes its channels again (unsubscribing
   * first: Bun still holds their listeners and would otherwise call them twice).
   */
  async #restore(sub: BunRedisClientLike, made: Promise<BunRedisClientLike>): Promise<void> {
    for (const channel of this.#subscriptions.active()) {
      if (this.#subscriber !== made) return; // closed, or replaced
      try {
        await sub.unsubscribe(channel);
        await sub.subscribe(channel, this.#dispatch);
      } catch {
        // Dropped again: the next reconnection tries again.
      }
    }
  }

  /**
   * Closes the subscriber connection this driver opened (never the user's client) and drops every
   * subscription; a later subscription opens a new one.
   */
  async close(): Promise<void> {
    this.#generation++;
    const sub = this.#subscriber;
    this.#subscriber = undefined;
    this.#subscriptions.clear();
    if (sub === undefined) return;
    try {
      (await sub).close();
    } catch {
      // Never made, or already closed.
    }
  }
}
