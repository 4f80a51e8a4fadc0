/**
 * The conformance harness: `storeTest(name, fn)` registers one Deno test per store kind —
 * `MemoryStore`, standalone Redis and Redis Cluster — each with a fresh, unique prefix and its own
 * connections, closed afterwards (Deno's sanitizers stay on).
 *
 * Redis kinds run when `REDIS_URL` / `REDIS_CLUSTER_NODES` are set (the test runner sets both);
 * otherwise they are registered as ignored, with the reason in the name.
 */
import type { Store } from "../../store/types.ts";
import { MemoryStore } from "../../store/memory_store.ts";
import { type RedisClientLike, RedisStore } from "../../store/redis_store.ts";
import { clusterNodes, connectCluster, connectStandalone, redisUrl } from "./servers.ts";

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
   * (processes share one Redis), so it returns `store`.
   */
  another(): Promise<Store>;
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
}

let counter = 0;
/** A prefix unique to this run and test. */
export function uniquePrefix(name: string): string {
  const clean = name.replace(/[^A-Za-z0-9_-]/g, "").slice(0, 40);
  return `t${Date.now().toString(36)}${(counter++).toString(36)}-${clean}`;
}

async function connect(kind: "standalone" | "cluster"): Promise<RawClient> {
  return kind === "standalone" ? await connectStandalone() : await connectCluster();
}

async function closeRaw(c: RawClient): Promise<void> {
  try {
    await c.close();
  } catch {
    c.destroy?.();
  }
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
 * @param fn the test body
 * @param options kinds and sanitizer switches
 */
export function storeTest(
  name: string,
  fn: (fx: Fixture) => Promise<void>,
  options: StoreTestOptions = {},
): void {
  for (const kind of options.kinds ?? ["memory", "standalone", "cluster"] as StoreKind[]) {
    const ok = available(kind);
    Deno.test({
      name: `${name} [${kind}]${ok ? "" : " (no Redis: set REDIS_URL / REDIS_CLUSTER_NODES)"}`,
      ignore: !ok,
      sanitizeOps: options.sanitizeOps ?? true,
      sanitizeResources: options.sanitizeResources ?? true,
      fn: () => runWith(kind, name, fn),
    });
  }
}

/**
 * Runs `fn` with a fixture of `kind` and tears everything down afterwards.
 *
 * @param kind the store kind
 * @param name used in the prefix
 * @param fn the body
 */
export async function runWith(
  kind: StoreKind,
  name: string,
  fn: (fx: Fixture) => Promise<void>,
): Promise<void> {
  const cleanups: Array<() => Promise<void>> = [];
  try {
    if (kind === "memory") {
      const memory = new MemoryStore();
      cleanups.push(() => memory.close());
      await fn({
        kind,
        store: memory,
        prefix: uniquePrefix(name),
        another: () => Promise.resolve(memory),
        memory,
        raw: undefined,
      });
      return;
    }
    const open = async (): Promise<[Store, RawClient]> => {
      const raw = await connect(kind);
      const store = new RedisStore(raw as RedisClientLike);
      cleanups.push(async () => {
        await store.close();
        await closeRaw(raw);
      });
      return [store, raw];
    };
    const [store, raw] = await open();
    await fn({
      kind,
      store,
      prefix: uniquePrefix(name),
      another: async () => (await open())[0],
      memory: undefined,
      raw,
    });
  } finally {
    for (const c of cleanups.reverse()) await c();
  }
}

/**
 * Waits until `cond()` holds, polling every few ms; fails after `timeoutMs`.
 *
 * @param cond the condition
 * @param timeoutMs how long to wait
 * @param what described in the failure
 */
export async function waitFor(
  cond: () => boolean | Promise<boolean>,
  timeoutMs = 5000,
  what = "condition",
): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
