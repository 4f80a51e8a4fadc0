/**
 * The node-redis driver (`redis` / `@redis/client` 5 and 6, `createClient()` and
 * `createCluster()`, RESP2 and RESP3): scripts through the raw `sendCommand` (node-redis's own
 * command layer costs about 0.4 µs of CPU a call more), routed by their first key on a cluster;
 * sharded pub/sub on a second connection (standalone) or the cluster's own per-shard subscribers.
 *
 * @module
 */
import type { Driver, PubSubMode } from "./driver.ts";
import { normalizeReply, toServerReply } from "./_reply.ts";
import type { Reply } from "./types.ts";

/** The node-redis call options distkit uses. */
export interface EvalOptions {
  /** The script's keys. */
  keys: string[];
  /** The script's arguments. */
  arguments: string[];
}

/** A pub/sub listener as node-redis calls it. */
export type PubSubListener = (message: string, channel: string) => unknown;

/**
 * The part of a node-redis 5 or 6 `createClient()` or `createCluster()` object distkit calls
 * (RESP2 or RESP3). Both satisfy it structurally.
 */
export interface NodeRedisClientLike {
  /** `EVALSHA sha numkeys keys... args...` */
  evalSha(sha1: string, options: EvalOptions): Promise<unknown>;
  /** `EVAL script numkeys keys... args...` */
  eval(script: string, options: EvalOptions): Promise<unknown>;
  /** `SSUBSCRIBE channel` */
  sSubscribe(channel: string, listener: PubSubListener): Promise<unknown>;
  /** `SUNSUBSCRIBE channel` */
  sUnsubscribe(channel: string, listener?: PubSubListener): Promise<unknown>;
  /**
   * A raw command: `(args)` on a client, `(firstKey, isReadonly, args)` on a cluster. When
   * present, scripts are sent with it.
   */
  sendCommand?(...args: never[]): Promise<unknown>;
}

/** What distkit may find on a node-redis client besides {@linkcode NodeRedisClientLike}. */
interface Extras {
  sendCommand?: (...a: unknown[]) => Promise<unknown>;
  isOpen?: unknown;
  on?: (event: string, fn: () => void) => unknown;
  off?: (event: string, fn: () => void) => unknown;
  removeListener?: (event: string, fn: () => void) => unknown;
  duplicate?: () => Connection;
}

/** A subscriber connection made with `duplicate()`. */
type Connection = NodeRedisClientLike & {
  connect(): Promise<unknown>;
  close?(): Promise<unknown>;
  quit?(): Promise<unknown>;
  destroy?(): unknown;
  unref?(): unknown;
  on?(event: string, fn: (e: unknown) => void): unknown;
};

/**
 * Whether `c` has node-redis's shape (camel-case `evalSha` and `eval`).
 * @param c anything
 * @returns whether it is a node-redis client or cluster
 */
export function isNodeRedis(c: object): c is NodeRedisClientLike {
  const o = c as Partial<NodeRedisClientLike>;
  return typeof o.evalSha === "function" && typeof o.eval === "function";
}

/**
 * Whether a node-redis object is a cluster.
 * @param c a node-redis client or cluster
 * @returns whether it is `createCluster()`'s
 */
export function isNodeRedisCluster(c: NodeRedisClientLike): boolean {
  return "masters" in c;
}

/**
 * The driver for a node-redis client or cluster.
 *
 * @example
 * ```ts ignore
 * import { createClient } from "redis";
 * import { NodeRedisDriver } from "./driver_node_redis.ts";
 * const driver = new NodeRedisDriver(await createClient().connect(), false);
 * ```
 */
export class NodeRedisDriver implements Driver {
  /** `node-redis` */
  readonly name = "node-redis";
  /** Whether the client is a cluster. */
  readonly isCluster: boolean;
  /** Sharded pub/sub, standalone and cluster. */
  readonly pubsub: PubSubMode = "sharded";
  readonly #client: NodeRedisClientLike & Extras;
  /** The subscriber: the cluster itself, or a second connection (while connecting too). */
  #subscriber: Promise<NodeRedisClientLike> | undefined;
  /** The second connection, as soon as it is made. */
  #dup: Connection | undefined;
  /** The cluster's subscriptions made by this driver: channel → its listener. */
  #channels = new Map<string, PubSubListener>();

  /**
   * @param client a connected node-redis client or cluster
   * @param isCluster whether it is a cluster
   */
  constructor(client: NodeRedisClientLike, isCluster: boolean) {
    this.#client = client as NodeRedisClientLike & Extras;
    this.isCluster = isCluster;
  }

  /** Normalises a reply; rejects with a {@linkcode ServerReplyError} for an error reply. */
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
    const client = this.#client;
    let p: Promise<unknown>;
    if (typeof client.sendCommand === "function") {
      const args: string[] = [command, body, String(keys.length)];
      for (const k of keys) args.push(k);
      for (const a of argv) args.push(a);
      p = this.isCluster ? client.sendCommand(keys[0], false, args) : client.sendCommand(args);
    } else {
      const options: EvalOptions = { keys: keys as string[], arguments: argv as string[] };
      p = command === "EVALSHA" ? client.evalSha(body, options) : client.eval(body, options);
    }
    return p.then(normalizeReply, NodeRedisDriver.#fail);
  }

  isOpen(): boolean {
    return this.#client.isOpen !== false;
  }

  async subscribe(
    channel: string,
    listener: (message: string) => void,
  ): Promise<() => Promise<void>> {
    const fn: PubSubListener = (message) => listener(message);
    const sub = await this.#subscriber_();
    await sub.sSubscribe(channel, fn);
    if (this.isCluster) this.#channels.set(channel, fn);
    return async () => {
      if (this.isCluster) this.#channels.delete(channel);
      if (this.#subscriber === undefined) return; // closed meanwhile
      try {
        await (await this.#subscriber).sUnsubscribe(channel, fn);
      } catch {
        // The connection is gone; there is nothing left to unsubscribe.
      }
    };
  }

  #subscriber_(): Promise<NodeRedisClientLike> {
    if (this.#subscriber === undefined) {
      if (this.isCluster || typeof this.#client.duplicate !== "function") {
        this.#subscriber = Promise.resolve(this.#client);
      } else {
        const dup = this.#client.duplicate();
        dup.on?.("error", () => {}); // reconnects by itself; errors surface on calls
        // The subscriber never keeps a process alive by itself: the user's client does, and when
        // the user closes it ("end"), the store closes this driver's connections too.
        dup.unref?.();
        this.#dup = dup;
        const p = this.#subscriber = dup.connect().then(() => dup);
        p.catch(() => {
          if (this.#subscriber === p) this.#subscriber = undefined;
        });
      }
    }
    return this.#subscriber;
  }

  onEnd(fn: () => void): () => void {
    const c = this.#client;
    if (this.isCluster || typeof c.on !== "function") return () => {};
    c.on("end", fn);
    return () => {
      const off = typeof c.off === "function" ? c.off : c.removeListener;
      off?.call(c, "end", fn);
    };
  }

  async close(): Promise<void> {
    const sub = this.#subscriber;
    this.#subscriber = undefined;
    const dup = this.#dup;
    this.#dup = undefined;
    const channels = [...this.#channels];
    this.#channels.clear();
    try {
      if (dup !== undefined) {
        if (dup.destroy) dup.destroy(); // even while it is still connecting
        else if (dup.close) await dup.close();
        else await dup.quit?.();
      } else if (sub !== undefined) {
        const c = await sub;
        for (const [ch, fn] of channels) await c.sUnsubscribe(ch, fn).catch(() => {});
      }
    } catch {
      // Already gone.
    }
  }
}
