/**
 * Redis for the test suites. `npm test` (scripts/run_tests.mjs) starts a standalone server and a
 * 6-node cluster and passes them in `REDIS_URL` and `REDIS_CLUSTER_NODES`; tests connect with
 * {@linkcode connectStandalone} and {@linkcode connectCluster}, and should be ignored when
 * {@linkcode redisUrl} / {@linkcode clusterNodes} are undefined. Fault tests that stop, kill or
 * restart a server start their own with {@linkcode startPrivateRedis} (binary from
 * `DISTKIT_REDIS_SERVER`, else `redis-server` on PATH).
 *
 * Every client must be closed (`await client.close()`) and every private server stopped
 * (`await server.stop()`, or `await using`), or Deno's sanitizers fail the test.
 *
 * @module
 */
import { createClient, createCluster } from "redis";
import { sleep } from "./wait.ts";

const HOST = "127.0.0.1";
/** Private servers live under the directory the runner sweeps after a killed run. */
const ROOT = new URL("../../.tmp/redis/", import.meta.url);

/** A Redis node address. */
export interface NodeAddress {
  /** Host name or IP. */
  host: string;
  /** TCP port. */
  port: number;
}

/** The standalone server's URL from `REDIS_URL`, if set. */
export function redisUrl(): string | undefined {
  return Deno.env.get("REDIS_URL") || undefined;
}

/** The cluster nodes from `REDIS_CLUSTER_NODES` (`host:port,host:port,...`), if set. */
export function clusterNodes(): NodeAddress[] | undefined {
  const raw = Deno.env.get("REDIS_CLUSTER_NODES");
  if (!raw) return undefined;
  return raw.split(",").map((entry) => {
    const i = entry.lastIndexOf(":");
    return { host: entry.slice(0, i).trim(), port: Number(entry.slice(i + 1)) };
  });
}

/** The redis-server binary private servers run: `DISTKIT_REDIS_SERVER`, else from PATH. */
export function redisServerPath(): string {
  return Deno.env.get("DISTKIT_REDIS_SERVER") || "redis-server";
}

/**
 * Reconnect fast after a killed connection or a restart: at once, then 20 ms, 40 ms, ... capped at
 * 200 ms. At once first, because node-redis also "reconnects" a client closed while its socket is
 * still saying hello (a cluster's node connection at a test's end): its wait outlived the test, and
 * Deno's sanitizer failed the test with a timer that it started (and the next test, where it
 * completed). A zero wait completes within the test's clean-up (`runWith` waits one timer turn).
 */
export function reconnectStrategy(retries: number): number {
  return retries === 0 ? 0 : Math.min(20 * retries, 200);
}

const socket = { connectTimeout: 2000, reconnectStrategy };

function ignoreErrors(_error: unknown): void {
  // Connection errors are reported to the callers of commands; do not crash the process.
}

function makeStandalone(url: string) {
  return createClient({ url, socket }).on("error", ignoreErrors);
}

function makeCluster(nodes: NodeAddress[]) {
  return createCluster({
    rootNodes: nodes.map(({ host, port }) => ({ url: `redis://${host}:${port}` })),
    defaults: { socket },
  }).on("error", ignoreErrors);
}

/** A node-redis v5 standalone client as {@linkcode connectStandalone} makes it. */
export type StandaloneClient = ReturnType<typeof makeStandalone>;
/** A node-redis v5 cluster client as {@linkcode connectCluster} makes it. */
export type ClusterClient = ReturnType<typeof makeCluster>;

/**
 * A connected client for `url` (default `REDIS_URL`). Close it with `await client.close()`.
 * @throws {Error} when no URL is given and `REDIS_URL` is not set
 */
export async function connectStandalone(url = redisUrl()): Promise<StandaloneClient> {
  if (!url) throw new Error("REDIS_URL is not set: run the suite with `npm test`");
  const client = makeStandalone(url);
  await client.connect();
  return client;
}

/**
 * A connected cluster client for `nodes` (default `REDIS_CLUSTER_NODES`). Close it with
 * `await cluster.close()`.
 * @throws {Error} when no nodes are given and `REDIS_CLUSTER_NODES` is not set
 */
