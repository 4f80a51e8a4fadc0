/**
 * The {@linkcode Driver} over Valkey GLIDE 2 (`@valkey/valkey-glide`): `GlideClient` (standalone)
 * and `GlideClusterClient`. GLIDE is never imported: the client is typed structurally.
 *
 * **Scripts** go through `customCommand(["EVALSHA", ...])` (and `EVAL` on NOSCRIPT, which
 * `RedisStore` does for every driver), routed on a cluster by `{ type: "primarySlotKey", key }`
 * on the first key. GLIDE's own script API (`invokeScript(new Script(source))`) is not used: its
 * `Script` is a handle into the native addon that only the package's module can construct (so
 * library code would have to import GLIDE, or reach into the client's module), it needs the
 * source where the driver contract passes a SHA-1, it must be `release()`d, and measured on one
 * client it is slower than `customCommand` (64 callers on Redis 7.0: about 19k against 29k
 * calls/s; the same p50 for one caller).
 *
 * **Error replies.** GLIDE rejects them with a `RequestError` whose text is the Rust core's
 * rendering of the reply (`NOSCRIPT No matching script.` arrives as `An error was signalled by the
 * server: - NoScriptError: No matching script.`, `DISTKIT_OVERFLOW k: ...` as `DISTKIT_OVERFLOW:
 * k: ...`); this driver turns it back into the reply's own text ({@linkcode glideReplyText}) and
 * rejects with {@linkcode ServerReplyError}. Every other failure (`ClosingError`,
 * `ConnectionError`, `TimeoutError`, a `RequestError` that is not a reply) is a transport failure
 * and is passed on unchanged.
 *
 * **Replies.** Calls ask for GLIDE's string decoder, so bulk strings arrive as strings whatever the
 * client's `defaultDecoder`; integers arrive as numbers (exact within ±(2^53−1), which is all a
 * distkit script returns as an integer: counter values come back as strings), nil as `null`, Lua
 * `false` as `null`, arrays as arrays. RESP3-only shapes a script never returns unless it switches
 * protocol (big numbers, booleans, maps as GLIDE's `{ key, value }` entries) are normalised too
 * ({@linkcode normalizeGlideReply}, over the shared `normalizeReply` of ./_reply.ts).
 *
 * **Pub/sub.** GLIDE 2 subscribes dynamically (`ssubscribe`/`subscribe` with a confirmation
 * timeout), but delivers messages to the callback given when the client was created. So the
 * driver opens one subscriber client of its own, built by the user's client's class
 * (`client.constructor.createClient`, GLIDE's public factory) from the user's client's
 * configuration (its `config` field: addresses, TLS, credentials, client name, ...) with RESP3 and
 * a callback of ours. On a cluster it uses sharded pub/sub (`sharded`). A standalone `GlideClient`
 * has no sharded subscription (GLIDE's subscription synchronizer only knows exact channels and
 * patterns there), so it subscribes to exact channels (`plain`). If the client does not expose
 * that configuration or factory (another GLIDE version), `pubsub` is `none` and waiters poll. The
 * subscriber's socket to GLIDE's core is unref'd, so it never keeps a process alive by itself (the
 * user's client does), and it is closed by {@linkcode Driver.close}.
 *
 * **Open.** `isOpen()` reads GLIDE's `isClosed` flag: GLIDE closes a client for good on `close()`
 * or a fatal error and never reconnects it. GLIDE has no close event, so there is no
 * {@linkcode Driver.onEnd}; instead a subscription made after the user closed their client closes
 * the subscriber first.
 *
 * @module
 */
import { type Driver, type PubSubMode, ServerReplyError } from "./driver.ts";
import type { Reply } from "./types.ts";
import { normalizeReply } from "./_reply.ts";
import { Subscriptions } from "./_subscriptions.ts";

/** GLIDE's `Decoder.String`. */
const DECODER_STRING = 1;
/** GLIDE's `ProtocolVersion.RESP3` (pub/sub needs it). */
const RESP3 = 0;
/** How long a subscription waits for the server's confirmation, ms. */
const SUBSCRIBE_TIMEOUT_MS = 5_000;

/** A route by key, as GLIDE's cluster client takes it. */
export interface GlideRoute {
  /** Routes to the primary serving `key`'s slot. */
  type: "primarySlotKey";
  /** The key. */
  key: string;
}

/** What a GLIDE call takes: a decoder and, on a cluster, a route. */
export interface GlideCallOptions {
  /** GLIDE's `Decoder` (`1`: strings). */
  decoder?: number;
  /** Where a cluster client sends the call. */
  route?: GlideRoute;
}

/** A message as GLIDE hands it to a subscription callback. */
interface GlideMessage {
  message: unknown;
  channel: unknown;
}

/**
 * The part of a GLIDE 2 `GlideClient` or `GlideClusterClient` this driver calls. Both satisfy it
 * structurally.
 */
