/**
 * The client the conformance suites run on: node-redis 5 (default) or, in a client-variant run,
 * the one named by `DISTKIT_TEST_CLIENT`: `ioredis` (5), `ioredis6`, `iovalkey`, `node-redis6`
 * (RESP3), `glide` (Valkey GLIDE 2), `bun` (Bun's `RedisClient`, under `bun test`: see
 * tests/bun/conformance.test.ts). Test names then carry it (`[standalone ioredis]`), as the runner selects them.
 */
import { within } from "../../core/final_flush.ts";
import { createClient, createCluster } from "redis";
import type { Cluster as IoCluster, Redis as IoRedis } from "ioredis";
import type { RedisClientLike } from "../../store/types.ts";
import type { NodeAddress } from "./servers.ts";

/** A client variant's name. */
export type TestClient =
  | "node-redis"
  | "node-redis6"
  | "ioredis"
  | "ioredis6"
  | "iovalkey"
  | "glide"
  | "bun";

const CLIENTS: readonly TestClient[] = [
  "node-redis",
  "node-redis6",
  "ioredis",
  "ioredis6",
  "iovalkey",
  "glide",
  "bun",
];

/** The client variant of this run (`DISTKIT_TEST_CLIENT`), if not the default node-redis 5. */
export function clientVariant(): TestClient | undefined {
  const v = Deno.env.get("DISTKIT_TEST_CLIENT") || undefined;
  if (v === undefined || v === "node-redis") return undefined;
  if (!CLIENTS.includes(v as TestClient)) {
    throw new Error(`DISTKIT_TEST_CLIENT must be one of ${CLIENTS.join(", ")}: got '${v}'`);
  }
  return v as TestClient;
}

/** A connected client and how to close it. */
export interface OpenClient {
  /** The raw client, as a user passes it as `store`. */
  client: RedisClientLike;
  /** Closes it (errors ignored). */
  close(): Promise<void>;
}

/** Where to connect. */
export type Target = { url: string } | { nodes: NodeAddress[] };

const DISCONNECT_MS = 30;
const reconnect = (n: number) => Math.min(10 * (n + 1), 100);
// node-redis: at once first (see servers.ts's reconnectStrategy: a client closed mid-handshake
// "reconnects", and its wait must not outlive the test), then 10 ms, 20 ms, ... capped at 100 ms.
const socket = {
  connectTimeout: 2000,
  reconnectStrategy: (n: number) => n === 0 ? 0 : Math.min(10 * n, 100),
};

/** How long a node-redis client's graceful close may take before it is destroyed. */
const CLOSE_MS = 2000;

/**
 * Closes a node-redis client or cluster: gracefully, or destroyed when that fails or takes longer
 * than {@linkcode CLOSE_MS}. node-redis's `close()` waits until its queue is empty, and closing
 * also stops reconnecting: a client whose connection was just killed, with commands still queued
 * (ones a store gave up on), never empties it, and its `close()` never settles (reproduced: about
 * one cluster client in three, closed under load right after a `CLIENT KILL` of its connections).
 * @param c the client
 */
export async function closeNodeRedis(
  c: { close(): Promise<unknown>; destroy?(): unknown },
): Promise<void> {
  const closed = await within(Promise.resolve().then(() => c.close()), CLOSE_MS);
  if (closed.status !== "fulfilled") c.destroy?.();
}

/**
 * Connects a client of `which` to a standalone server (`url`) or a cluster (`nodes`), named
 * `name` (`CLIENT SETNAME`) when given, with fast reconnects.
 */
