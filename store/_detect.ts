/**
 * Which driver (./driver.ts) a raw client gets: the one place that tells clients apart, by shape
 * only (no client is imported), used by `RedisStore`'s constructor and by `toStore`. Each entry
 * recognises one client family synchronously and loads its driver file with a dynamic `import()`
 * on first use, so an application loads only the driver it uses (a browser using `MemoryStore`,
 * none). A new client family is one more entry in {@linkcode CLIENTS}.
 *
 * @module
 */
import type { Driver } from "./driver.ts";

/** A client family distkit has a driver for. */
export interface ClientFamily {
  /** For messages: `node-redis`, `ioredis`, ... */
  readonly name: string;
  /** Whether `client` has this family's shape. */
  matches(client: object): boolean;
  /** Whether `client` (of this family) is a cluster client. */
  isCluster(client: object): boolean;
  /** Loads the driver file and wraps `client`. */
  load(client: object): Promise<Driver>;
}

/** Every supported client family, tried in order (the first that matches wins). */
export const CLIENTS: readonly ClientFamily[] = [
  {
    name: "node-redis",
    // camel-case evalSha and eval (createClient(), createCluster(): redis / @redis/client 5, 6)
    matches: (c) =>
      typeof (c as Record<string, unknown>).evalSha === "function" &&
      typeof (c as Record<string, unknown>).eval === "function",
    isCluster: (c) => "masters" in c,
    load: (c) =>
      import("./driver_node_redis.ts").then((m) =>
        new m.NodeRedisDriver(c as never, "masters" in c)
      ),
  },
  {
    name: "ioredis",
    // call and lower-case evalsha (ioredis 5, 6 Redis / Cluster; iovalkey)
    matches: (c) =>
      typeof (c as Record<string, unknown>).call === "function" &&
      typeof (c as Record<string, unknown>).evalsha === "function",
    isCluster: (c) => (c as { isCluster?: unknown }).isCluster === true,
    load: (c) => import("./driver_ioredis.ts").then((m) => new m.IoRedisDriver(c as never)),
  },
  {
    name: "valkey-glide",
    // customCommand and invokeScript (GLIDE 2 GlideClient, GlideClusterClient)
    matches: (c) =>
      typeof (c as Record<string, unknown>).customCommand === "function" &&
      typeof (c as Record<string, unknown>).invokeScript === "function",
    isCluster: (c) => typeof (c as Record<string, unknown>).invokeScriptWithRoute === "function",
    load: (c) => import("./driver_glide.ts").then((m) => new m.GlideDriver(c as never)),
  },
  {
    name: "bun",
    // send, duplicate and subscribe (Bun's built-in RedisClient)
    matches: (c) =>
      typeof (c as Record<string, unknown>).send === "function" &&
      typeof (c as Record<string, unknown>).duplicate === "function" &&
      typeof (c as Record<string, unknown>).subscribe === "function",
    isCluster: () => false,
    load: (c) => import("./driver_bun.ts").then((m) => new m.BunDriver(c as never)),
  },
];

/** The supported clients, as error messages list them. */
export const SUPPORTED_CLIENTS = "node-redis 5/6 (createClient, createCluster), " +
  "ioredis 5/6 (Redis, Cluster), iovalkey, Valkey GLIDE 2 (GlideClient, GlideClusterClient), " +
  "Bun's RedisClient";

/**
 * The family of a raw client, if distkit supports it.
 *
 * @param client anything
 * @returns its family, or `undefined`
 *
 * @example
 * ```ts
 * import { detectClient } from "./_detect.ts";
 * console.assert(detectClient({}) === undefined);
 * ```
 */
export function detectClient(client: unknown): ClientFamily | undefined {
  if (client === null || typeof client !== "object") return undefined;
  for (const f of CLIENTS) if (f.matches(client)) return f;
  return undefined;
}