export interface GlideClientLike {
  /** A raw command; `route` on a cluster client. */
  customCommand(args: string[], options?: GlideCallOptions): Promise<unknown>;
  /** GLIDE's script API (not called: part of the shape that tells a GLIDE client apart). */
  invokeScript(...args: never[]): Promise<unknown>;
  /** Closes the client. */
  close(errorMessage?: string): void;
}

/** What the subscriber client is called with. */
interface GlideSubscriber {
  subscribe?(channels: Set<string>, timeoutMs: number): Promise<void>;
  unsubscribe?(channels: Set<string>, timeoutMs: number): Promise<void>;
  ssubscribe?(channels: Set<string>, timeoutMs: number): Promise<void>;
  sunsubscribe?(channels: Set<string>, timeoutMs: number): Promise<void>;
  unsubscribeLazy?(channels: null): Promise<void>;
  sunsubscribeLazy?(channels: null): Promise<void>;
  close(): void;
  socket?: { unref?(): unknown };
}

/** The class of a GLIDE client: its public factory. */
interface GlideClass {
  createClient(config: Record<string, unknown>): Promise<GlideSubscriber>;
}

/**
 * Whether `x` looks like a GLIDE client (`GlideClient` or `GlideClusterClient`).
 *
 * @param x anything
 * @returns whether it has GLIDE's shape
 *
 * @example
 * ```ts
 * import { isGlideClient } from "./driver_glide.ts";
 * console.assert(!isGlideClient({ sendCommand() {} }));
 * ```
 */
export function isGlideClient(x: unknown): x is GlideClientLike {
  const c = x as Record<string, unknown> | null;
  return typeof c === "object" && c !== null && typeof c.customCommand === "function" &&
    typeof c.invokeScript === "function" && typeof c.close === "function";
}

/** Whether a GLIDE client is a cluster client (only it routes scripts). */
function isGlideCluster(client: GlideClientLike): boolean {
  return typeof (client as { invokeScriptWithRoute?: unknown }).invokeScriptWithRoute ===
    "function";
}

/** The redis-rs kinds of the error codes it knows, as GLIDE names them. */
const KIND_CODES: Record<string, string> = {
  ResponseError: "ERR",
  ExecAbortError: "EXECABORT",
  BusyLoadingError: "LOADING",
  NoScriptError: "NOSCRIPT",
  Moved: "MOVED",
  Ask: "ASK",
  TryAgain: "TRYAGAIN",
  ClusterDown: "CLUSTERDOWN",
  CrossSlot: "CROSSSLOT",
  MasterDown: "MASTERDOWN",
  ReadOnly: "READONLY",
  NotBusy: "NOTBUSY",
  PermissionDenied: "NOPERM",
};
/** A known code: `An error was signalled by the server: - NoScriptError: No matching script.` */
const KNOWN_WITH_DETAIL = /^An error was signalled by the server: - (\w+): ([\s\S]*)$/;
/** A known code without detail: `An error was signalled by the server:- NoScriptError` */
const KNOWN_BARE = /^An error was signalled by the server:- (\w+)$/;
/** Any other code: `DISTKIT_OVERFLOW: k: ...` (the code is the reply's first word). */
const EXTENSION = /^([^\s:]+): ([\s\S]*)$/;
/** What redis-rs writes for an extension error without detail. */
const NO_DETAIL = "Unknown extension error encountered";

/**
 * The server's own error reply text behind a GLIDE `RequestError` message, or `undefined` when
 * the message is not an error reply (a client-side failure).
 *
 * @param message the `RequestError`'s message
 * @returns the reply's text, e.g. `NOSCRIPT No matching script.`
 *
 * @example
 * ```ts
 * import { glideReplyText } from "./driver_glide.ts";
 * const m = "An error was signalled by the server: - NoScriptError: No matching script.";
 * console.assert(glideReplyText(m) === "NOSCRIPT No matching script.");
 * console.assert(glideReplyText("DISTKIT_OVERFLOW: k: 1") === "DISTKIT_OVERFLOW k: 1");
 * ```
 */
export function glideReplyText(message: string): string | undefined {
  let m = KNOWN_WITH_DETAIL.exec(message);
  if (m !== null) {
    const code = KIND_CODES[m[1]!];
    return code === undefined ? undefined : `${code} ${m[2]}`;
  }
  m = KNOWN_BARE.exec(message);
  if (m !== null) return KIND_CODES[m[1]!];
  m = EXTENSION.exec(message);
  if (m !== null) return m[2] === NO_DETAIL ? m[1] : `${m[1]} ${m[2]}`;
  return undefined;
}

/** Whether `e` is exactly GLIDE's `RequestError` (its subclasses are transport failures). */
function isRequestError(e: unknown): e is Error {
  return e instanceof Error && e.name === "RequestError";
}

