/**
 * The conformance harness: `storeTest(name, fn)` registers one Deno test per store kind —
 * `MemoryStore`, standalone Redis and Redis Cluster — each with a fresh, unique prefix and its own
 * connections, closed afterwards (Deno's sanitizers stay on).
 *
 * Redis kinds run when `REDIS_URL` / `REDIS_CLUSTER_NODES` are set (the test runner sets both);
 * otherwise they are registered as ignored, with the reason in the name.
 *
 * A server-variant run (the runner's extra Redis / Valkey versions) sets `DISTKIT_SERVER_VARIANT`
 * (e.g. `valkey-8.0`): names then carry it (`[standalone valkey-8.0]`), so the runner selects them
 * and a failure says which server it was, and the memory kind is not registered (it does not
 * depend on the server).
 *
 * A client-variant run sets `DISTKIT_TEST_CLIENT` (`ioredis`, `node-redis6`, `iovalkey`, ...; see
 * ./clients.ts): the stores under test (`fx.store`, `fx.another()`) then wrap that client, names
 * carry it (`[standalone ioredis]`), and the memory kind is not registered. `fx.raw` stays a
 * node-redis 5 client, for inspecting state and killing connections.
 */
import type { Store } from "../../store/types.ts";
import { MemoryStore } from "../../store/memory_store.ts";
import { type RedisClientLike, RedisStore } from "../../store/redis_store.ts";
import { clusterNodes, connectCluster, connectStandalone, redisUrl } from "./servers.ts";
import {
  clientVariant,
  closeNodeRedis,
  type OpenClient,
  openClient,
  type TestClient,
} from "./clients.ts";
import { waitFor as waitForCondition } from "./wait.ts";
import { within } from "../../core/final_flush.ts";

/**
 * How long a test body may run before the harness fails it: a hang then fails its own test, named,
 * instead of the whole `deno test` run when the runner's budget ends (it did: 480 s in CI).
 */
const BODY_TIMEOUT_MS = 120_000;
/** How long each teardown step (a store's or a client's close) may take. */
const CLEANUP_TIMEOUT_MS = 10_000;

/** Where a test runs. */
export type StoreKind = "memory" | "standalone" | "cluster";

/** A raw node-redis client or cluster, for inspecting state and injecting faults. */
// deno-lint-ignore no-explicit-any
export type RawClient = any;

/** What a conformance test gets. */
export interface Fixture {
  /** The store kind. */
  kind: StoreKind;
  /** The store under test (for memory: a `MemoryStore` on the real clock). */
  store: Store;
  /** A prefix no other test uses. */
  prefix: string;
  /**
   * Another store on its own connection: a second "process". On memory it is the same keyspace
   * (processes share one Redis), so it returns `store`. With `name`, the connection is named
   * (`CLIENT SETNAME`) so that {@linkcode killConnections} can kill it and nothing else.
   */
  another(options?: { name?: string; commandTimeoutMs?: number }): Promise<Store>;
  /** The `MemoryStore` (memory kind only). */
  memory: MemoryStore | undefined;
  /** The raw client behind `store` (Redis kinds only). */
  raw: RawClient | undefined;
}

/** Options for {@linkcode storeTest}. */
export interface StoreTestOptions {
  /** Limit to these kinds. @default all three */
  kinds?: StoreKind[];
  /** Passed to Deno.test. */
  sanitizeOps?: boolean;
  /** Passed to Deno.test. */
  sanitizeResources?: boolean;
  /**
   * The test is about pub/sub wake-ups: ignored (and said so) where the store's client has no
   * subscriber and waiters poll (iovalkey's `Cluster`: no sharded subscribers).
   */
  pubsub?: boolean;
}

/** Whether the stores of this run wake waiters by polling on `kind` (no subscriber). */
function polls(kind: StoreKind): boolean {
  return kind === "cluster" && clientVariant() === "iovalkey";
}

let counter = 0;
/** A prefix unique to this run and test. */
export function uniquePrefix(name: string): string {
  const clean = name.replace(/[^A-Za-z0-9_-]/g, "").slice(0, 40);
  return `t${RUN}${Date.now().toString(36)}${(counter++).toString(36)}-${clean}`;
}

/**
 * This process's part of every prefix: client variants run the same suites two at a time on one
 * server, and a time and a counter alone gave two of them the same prefix (a CI run: the same
 * test's keys under ioredis and node-redis 6, in the same millisecond).
 */
const RUN = crypto.randomUUID().slice(0, 6);

const fastReconnect = {
  connectTimeout: 2000,
  // At once first (see servers.ts's reconnectStrategy), then 10 ms, 20 ms, ... capped at 100 ms.
  reconnectStrategy: (n: number) => n === 0 ? 0 : Math.min(10 * n, 100),
};