export async function connectCluster(nodes = clusterNodes()): Promise<ClusterClient> {
  if (!nodes?.length) {
    throw new Error("REDIS_CLUSTER_NODES is not set: run the suite with `npm test`");
  }
  const cluster = makeCluster(nodes);
  await cluster.connect();
  return cluster;
}

/** A redis-server of a test's own, for fault tests. */
export interface PrivateRedis extends AsyncDisposable {
  /** `redis://127.0.0.1:<port>` */
  readonly url: string;
  /** Its port; the same across restarts. */
  readonly port: number;
  /** Whether the process is running. */
  readonly running: boolean;
  /** Stops the server (if running) and removes its directory. Idempotent. */
  stop(): Promise<void>;
  /**
   * Shuts the server down (`SHUTDOWN SAVE` when `keepData`, else `SHUTDOWN NOSAVE` and the RDB
   * file removed) and starts it again on the same port. After {@linkcode kill} it only starts.
   */
  restart(options?: { keepData?: boolean }): Promise<void>;
  /** Kills the process with SIGKILL (a crash: nothing saved) and waits for it to exit. */
  kill(): Promise<void>;
  /** Freezes the process (SIGSTOP): connections stay open, nothing answers. */
  pause(): void;
  /** Thaws a paused process (SIGCONT). */
  resume(): void;
}

/** Options for {@linkcode startPrivateRedis}. */
export interface PrivateRedisOptions {
  /** Extra `redis-server` arguments, e.g. `["--maxmemory", "1mb"]`. */
  args?: string[];
}

/**
 * Starts a private redis-server on a free loopback port with its own data directory (no
 * automatic persistence). Stop it with `await server.stop()` or `await using`.
 */
export async function startPrivateRedis(options: PrivateRedisOptions = {}): Promise<PrivateRedis> {
  for (let attempt = 1;; attempt++) {
    const [port] = freePorts(1) as [number];
    const server = new PrivateServer(port, options.args ?? []);
    try {
      await server.start();
      return server;
    } catch (error) {
      await server.stop();
      if (attempt >= 3) throw error;
    }
  }
}

/** `n` distinct free loopback ports (all bound at once, then released). */
export function freePorts(n: number): number[] {
  const listeners = Array.from({ length: n }, () => Deno.listen({ hostname: HOST, port: 0 }));
  const ports = listeners.map((l) => (l.addr as Deno.NetAddr).port);
  for (const l of listeners) l.close();
  return ports;
}

/** The redis-cli binary `startPrivateCluster` runs: `DISTKIT_REDIS_CLI`, else from PATH. */
export function redisCliPath(): string {
  return Deno.env.get("DISTKIT_REDIS_CLI") || "redis-cli";
}

/** A Redis cluster of a test's own, for fault tests such as killing a primary. */
export interface PrivateCluster extends AsyncDisposable {
  /** Every node, in creation order: the first `primaries` started as primaries. */
  readonly nodes: NodeAddress[];
  /** The node on `port`, to kill, pause or restart it. */
  server(port: number): PrivateRedis;
  /**
   * Waits until every running node reports `cluster_state:ok` with all slots served and every
   * running replica in sync: after a kill, until a replica has been promoted.
   */
  waitHealthy(timeoutMs?: number): Promise<void>;
  /** Stops every node and removes their directories. */
  stop(): Promise<void>;
}

/** Options for {@linkcode startPrivateCluster}. */
export interface PrivateClusterOptions {
  /** @default {3} */
  primaries?: number;
  /** Replicas per primary. @default {1} */
  replicas?: number;
  /** `cluster-node-timeout`: how soon a dead primary is failed over. @default {1000} */
  nodeTimeoutMs?: number;
}

/**
 * Starts a private cluster (default 3 primaries, 1 replica each) on free loopback ports, created
 * with `redis-cli --cluster create`, and waits until it is healthy. Stop it with
 * `await cluster.stop()` or `await using`.
 */
