/**
 * The ioredis driver (ioredis 5 and 6 `Redis` and `Cluster`, and iovalkey, its fork): scripts
 * through `call()`, which a cluster routes by the script's first key; error replies recognised by
 * their text (ioredis 5 and iovalkey reject with `ReplyError`, ioredis 6 with `SimpleError`).
 *
 * Wake-ups: sharded pub/sub on a second connection (`duplicate()`) for a standalone client; on a
 * cluster, the cluster's own sharded subscribers when it was made with `shardedSubscribers: true`,
 * else a duplicate of it made with that option (ioredis 5.5+ and 6); a cluster client without the
 * option (iovalkey) has none, and waiters poll.
 *
 * @module
 */
import type { Driver, PubSubMode } from "./driver.ts";
import { normalizeReply, toServerReply } from "./_reply.ts";
import type { Reply } from "./types.ts";

/**
 * The part of an ioredis 5/6 or iovalkey `Redis` or `Cluster` object distkit calls. Both
 * satisfy it structurally.
 */
export interface IoRedisClientLike {
  /** A raw command: `call("EVALSHA", [sha1, numkeys, ...keys, ...args])`. */
  call(command: string, args: string[]): Promise<unknown>;
  /** `EVALSHA` (its lower-case name tells ioredis from node-redis). */
  evalsha(...args: never[]): unknown;
  /** `true` on a `Cluster`. */
  readonly isCluster: boolean;
  /** `wait`, `connecting`, `ready`, ..., `end` once closed for good. */
  readonly status: string;
}

/** An ioredis connection (or cluster) this driver opens and listens on. */
interface Connection {
  readonly status: string;
  readonly options?: { shardedSubscribers?: boolean } | undefined;
  ssubscribe(channel: string): Promise<unknown>;
  sunsubscribe(channel: string): Promise<unknown>;
  on(event: string, listener: (...args: string[]) => void): unknown;
  off(event: string, listener: (...args: string[]) => void): unknown;
  disconnect(reconnect?: boolean): void;
}

/** What distkit may find on the user's client besides {@linkcode IoRedisClientLike}. */
type Extras = Connection & {
  duplicate?: (a?: unknown, b?: unknown) => Connection;
};

/**
 * Whether `c` has ioredis's shape (`call` and lower-case `evalsha`; iovalkey's too).
 * @param c anything
 * @returns whether it is an ioredis / iovalkey `Redis` or `Cluster`
 */
export function isIoRedis(c: object): c is IoRedisClientLike {
  const o = c as Partial<IoRedisClientLike>;
  return typeof o.call === "function" && typeof o.evalsha === "function";
}

/**
 * The driver for an ioredis or iovalkey `Redis` or `Cluster`.
 *
 * @example
 * ```ts ignore
 * import { Redis } from "ioredis";
 * import { IoRedisDriver } from "./driver_ioredis.ts";
 * const driver = new IoRedisDriver(new Redis());
 * ```
 */
export class IoRedisDriver implements Driver {
  /** `ioredis` (iovalkey included) */
  readonly name = "ioredis";
  /** Whether the client is a `Cluster`. */
  readonly isCluster: boolean;
  /** `sharded`, or `none` on a cluster client that has no sharded subscribers (iovalkey). */
  readonly pubsub: PubSubMode;
  readonly #client: IoRedisClientLike & Extras;
  /** Whether the user's cluster has sharded subscribers of its own (then it is the subscriber). */
  readonly #ownSharded: boolean;
  /** The subscriber (the user's cluster, or a connection this driver opened). */
  #subscriber: Connection | undefined;
  /** Whether {@linkcode IoRedisDriver.#subscriber} was opened by this driver. */
  #opened = false;
  /** channel → listener, for the subscriber's `smessage` events. */
  #listeners = new Map<string, (message: string) => void>();

  /** @param client an ioredis / iovalkey `Redis` or `Cluster` */
  constructor(client: IoRedisClientLike) {
    const c = client as IoRedisClientLike & Extras;
    this.#client = c;
    this.isCluster = c.isCluster === true;
    const options = c.options as Record<string, unknown> | undefined;
    this.#ownSharded = this.isCluster && options?.shardedSubscribers === true;
    const canShard = !this.isCluster || this.#ownSharded ||
      (options !== undefined && "shardedSubscribers" in options &&
        typeof c.duplicate === "function");
    this.pubsub = canShard ? "sharded" : "none";
  }

  static #fail(e: unknown): never {
    throw toServerReply(e);
  }

  evalSha(sha1: string, keys: readonly string[], args: readonly string[]): Promise<Reply> {
    return this.#send("EVALSHA", sha1, keys, args);
  }

  eval(source: string, keys: readonly string[], args: readonly string[]): Promise<Reply> {
    return this.#send("EVAL", source, keys, args);
  }

  #send(
    command: "EVALSHA" | "EVAL",
    body: string,
    keys: readonly string[],
    argv: readonly string[],
  ): Promise<Reply> {
    const args: string[] = [body, String(keys.length)];
    for (const k of keys) args.push(k);
    for (const a of argv) args.push(a);
    return this.#client.call(command, args).then(normalizeReply, IoRedisDriver.#fail);
  }

  isOpen(): boolean {
    return this.#client.status !== "end";
  }

  async subscribe(
    channel: string,
    listener: (message: string) => void,
  ): Promise<() => Promise<void>> {
    const sub = this.#subscriber_();
    this.#listeners.set(channel, listener);
    try {
      await sub.ssubscribe(channel);
    } catch (e) {
      if (this.#listeners.get(channel) === listener) this.#listeners.delete(channel);
      throw e;
    }
    return async () => {
      if (this.#listeners.get(channel) !== listener) return;
      this.#listeners.delete(channel);
      if (this.#subscriber !== sub) return; // closed meanwhile
      await sub.sunsubscribe(channel).catch(() => {});
    };
  }

  #onMessage = (channel: string, message: string): void => {
    this.#listeners.get(channel)?.(message);
  };

  #subscriber_(): Connection {
    if (this.#subscriber === undefined) {
      const c = this.#client;
      let sub: Connection;
      if (this.#ownSharded) {
        sub = c;
      } else {
        // ioredis's duplicate keeps every option (name, auth, TLS); a cluster's gets its own
        // per-shard subscribers.
        sub = this.isCluster ? c.duplicate!([], { shardedSubscribers: true }) : c.duplicate!();
        sub.on("error", () => {}); // reconnects by itself; errors surface on calls
        this.#opened = true;
      }
      sub.on("smessage", this.#onMessage);
      this.#subscriber = sub;
    }
    return this.#subscriber;
  }

  onEnd(fn: () => void): () => void {
    const c = this.#client;
    c.on("end", fn);
    return () => void c.off("end", fn);
  }

  async close(): Promise<void> {
    const sub = this.#subscriber;
    this.#subscriber = undefined;
    const channels = [...this.#listeners.keys()];
    this.#listeners.clear();
    if (sub === undefined) return;
    sub.off("smessage", this.#onMessage);
    if (this.#opened) {
      this.#opened = false;
      sub.disconnect(); // even while it is still connecting
      return;
    }
    for (const ch of channels) await sub.sunsubscribe(ch).catch(() => {});
  }
}