/**
 * A node-redis connection for the fixture: node-redis 5 (the suites' client), or, when named (a
 * connection a fault test kills), node-redis 6. node-redis 5.12 writes a command scheduled just
 * before its connection dropped into the dead socket; the next connection's handshake replies
 * then go to that command (an EVALSHA resolved with "OK"), the handshake never completes and
 * the client never sends again (seen: 4 runs in some 380 of the killed-connections test, every call
 * timing out until the end). node-redis 6 leaves such commands queued for the next connection.
 */
async function connect(kind: "standalone" | "cluster", name?: string): Promise<RawClient> {
  if (name === undefined) {
    return kind === "standalone" ? await connectStandalone() : await connectCluster();
  }
  const redis6 = await import("redis6");
  const client = kind === "standalone"
    ? redis6.createClient({ url: redisUrl()!, name, socket: fastReconnect })
    : redis6.createCluster({
      rootNodes: clusterNodes()!.map(({ host, port }) => ({ url: `redis://${host}:${port}` })),
      defaults: { name, socket: fastReconnect },
    });
  client.on("error", () => {});
  await client.connect();
  return client;
}

/**
 * Kills (`CLIENT KILL ID`) every connection named `name` on every primary the fixture's client
 * reaches, and nothing else: other tests share these servers.
 *
 * @param fx a Redis fixture
 * @param name the connection name given to `fx.another({ name })`
 * @param type `pubsub` for the subscriber connections of stores opened with that name
 * @returns how many connections were killed
 */
export async function killConnections(
  fx: Fixture,
  name: string,
  type: "normal" | "pubsub" = "normal",
): Promise<number> {
  // Bounded: a killer loop awaiting an inspection that never answers would hang its test.
  const done = await within(killNow(fx, name, type), 5000);
  if (done.status === "fulfilled") return done.value;
  throw done.status === "rejected"
    ? done.reason
    : new Error(`killConnections(${name}): no answer within 5000 ms`);
}

async function killNow(
  fx: Fixture,
  name: string,
  type: "normal" | "pubsub",
): Promise<number> {
  const nodes: RawClient[] = fx.kind === "cluster"
    ? await Promise.all(fx.raw.masters.map((m: unknown) => fx.raw.nodeClient(m)))
    : [fx.raw];
  let killed = 0;
  for (const node of nodes) {
    const list = String(await node.sendCommand(["CLIENT", "LIST", "TYPE", type]));
    for (const line of list.split("\n")) {
      if (!line.includes(` name=${name} `)) continue;
      const id = /(?:^|\s)id=(\d+)/.exec(line)?.[1];
      if (id === undefined) continue;
      killed += Number(await node.sendCommand(["CLIENT", "KILL", "ID", id]).catch(() => 0));
    }
  }
  return killed;
}

/** The server variant this run targets (`DISTKIT_SERVER_VARIANT`), if not the default server. */
export function serverVariant(): string | undefined {
  return Deno.env.get("DISTKIT_SERVER_VARIANT") || undefined;
}

/**
 * A connected client of this run's client (`DISTKIT_TEST_CLIENT`'s, else node-redis 6: see
 * {@linkcode connect} for why not 5 where connections drop) on a private server, for fault tests
 * that stop or restart it. Close it with `close()`.
 * @param url the server's URL
 */
export function openTestClient(url: string): Promise<OpenClient> {
  return openClient(clientVariant() ?? "node-redis6", { url });
}

/** Whether a kind can run in this environment. */
export function available(kind: StoreKind): boolean {
  if (kind === "memory") return true;
  return kind === "standalone" ? redisUrl() !== undefined : clusterNodes() !== undefined;
}

/**
 * Registers `fn` once per store kind.
 *
 * @param name the test name (the kind is appended)
 * @param fn the test body; `t` runs a table's cases as named steps (`await t.step(name, ...)`)
 * @param options kinds and sanitizer switches
 */
export function storeTest(
  name: string,
  fn: (fx: Fixture, t: Deno.TestContext) => Promise<void>,
  options: StoreTestOptions = {},
): void {
  const variant = [serverVariant(), clientVariant()].filter((v) => v !== undefined).join(" ");
  for (const kind of options.kinds ?? ["memory", "standalone", "cluster"] as StoreKind[]) {
    if (variant !== "" && kind === "memory") continue;
    const ok = available(kind);
    const noPubSub = options.pubsub === true && polls(kind);
    const tag = variant === "" ? kind : `${kind} ${variant}`;
    Deno.test({
      name: `${name} [${tag}]${ok ? "" : " (no Redis: set REDIS_URL / REDIS_CLUSTER_NODES)"}${
        noPubSub ? " (no pub/sub on this client: its waiters poll)" : ""
      }`,
      ignore: !ok || noPubSub,
      sanitizeOps: options.sanitizeOps ?? true,
      sanitizeResources: options.sanitizeResources ?? true,
      fn: (t) => runWith(kind, name, (fx) => fn(fx, t)),
    });
  }
}