export async function startPrivateCluster(
  options: PrivateClusterOptions = {},
): Promise<PrivateCluster> {
  const { primaries = 3, replicas = 1, nodeTimeoutMs = 1000 } = options;
  const count = primaries * (replicas + 1);
  const ports = freePorts(count * 2);
  const servers = Array.from({ length: count }, (_, i) => {
    const args = [
      ...["--cluster-enabled", "yes", "--cluster-port", String(ports[count + i])],
      ...["--cluster-node-timeout", String(nodeTimeoutMs)],
      ...["--cluster-replica-validity-factor", "0", "--repl-diskless-sync-delay", "0"],
    ];
    return new PrivateServer(ports[i]!, args);
  });
  const cluster = new PrivateClusterImpl(servers, primaries);
  try {
    await Promise.all(servers.map((s) => s.start()));
    await createClusterWithCli(servers.map((s) => s.port), replicas);
    await cluster.waitHealthy();
    return cluster;
  } catch (error) {
    await cluster.stop();
    throw error;
  }
}

async function createClusterWithCli(ports: number[], replicas: number): Promise<void> {
  const args = [
    ...["--cluster", "create", ...ports.map((p) => `${HOST}:${p}`)],
    ...["--cluster-replicas", String(replicas), "--cluster-yes"],
  ];
  const out = await new Deno.Command(redisCliPath(), { args, stdin: "null" }).output();
  if (!out.success) {
    const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
    throw new Error(`redis-cli --cluster create failed:\n${text}`);
  }
}

class PrivateClusterImpl implements PrivateCluster {
  readonly nodes: NodeAddress[];
  #servers: PrivateServer[];
  #primaries: number;

  constructor(servers: PrivateServer[], primaries: number) {
    this.#servers = servers;
    this.#primaries = primaries;
    this.nodes = servers.map((s) => ({ host: HOST, port: s.port }));
  }

  server(port: number): PrivateRedis {
    const server = this.#servers.find((s) => s.port === port);
    if (!server) throw new Error(`no node of this cluster listens on ${port}`);
    return server;
  }

  async waitHealthy(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let problem: string | undefined = "not checked";
    while (Date.now() < deadline) {
      problem = await this.#problem();
      if (!problem) return;
      await sleep(50);
    }
    throw new Error(`private cluster not healthy after ${timeoutMs} ms: ${problem}`);
  }

  /** What is still wrong, seen from the running nodes, if anything. */
  async #problem(): Promise<string | undefined> {
    for (const { port } of this.#servers.filter((s) => s.running)) {
      try {
        const c = infoFields(await sendCommand(port, ["CLUSTER", "INFO"]));
        if (c.cluster_state !== "ok") return `${port}: cluster_state ${c.cluster_state}`;
        if (c.cluster_slots_ok !== "16384") return `${port}: slots_ok ${c.cluster_slots_ok}`;
        if (Number(c.cluster_size) !== this.#primaries) return `${port}: size ${c.cluster_size}`;
        const r = infoFields(await sendCommand(port, ["INFO", "replication"]));
        if (r.role === "slave" && r.master_link_status !== "up") return `${port}: link down`;
      } catch (error) {
        return `${port}: ${error}`;
      }
    }
    return undefined;
  }

  async stop(): Promise<void> {
    await Promise.all(this.#servers.map((s) => s.stop()));
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }
}

class PrivateServer implements PrivateRedis {
  readonly port: number;
  readonly url: string;
  #args: string[];
  #dir: URL;
  #child: Deno.ChildProcess | undefined;
  #status: Promise<Deno.CommandStatus> | undefined;
  #exited = true;

  constructor(port: number, args: string[]) {
    this.port = port;
    this.url = `redis://${HOST}:${port}`;
    this.#args = args;
    this.#dir = new URL(`private-${Deno.pid}-${port}/`, ROOT);
  }

  get running(): boolean {
    return !this.#exited;
  }