/**
 * What the driver rejects with for GLIDE's failure `e`: a {@linkcode ServerReplyError} with the
 * reply's text for an error reply, `e` itself otherwise.
 */
function toDriverError(e: unknown): unknown {
  if (!isRequestError(e)) return e;
  const text = glideReplyText(e.message);
  return text === undefined ? e : new ServerReplyError(text, e);
}

function rejectWith(e: unknown): never {
  throw toDriverError(e);
}

/** Whether `v` is one of GLIDE's map entries (`{ key, value }`: how it returns a RESP3 map). */
function isEntry(v: unknown): v is { key: unknown; value: unknown } {
  return typeof v === "object" && v !== null && !Array.isArray(v) && "key" in v && "value" in v &&
    Object.keys(v).length === 2;
}

/** GLIDE's map entries flattened, at any depth. */
function unGlide(v: unknown): unknown {
  if (!Array.isArray(v)) return v;
  if (v.length > 0 && v.every(isEntry)) return v.flatMap((e) => [unGlide(e.key), unGlide(e.value)]);
  return v.map(unGlide);
}

/**
 * A GLIDE reply in the driver contract's shape: the shared `normalizeReply` (./_reply.ts), after
 * GLIDE's RESP3 maps (arrays of `{ key, value }` entries) are flattened. The usual reply (a
 * number, a string, `null`, a flat array of those) goes straight through. (An error reply nested
 * in an array never reaches it: GLIDE fails the whole call with it.)
 *
 * @param r what GLIDE resolved with
 * @returns the reply
 *
 * @example
 * ```ts
 * import { normalizeGlideReply } from "./driver_glide.ts";
 * console.assert(normalizeGlideReply(9007199254740991n) === 9007199254740991);
 * const map = [{ key: "a", value: 1 }];
 * console.assert(JSON.stringify(normalizeGlideReply(map)) === '["a",1]');
 * ```
 */
export function normalizeGlideReply(r: unknown): Reply {
  if (!Array.isArray(r) || r.every((v) => typeof v !== "object" || v === null)) {
    return normalizeReply(r);
  }
  return normalizeReply(unGlide(r));
}

/**
 * A {@linkcode Driver} over a GLIDE 2 `GlideClient` or `GlideClusterClient`.
 *
 * @example
 * ```ts ignore
 * import { GlideClient } from "@valkey/valkey-glide";
 * import { GlideDriver } from "./driver_glide.ts";
 * const client = await GlideClient.createClient({ addresses: [{ host: "127.0.0.1", port: 6379 }] });
 * const driver = new GlideDriver(client);
 * console.log(await driver.eval("return 1", [], [])); // 1
 * await driver.close();
 * client.close();
 * ```
 */
