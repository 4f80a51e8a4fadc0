/**
 * Valkey GLIDE 2 clients for tests, on the suite's servers (`REDIS_URL`, `REDIS_CLUSTER_NODES`).
 * GLIDE's logger is set to errors only: it would print a warning for every error reply (NOSCRIPT,
 * DISTKIT_OVERFLOW, ...) the tests provoke on purpose.
 *
 * @module
 */
import { GlideClient, GlideClusterClient, Logger } from "@valkey/valkey-glide";
import { clusterNodes, type NodeAddress, redisUrl } from "./servers.ts";

Logger.setLoggerConfig("error");

export { GlideClient, GlideClusterClient };

/** A GLIDE client of either kind. */
export type AnyGlideClient = GlideClient | GlideClusterClient;

/** Options for {@linkcode connectGlide}. */
export interface GlideConnectOptions {
  /** `CLIENT SETNAME` of its connections (the driver's subscriber takes it too). */
  clientName?: string;
}

/**
 * A GLIDE client on the suite's standalone server or cluster. Close it with `client.close()`.
 * @throws {Error} when the server's address is not set
 */
export function connectGlide(
  kind: "standalone" | "cluster",
  options: GlideConnectOptions = {},
): Promise<AnyGlideClient> {
  if (kind === "standalone") {
    const url = redisUrl();
    if (url === undefined) throw new Error("REDIS_URL is not set: run the suite with `npm test`");
    return openGlide({ url }, options);
  }
  const nodes = clusterNodes();
  if (!nodes?.length) {
    throw new Error("REDIS_CLUSTER_NODES is not set: run the suite with `npm test`");
  }
  return openGlide({ nodes }, options);
}

/**
 * A GLIDE client on a standalone server (`url`) or a cluster (`nodes`), with a request timeout
 * of 5 s (GLIDE's default, 250 ms, is short for a loaded test machine). Close it with
 * `client.close()`.
 */
export async function openGlide(
  target: { url: string } | { nodes: NodeAddress[] },
  options: GlideConnectOptions = {},
): Promise<AnyGlideClient> {
  const common = {
    requestTimeout: 5000,
    ...(options.clientName === undefined ? {} : { clientName: options.clientName }),
  };
  if ("url" in target) {
    const { hostname, port } = new URL(target.url);
    return await GlideClient.createClient({
      addresses: [{ host: hostname, port: Number(port) }],
      ...common,
    });
  }
  return await GlideClusterClient.createClient({ addresses: target.nodes, ...common });
}

/**
 * Runs a raw command on every primary of a cluster client, or on a standalone client.
 * @returns each node's reply
 */
export async function onEveryPrimary(
  client: AnyGlideClient,
  args: string[],
): Promise<unknown[]> {
  return (await perPrimary(client, args)).map((r) => r.value);
}

/** A node's reply, with the node's `host:port` (undefined on a standalone client). */
export interface NodeReply {
  node: string | undefined;
  value: unknown;
}

/**
 * Runs a raw command on every primary of a cluster client (or on a standalone client).
 * @returns each node's reply with its address
 */
export async function perPrimary(client: AnyGlideClient, args: string[]): Promise<NodeReply[]> {
  if (client instanceof GlideClusterClient) {
    // One value when every node agreed (`OK`), else one `{ key: node, value }` per node.
    const r: unknown = await client.customCommand(args, { route: "allPrimaries" });
    const perNode = Array.isArray(r) &&
      r.every((x) => x !== null && typeof x === "object" && "key" in x);
    return perNode
      ? (r as { key: string; value: unknown }[]).map((x) => ({ node: x.key, value: x.value }))
      : [{ node: undefined, value: r }];
  }
  return [{ node: undefined, value: await client.customCommand(args) }];
}

/** Runs a raw command on the node `node` (`host:port`; the client itself when undefined). */
export function onNode(
  client: AnyGlideClient,
  node: string | undefined,
  args: string[],
): Promise<unknown> {
  if (client instanceof GlideClusterClient && node !== undefined) {
    return client.customCommand(args, { route: { type: "routeByAddress", host: node } });
  }
  return client.customCommand(args);
}

/**
 * Kills (`CLIENT KILL ID`) the connections named `name` of `type` on every primary, and nothing
 * else (other tests share these servers).
 * @returns how many were killed
 */
export async function killNamed(
  client: AnyGlideClient,
  name: string,
  type: "normal" | "pubsub",
): Promise<number> {
  let killed = 0;
  for (const { node, value } of await perPrimary(client, ["CLIENT", "LIST", "TYPE", type])) {
    for (const line of String(value).split("\n")) {
      if (!line.includes(` name=${name} `)) continue;
      const id = /(?:^|\s)id=(\d+)/.exec(line)?.[1];
      if (id === undefined) continue;
      killed += Number(await onNode(client, node, ["CLIENT", "KILL", "ID", id]).catch(() => 0));
    }
  }
  return killed;
}