  async start(): Promise<void> {
    await Deno.mkdir(this.#dir, { recursive: true });
    await Deno.writeTextFile(new URL("owner", this.#dir), String(Deno.pid));
    const dir = decodeURIComponent(this.#dir.pathname);
    const args = [
      ...["--port", String(this.port), "--bind", HOST, "--dir", dir, "--save", ""],
      ...["--appendonly", "no", "--daemonize", "no", "--logfile", `${dir}redis.log`],
      ...["--pidfile", `${dir}redis.pid`, "--enable-debug-command", "local"],
      ...this.#args,
    ];
    const command = new Deno.Command(redisServerPath(), {
      args,
      stdin: "null",
      stdout: "null",
      stderr: "null",
    });
    this.#child = command.spawn();
    this.#exited = false;
    this.#status = this.#child.status.finally(() => this.#exited = true);
    await this.#waitReady();
  }

  /** Waits until this process (not another one on the port) answers and has loaded its data. */
  async #waitReady(): Promise<void> {
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline && !this.#exited) {
      if (await isReady(this.port, this.#child!.pid)) return;
      await sleep(20);
    }
    const log = await Deno.readTextFile(new URL("redis.log", this.#dir)).catch(() => "");
    throw new Error(`private redis-server on ${this.port} did not start:\n${log.slice(-800)}`);
  }

  async restart({ keepData = false }: { keepData?: boolean } = {}): Promise<void> {
    if (!this.#exited) {
      this.resume();
      await sendCommand(this.port, ["SHUTDOWN", keepData ? "SAVE" : "NOSAVE"]).catch(() => {});
      await this.#waitExit(5000);
    }
    if (!keepData) await Deno.remove(new URL("dump.rdb", this.#dir)).catch(() => {});
    await this.start();
  }

  async kill(): Promise<void> {
    if (!this.#exited) this.#child?.kill("SIGKILL");
    await this.#status;
  }

  pause(): void {
    if (!this.#exited) this.#child?.kill("SIGSTOP");
  }

  resume(): void {
    if (!this.#exited) this.#child?.kill("SIGCONT");
  }

  async stop(): Promise<void> {
    if (!this.#exited) {
      this.resume();
      this.#child?.kill("SIGTERM");
      await this.#waitExit(5000);
    }
    await this.#status;
    await Deno.remove(this.#dir, { recursive: true }).catch(() => {});
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }

  /** Waits for the process to exit, killing it if it takes longer than `ms`. */
  async #waitExit(ms: number): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        if (!this.#exited) this.#child?.kill("SIGKILL");
        resolve();
      }, ms);
    });
    await Promise.race([this.#status, timeout]);
    clearTimeout(timer);
    await this.#status;
  }
}

async function isReady(port: number, pid: number): Promise<boolean> {
  try {
    const info = infoFields(await sendCommand(port, ["INFO", "server", "persistence"]));
    return info.process_id === String(pid) && info.loading === "0";
  } catch {
    return false;
  }
}

/**
 * Sends one RESP command over a fresh connection and returns its raw reply: a simple string,
 * error or integer line, or a whole bulk string (arrays are not parsed). Empty when the server
 * closed the connection without a reply, as `SHUTDOWN` does.
 */
export async function sendCommand(port: number, args: string[]): Promise<string> {
  const conn = await Deno.connect({ hostname: HOST, port });
  try {
    const enc = new TextEncoder();
    let payload = `*${args.length}\r\n`;
    for (const a of args) payload += `$${enc.encode(a).length}\r\n${a}\r\n`;
    await conn.write(enc.encode(payload));
    let reply = new Uint8Array(0);
    const buf = new Uint8Array(16384);
    while (!isComplete(reply)) {
      const n = await conn.read(buf);
      if (n === null) break;
      const next = new Uint8Array(reply.length + n);
      next.set(reply);
      next.set(buf.subarray(0, n), reply.length);
      reply = next;
    }
    return new TextDecoder().decode(reply);
  } finally {
    conn.close();
  }
}

/** Whether `reply` holds one whole RESP reply (bulk strings counted by their length). */
function isComplete(reply: Uint8Array): boolean {
  const text = new TextDecoder().decode(reply);
  const eol = text.indexOf("\r\n");
  if (eol < 0) return false;
  if (text[0] !== "$") return true;
  const len = Number(text.slice(1, eol));
  return len < 0 ||
    reply.length >= new TextEncoder().encode(text.slice(0, eol + 2)).length + len + 2;
}

/** `INFO` / `CLUSTER INFO` text as a field map. */
export function infoFields(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split("\r\n")) {
    const i = line.indexOf(":");
    if (i > 0 && !line.startsWith("#") && !line.startsWith("$")) {
      out[line.slice(0, i)] = line.slice(i + 1);
    }
  }
  return out;
}