export class GlideDriver implements Driver {
  /** The client family. */
  readonly name = "valkey-glide";
  /** Whether the client is a `GlideClusterClient`. */
  readonly isCluster: boolean;
  /** `sharded` on a cluster, `plain` on a standalone client, `none` when it cannot subscribe. */
  readonly pubsub: PubSubMode;
  /** Subscribes (absent when {@linkcode GlideDriver.pubsub} is `none`). */
  readonly subscribe?: (
    channel: string,
    listener: (message: string) => void,
  ) => Promise<() => Promise<void>>;
  #client: GlideClientLike;
  /** Options of a call without a route (standalone, or no key). */
  #unrouted: GlideCallOptions = { decoder: DECODER_STRING };
  #subscriber: Promise<GlideSubscriber> | undefined;
  #subscriptions = new Subscriptions({
    subscribe: async (channel) => {
      const sub = await this.#subscriberClient();
      const set = new Set([channel]);
      await (this.isCluster
        ? sub.ssubscribe!(set, SUBSCRIBE_TIMEOUT_MS)
        : sub.subscribe!(set, SUBSCRIBE_TIMEOUT_MS)).catch(rejectWith);
    },
    unsubscribe: async (channel) => {
      const sub = await this.#subscriberClient();
      const set = new Set([channel]);
      await (this.isCluster
        ? sub.sunsubscribe!(set, SUBSCRIBE_TIMEOUT_MS)
        : sub.unsubscribe!(set, SUBSCRIBE_TIMEOUT_MS));
    },
  });
  /** Bumped by every close: a subscriber made before it is closed as soon as it exists. */
  #generation = 0;

  /** @param client a GLIDE 2 client or cluster client (connected) */
  constructor(client: GlideClientLike) {
    this.#client = client;
    this.isCluster = isGlideCluster(client);
    this.pubsub = this.#canSubscribe() ? (this.isCluster ? "sharded" : "plain") : "none";
    if (this.pubsub !== "none") this.subscribe = (c, l) => this.#subscribe(c, l);
  }

  /**
   * `EVALSHA`, routed by `keys[0]` on a cluster.
   * @param sha1 the script's SHA-1
   * @param keys its keys (one hash tag)
   * @param args its arguments
   * @returns the normalised reply
   */
  evalSha(sha1: string, keys: readonly string[], args: readonly string[]): Promise<Reply> {
    return this.#call("EVALSHA", sha1, keys, args);
  }

  /**
   * `EVAL`, routed by `keys[0]` on a cluster.
   * @param source the Lua source
   * @param keys its keys (one hash tag)
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
    const argv = [command, body, String(keys.length)];
    for (const k of keys) argv.push(k);
    for (const a of args) argv.push(a);
    const options = this.isCluster && keys.length > 0
      ? { decoder: DECODER_STRING, route: { type: "primarySlotKey" as const, key: keys[0]! } }
      : this.#unrouted;
    let p: Promise<unknown>;
    try {
      p = this.#client.customCommand(argv, options);
    } catch (e) {
      return Promise.reject(toDriverError(e)); // GLIDE throws at once on a closed client
    }
    return p.then(normalizeGlideReply, rejectWith);
  }

  /** Whether GLIDE has not closed the user's client (it never reopens one). */
  isOpen(): boolean {
    return (this.#client as { isClosed?: unknown }).isClosed !== true;
  }

  /** Whether this client can make a subscriber like itself, with dynamic subscriptions. */
  #canSubscribe(): boolean {
    const config = (this.#client as { config?: { addresses?: unknown } }).config;
    const cls = this.#client.constructor as Partial<GlideClass> | undefined;
    const proto = this.#client as unknown as Record<string, unknown>;
    const dynamic = this.isCluster
      ? typeof proto.ssubscribe === "function" && typeof proto.sunsubscribe === "function"
      : typeof proto.subscribe === "function" && typeof proto.unsubscribe === "function";
    return dynamic && typeof cls?.createClient === "function" && typeof config === "object" &&
      config !== null && Array.isArray(config.addresses);
  }

  async #subscribe(
    channel: string,
    listener: (message: string) => void,
  ): Promise<() => Promise<void>> {
    if (!this.isOpen()) {
      // The user closed their client: whatever it made (the subscriber) goes too.
      await this.close();
      throw new Error(`Cannot subscribe to '${channel}': the GLIDE client is closed`);
    }
    return await this.#subscriptions.add(channel, listener);
  }

  #dispatch = (msg: GlideMessage): void => {
    this.#subscriptions.dispatch(String(msg.channel), String(msg.message));
  };

  /** The subscriber client, made on first use from the user's client's class and configuration. */
  #subscriberClient(): Promise<GlideSubscriber> {
    if (this.#subscriber === undefined) {
      const generation = this.#generation;
      const cls = this.#client.constructor as unknown as GlideClass;
      const config = (this.#client as unknown as { config: Record<string, unknown> }).config;
      let timer: ReturnType<typeof setTimeout> | undefined;
      let late = false;
      const made = cls.createClient({
        ...config,
        protocol: RESP3,
        defaultDecoder: DECODER_STRING,
        lazyConnect: false,
        pubsubSubscriptions: { channelsAndPatterns: {}, callback: this.#dispatch },
      }).then((sub) => {
        sub.socket?.unref?.(); // never keeps a process alive by itself
        if (late || generation !== this.#generation) {
          sub.close(); // given up on, or the driver was closed while it was being made
          throw new Error("the driver was closed");
        }
        return sub;
      });
      // Bounded: a subscription waits for it, and an unsubscription (a lock's close) for that.
      const bound = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          late = true;
          reject(new Error(`GLIDE's subscriber did not connect within ${SUBSCRIBE_TIMEOUT_MS} ms`));
        }, SUBSCRIBE_TIMEOUT_MS);
      });
      const p = Promise.race([made, bound]).finally(() => clearTimeout(timer));
      made.catch(() => {});
      p.catch(() => {
        if (this.#subscriber === p) this.#subscriber = undefined;
      });
      this.#subscriber = p;
    }
    return this.#subscriber;
  }

  /**
   * Closes the subscriber client this driver opened (never the user's client) and drops every
   * subscription; a later subscription opens a new one.
   */
  async close(): Promise<void> {
    this.#generation++;
    const sub = this.#subscriber;
    this.#subscriber = undefined;
    this.#subscriptions.clear();
    if (sub === undefined) return;
    let s: GlideSubscriber;
    try {
      s = await sub;
    } catch {
      return; // never made
    }
    try {
      // Empty GLIDE's wanted subscriptions first: its synchronizer would otherwise try to restore
      // them on the dropped connection (and log an error doing so).
      await (this.isCluster ? s.sunsubscribeLazy?.(null) : s.unsubscribeLazy?.(null));
    } catch {
      // Already closed.
    }
    s.close();
  }
}