export async function openClient(
  which: TestClient,
  target: Target,
  name?: string,
): Promise<OpenClient> {
  if (which === "glide") {
    // Loaded only by a GLIDE run: its native addon stays out of every other test process.
    const { openGlide } = await import("./glide.ts");
    const c = await openGlide(target, name === undefined ? {} : { clientName: name });
    return { client: c, close: () => Promise.resolve(c.close()) };
  }
  if (which === "bun") return await openBun(target, name);
  if (which === "node-redis" || which === "node-redis6") {
    const named = name === undefined ? {} : { name };
    const rootNodes = "nodes" in target
      ? target.nodes.map(({ host, port }) => ({ url: `redis://${host}:${port}` }))
      : [];
    // The other clients load only in their own runs: every test file runs in a process (worker)
    // of its own, and loading four client libraries there cost more CPU than most variant runs'
    // tests.
    const redis6 = which === "node-redis6" ? await import("redis6") : undefined;
    const c = redis6 !== undefined
      ? ("url" in target
        ? redis6.createClient({ url: target.url, socket, RESP: 3, ...named })
        : redis6.createCluster({ rootNodes, defaults: { socket, ...named }, RESP: 3 }))
      : ("url" in target
        ? createClient({ url: target.url, socket, ...named })
        : createCluster({ rootNodes, defaults: { socket, ...named } }));
    c.on("error", () => {});
    await c.connect();
    return {
      client: c,
      close: () => closeNodeRedis(c),
    };
  }
  const { Redis: R, Cluster: C } = which === "ioredis"
    ? await import("ioredis")
    : which === "ioredis6"
    ? await import("ioredis6")
    : await import("iovalkey");
  const options = {
    ...(name === undefined ? {} : { connectionName: name }),
    retryStrategy: reconnect,
    connectTimeout: 2000,
    // ioredis arms a timer of this length when it disconnects, cleared when the socket closes
    // (never, when it was closed already): short, and waited out by close().
    disconnectTimeout: DISCONNECT_MS,
    lazyConnect: true,
  };
  const c = "url" in target
    ? new (R as typeof IoRedis)(target.url, options)
    : new (C as typeof IoCluster)(target.nodes, {
      redisOptions: options,
      clusterRetryStrategy: reconnect,
      // Fast recovery from killed connections, as the node-redis clients here get.
      retryDelayOnFailover: 10,
      retryDelayOnClusterDown: 10,
      retryDelayOnTryAgain: 10,
      clusterNodeRetryStrategy: reconnect,
      lazyConnect: true,
      // As ioredis recommends for sharded pub/sub (iovalkey has no such option: it polls).
      ...(which === "iovalkey" ? {} : { shardedSubscribers: true }),
    });
  c.on("error", () => {});
  await c.connect();
  return {
    client: c,
    close: async () => {
      if (c.status !== "end") {
        let done!: () => void;
        const ended = new Promise<void>((resolve) => done = resolve);
        c.once("end", done);
        // QUIT, or a plain disconnect when it fails or takes long (a cluster mid-recovery).
        const cut = setTimeout(() => c.disconnect(), 1000);
        // A client cut while it waits to reconnect never ends: ioredis's and iovalkey's
        // disconnect() then clears the reconnect timer and ends a socket that is closed already,
        // so no "close", no "end" (a connection killed just before; this hung the suite). Nothing
        // is left open then; the sanitizers would say otherwise.
        const limbo = setTimeout(done, 3000);
        c.quit().catch(() => c.disconnect());
        await ended;
        clearTimeout(cut);
        clearTimeout(limbo);
        c.off("end", done);
      }
      // Timers ioredis armed on disconnects (its own and the store's connections') run out.
      await new Promise((resolve) => setTimeout(resolve, DISCONNECT_MS + 20));
    },
  };
}

/** Bun's `RedisClient`, as far as the tests use it. */
interface BunClient {
  send(command: string, args: string[]): Promise<unknown>;
  close(): void;
}

/**
 * Bun's built-in `RedisClient` (standalone only; under `bun test` only), named `name` by
 * `CLIENT SETNAME` (its own reconnections and the driver's subscriber connection are not named).
 */
async function openBun(target: Target, name?: string): Promise<OpenClient> {
  const RedisClient = (globalThis as { Bun?: { RedisClient: new (url: string) => BunClient } })
    .Bun?.RedisClient;
  if (RedisClient === undefined) throw new Error("the 'bun' client runs under `bun test` only");
  if (!("url" in target)) throw new Error("Bun's RedisClient has no cluster client");
  const c = new RedisClient(target.url);
  if (name === undefined) await c.send("PING", []);
  else await c.send("CLIENT", ["SETNAME", name]);
  return { client: c as unknown as RedisClientLike, close: () => Promise.resolve(c.close()) };
}