/**
 * Runs `fn` with a fixture of `kind` and tears everything down afterwards.
 *
 * @param kind the store kind
 * @param name used in the prefix
 * @param fn the body
 * @param timeoutMs how long the body may run before it fails as a hang
 */
export async function runWith(
  kind: StoreKind,
  name: string,
  fn: (fx: Fixture) => Promise<void>,
  timeoutMs: number = BODY_TIMEOUT_MS,
): Promise<void> {
  const cleanups: Array<() => Promise<void>> = [];
  let hung: string | undefined;
  try {
    if (kind === "memory") {
      const memory = new MemoryStore();
      cleanups.push(() => memory.close());
      await bounded(
        timeoutMs,
        fn({
          kind,
          store: memory,
          prefix: uniquePrefix(name),
          another: () => Promise.resolve(memory),
          memory,
          raw: undefined,
        }),
      );
      return;
    }
    const client: TestClient | undefined = clientVariant();
    const open = async (
      name?: string,
      commandTimeoutMs = 0,
    ): Promise<[Store, RawClient]> => {
      if (client !== undefined) {
        const target = kind === "standalone" ? { url: redisUrl()! } : { nodes: clusterNodes()! };
        const c = await openClient(client, target, name);
        const store = new RedisStore(c.client, { commandTimeoutMs });
        cleanups.push(async () => {
          await store.close();
          await c.close();
        });
        return [store, undefined];
      }
      const raw = await connect(kind, name);
      // Coalescing on (the default, made explicit): every suite, the fault suites included, runs
      // its calls through the batcher and the batch forms (issue 15).
      const store = new RedisStore(raw as RedisClientLike, { commandTimeoutMs, batch: true });
      cleanups.push(async () => {
        await store.close();
        await closeNodeRedis(raw);
      });
      return [store, raw];
    };
    const [store, opened] = await open();
    let raw = opened;
    if (raw === undefined) {
      // The store wraps the variant's client; inspection goes through node-redis 5.
      const inspector = await connect(kind);
      cleanups.push(() => closeNodeRedis(inspector));
      raw = inspector;
    }
    await bounded(
      timeoutMs,
      fn({
        kind,
        store,
        prefix: uniquePrefix(name),
        another: async (options) => (await open(options?.name, options?.commandTimeoutMs))[0],
        memory: undefined,
        raw,
      }),
    );
  } finally {
    hung = await teardown(kind, cleanups);
  }
  // Reached only when the body passed (a failed body's error is the one reported).
  if (hung !== undefined) throw new Error(hung);
}

/**
 * Runs the cleanups, last first, each bounded: one that hangs or fails does not stop the others.
 * @returns what went wrong first, if anything
 */
async function teardown(
  kind: StoreKind,
  cleanups: Array<() => Promise<void>>,
): Promise<string | undefined> {
  let hung: string | undefined;
  for (const c of cleanups.reverse()) {
    const done = await within(c(), CLEANUP_TIMEOUT_MS);
    if (done.status === "timeout") hung ??= `a teardown step took over ${CLEANUP_TIMEOUT_MS} ms`;
    else if (done.status === "rejected") hung ??= `a teardown step failed: ${done.reason}`;
  }
  // A client closed mid-handshake schedules a zero-delay "reconnect" (see the strategies): let
  // it complete (it ends at once: the client is closed) before the sanitizers look.
  if (kind !== "memory") await new Promise((resolve) => setTimeout(resolve, 1));
  return hung;
}

/** Awaits a test body, failing it as a hang when it outlives `timeoutMs`. */
async function bounded(timeoutMs: number, body: Promise<void>): Promise<void> {
  const done = await within(body, timeoutMs);
  if (done.status === "rejected") throw done.reason;
  if (done.status === "timeout") {
    throw new Error(`the test did not finish within ${timeoutMs} ms: a hang`);
  }
}

/**
 * Retries `c.flush()` until one succeeds (a store that is back after a fault).
 *
 * @param c a lax primitive
 * @param timeoutMs how long to keep trying
 */
export async function flushed(c: { flush(): Promise<void> }, timeoutMs = 10_000): Promise<void> {
  await waitForCondition(() => c.flush().then(() => true, () => false), {
    timeoutMs,
    message: "a successful flush",
  });
}
