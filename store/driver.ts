/**
 * The narrow surface `RedisStore` needs from a Redis client, one small driver per client family
 * (node-redis, ioredis/iovalkey, Valkey GLIDE, Bun's `RedisClient`): scripts by SHA-1 and by
 * source, routed by their first key on a cluster, replies normalised to one shape, server error
 * replies told apart from transport failures, and wake-up messages.
 *
 * Drivers never import their client at run time: each is typed structurally and picked by the
 * client's shape.
 *
 * @module
 */
import type { Reply } from "./types.ts";

/**
 * How a driver delivers wake-up messages: `sharded` (SSUBSCRIBE/SPUBLISH, standalone and
 * cluster), `plain` (SUBSCRIBE/PUBLISH on a standalone server), or `none` (waiters poll).
 */
export type PubSubMode = "sharded" | "plain" | "none";

/**
 * An error reply from the server (`-ERR ...`, `-NOSCRIPT ...`, a script's `error_reply`), as any
 * driver reports it, whatever the client's own error class. `message` is the reply's text.
 *
 * @example
 * ```ts
 * import { ServerReplyError } from "./driver.ts";
 * const e = new ServerReplyError("NOSCRIPT No matching script.");
 * console.assert(e.isNoScript);
 * ```
 */
export class ServerReplyError extends Error {
  /** The client's own error, when there was one. */
  override readonly cause: unknown;
  /**
   * @param message the reply's text
   * @param cause the client's own error
   */
  constructor(message: string, cause?: unknown) {
    super(message);
    this.name = "ServerReplyError";
    this.cause = cause;
  }

  /** Whether the server does not have the script (`SCRIPT FLUSH`, a restart, a new node). */
  get isNoScript(): boolean {
    return this.message.startsWith("NOSCRIPT");
  }
}

/**
 * What `RedisStore` calls on a client. A driver rejects with {@linkcode ServerReplyError} for the
 * server's error replies and with any other error for transport failures (closed, disconnected,
 * refused); it resolves with replies in one shape: integers as exact numbers (within
 * ±(2^53−1)), bulk and status strings as strings, nil as `null`, arrays as arrays, on RESP2 and
 * RESP3 alike.
 *
 * @example
 * ```ts
 * import type { Driver } from "./driver.ts";
 * const describe = (d: Driver): string => `${d.name}${d.isCluster ? " cluster" : ""} (${d.pubsub})`;
 * ```
 */
export interface Driver {
  /** The client family, for messages and the README's driver table (`node-redis`, `ioredis`, ...). */
  readonly name: string;
  /** Whether the client is a cluster client. */
  readonly isCluster: boolean;
  /** How this client delivers wake-up messages. */
  readonly pubsub: PubSubMode;
  /**
   * `EVALSHA sha1 numkeys keys... args...`, routed by `keys[0]` on a cluster.
   * @param sha1 the script's SHA-1
   * @param keys its keys (one hash tag)
   * @param args its arguments
   */
  evalSha(sha1: string, keys: readonly string[], args: readonly string[]): Promise<Reply>;
  /**
   * `EVAL source numkeys keys... args...`, routed by `keys[0]` on a cluster.
   * @param source the Lua source
   * @param keys its keys (one hash tag)
   * @param args its arguments
   */
  eval(source: string, keys: readonly string[], args: readonly string[]): Promise<Reply>;
  /**
   * Subscribes to `channel` (which carries its keys' hash tag) in this driver's
   * {@linkcode PubSubMode}, on connections the driver opens and owns; resolves once the
   * subscription is active. Absent when `pubsub` is `none`.
   * @param channel the channel
   * @param listener called with each message
   * @returns a function that unsubscribes
   */
  subscribe?(channel: string, listener: (message: string) => void): Promise<() => Promise<void>>;
  /**
   * Whether the user's client is open: `false` once it is known never to answer again (closed by
   * its owner, or never connected), so that nothing reconnects on its behalf.
   */
  isOpen(): boolean;
  /**
   * Calls `fn` once when the user closes their client, so the driver's own connections go too.
   * @param fn called on the client's end
   * @returns a function that stops listening
   */
  onEnd?(fn: () => void): () => void;
  /**
   * Closes the connections this driver opened and drops their subscriptions (never the user's
   * client); a later {@linkcode Driver.subscribe} opens them again.
   */
  close(): Promise<void>;
}
