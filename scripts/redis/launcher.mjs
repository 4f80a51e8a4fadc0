/**
 * Throwaway Redis servers for the test suite: a standalone server and a 3-primary, 3-replica
 * cluster, on free loopback ports, each node in its own directory under `root` (default
 * `.tmp/redis/`), no persistence. Every process started here is stopped by `stop()`, and killed
 * synchronously if this Node process exits first. Directories left by a run that was killed
 * (its owner pid is gone) are swept, and their servers killed, by `sweepStale()`.
 *
 *   import { startCluster, startStandalone } from "./scripts/redis/launcher.mjs";
 *   const standalone = await startStandalone();   // { url, port, stop() }
 *   const cluster = await startCluster();         // { nodes: [{ host, port }], stop() }
 */
import { execFile, spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { command, fields } from "./resp.mjs";

const HOST = "127.0.0.1";
const DEFAULT_ROOT = path.resolve(import.meta.dirname, "../../.tmp/redis");

/** Every redis-server child still running, for the synchronous kill on exit. */
const live = new Set();
process.on("exit", () => {
  for (const child of live) child.kill("SIGKILL");
});

/**
 * Finds an executable on PATH.
 * @param {string} name
 * @returns {string | undefined} its absolute path
 */
export function which(name) {
  for (const dir of (process.env.PATH ?? "").split(path.delimiter)) {
    const file = path.join(dir, name);
    try {
      fs.accessSync(file, fs.constants.X_OK);
      return file;
    } catch { /* not here */ }
  }
  return undefined;
}

/**
 * `n` distinct free loopback ports (all bound at once, then released).
 * @param {number} n
 * @returns {Promise<number[]>}
 */
export async function freePorts(n) {
  const servers = [];
  try {
    for (let i = 0; i < n; i++) {
      const server = net.createServer();
      servers.push(server);
      await new Promise((resolve, reject) => {
        server.once("error", reject);
        server.listen(0, HOST, resolve);
      });
    }
    return servers.map((s) => s.address().port);
  } finally {
    await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  }
}

/**
 * Starts one standalone server.
 * @param {{ redisServer?: string, root?: string }} [opts]
 * @returns {Promise<{ url: string, port: number, stop(): Promise<void> }>}
 */
export async function startStandalone({ redisServer = "redis-server", root = DEFAULT_ROOT } = {}) {
  const node = await startNode({ redisServer, root, name: "standalone", cluster: false });
  return { url: `redis://${HOST}:${node.port}`, port: node.port, stop: () => node.stop() };
}

/**
 * Starts a cluster of `primaries` primaries with `replicas` replicas each, and waits until every
 * node reports `cluster_state:ok`, all slots covered and every replica in sync.
 * @param {{ redisServer?: string, redisCli?: string, root?: string, primaries?: number,
 *   replicas?: number, nodeTimeoutMs?: number }} [opts]
 * @returns {Promise<{ nodes: Array<{ host: string, port: number }>, stop(): Promise<void> }>}
 */
export async function startCluster({
  redisServer = "redis-server",
  redisCli = "redis-cli",
  root = DEFAULT_ROOT,
  primaries = 3,
  replicas = 1,
  nodeTimeoutMs = 2000,
} = {}) {
  const count = primaries * (replicas + 1);
  const started = await Promise.allSettled(
    Array.from(
      { length: count },
      (_, i) =>
        startNode({ redisServer, root, name: `cluster-${i}`, cluster: true, nodeTimeoutMs }),
    ),
  );
  const servers = started.filter((r) => r.status === "fulfilled").map((r) => r.value);
  const stop = async () => {
    await Promise.all(servers.map((s) => s.stop()));
  };
  try {
    const failed = started.find((r) => r.status === "rejected");
    if (failed) throw failed.reason;
    const ports = servers.map((s) => s.port);
    await createCluster(redisCli, ports, replicas);
    await waitClusterReady(ports, { primaries, replicas });
    return { nodes: ports.map((port) => ({ host: HOST, port })), stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/**
 * Kills servers left by runs whose owner process is gone and removes their directories.
 * @param {string} [root]
 */
export function sweepStale(root = DEFAULT_ROOT) {
  let entries = [];
  try {
    entries = fs.readdirSync(root);
  } catch {
    return;
  }
  for (const entry of entries) {
    const dir = path.join(root, entry);
    const owner = Number(readText(path.join(dir, "owner")));
    if (owner && isAlive(owner)) continue;
    const pid = Number(readText(path.join(dir, "redis.pid")));
    if (pid && isAlive(pid) && isRedisServer(pid)) {
      try {
        process.kill(pid, "SIGKILL");
      } catch { /* gone meanwhile */ }
    }
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Starts one redis-server on fresh free ports, retrying when a port was taken meanwhile.
 * @returns {Promise<{ port: number, stop(): Promise<void> }>}
 */
async function startNode(opts, attempts = 3) {
  for (let attempt = 1;; attempt++) {
    const [port, busPort] = await freePorts(opts.cluster ? 2 : 1);
    try {
      return await spawnServer({ ...opts, port, busPort });
    } catch (err) {
      if (attempt >= attempts) throw err;
    }
  }
}

async function spawnServer({ redisServer, root, name, port, busPort, cluster, nodeTimeoutMs }) {
  const dir = path.join(root, `${name}-${process.pid}-${port}`);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, "owner"), String(process.pid));
  const args = [...baseArgs(dir, port)];
  if (cluster) args.push(...clusterArgs(dir, busPort, nodeTimeoutMs));
  const child = spawn(redisServer, args, { stdio: "ignore" });
  live.add(child);
  const exited = new Promise((resolve) => {
    const settle = (status) => {
      live.delete(child);
      resolve(status);
    };
    child.once("exit", (code, signal) => settle({ code, signal }));
    child.once("error", (err) => settle({ code: err.code, signal: null }));
  });
  const stop = () => stopServer(child, exited, dir);
  try {
    await waitReady(port, child.pid, exited, dir, path.basename(redisServer));
  } catch (err) {
    await stop();
    throw err;
  }
  return { port, stop };
}

/** Turns `{ name: value }` into `--name value` arguments. */
function toArgs(config) {
  return Object.entries(config).flatMap(([name, value]) => [`--${name}`, String(value)]);
}

function baseArgs(dir, port) {
  return toArgs({
    port,
    bind: HOST,
    dir,
    save: "",
    appendonly: "no",
    daemonize: "no",
    logfile: path.join(dir, "redis.log"),
    pidfile: path.join(dir, "redis.pid"),
    "enable-debug-command": "local",
    "repl-diskless-sync-delay": 0,
  });
}

function clusterArgs(dir, busPort, nodeTimeoutMs = 2000) {
  return toArgs({
    "cluster-enabled": "yes",
    "cluster-port": busPort,
    "cluster-config-file": path.join(dir, "nodes.conf"),
    "cluster-node-timeout": nodeTimeoutMs,
    "cluster-replica-validity-factor": 0,
    // The suite's shared clusters never fail over by themselves: a stall of a loaded machine
    // could make a replica take over, and Redis replication is asynchronous, so a write already
    // acknowledged could be lost under a running test (likely what a fresh-clone run under load
    // saw: two client variants' LaxCounter contract tests, at once, each found a `set` undone).
    // Tests of failover run their own clusters (tests/_support/servers.ts), or ask for a
    // coordinated `CLUSTER FAILOVER`, which this does not prevent.
    "cluster-replica-no-failover": "yes",
  });
}

/**
 * Polls until this process (not another one on the port) answers; fails with the log's tail if
 * it exits or takes over 10 s.
 */
async function waitReady(port, pid, exited, dir, binary, timeoutMs = 10_000) {
  let gone;
  exited.then((status) => gone = status);
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (gone) break;
    try {
      const info = fields(await command(port, ["INFO", "server"], { timeoutMs: 500 }));
      if (info.process_id === String(pid)) return;
    } catch { /* not yet */ }
    await sleep(25);
  }
  const why = gone ? `exited (${gone.signal ?? gone.code})` : "did not answer PING in time";
  throw new Error(`${binary} on port ${port} ${why}:\n${logTail(dir)}`);
}

async function stopServer(child, exited, dir) {
  if (child.exitCode === null && child.signalCode === null) {
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
    await exited;
    clearTimeout(timer);
  }
  fs.rmSync(dir, { recursive: true, force: true });
}

function createCluster(redisCli, ports, replicas) {
  const args = [
    "--cluster",
    "create",
    ...ports.map((p) => `${HOST}:${p}`),
    "--cluster-replicas",
    String(replicas),
    "--cluster-yes",
  ];
  return new Promise((resolve, reject) => {
    execFile(redisCli, args, { timeout: 60_000 }, (err, stdout, stderr) => {
      if (err) {
        reject(new Error(`redis-cli --cluster create failed: ${err.message}\n${stdout}${stderr}`));
      } else resolve();
    });
  });
}

/** Waits until every node sees a healthy cluster of the expected shape. */
async function waitClusterReady(ports, { primaries, replicas }, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  let problem = "not checked";
  while (Date.now() < deadline) {
    problem = await clusterProblem(ports, { primaries, replicas });
    if (!problem) return;
    await sleep(100);
  }
  throw new Error(`cluster not ready after ${timeoutMs} ms: ${problem}`);
}

/** @returns {Promise<string | undefined>} what is still wrong, if anything */
async function clusterProblem(ports, { primaries, replicas }) {
  for (const port of ports) {
    try {
      const c = fields(await command(port, ["CLUSTER", "INFO"]));
      if (c.cluster_state !== "ok") return `${port}: cluster_state ${c.cluster_state}`;
      if (c.cluster_slots_ok !== "16384") return `${port}: slots_ok ${c.cluster_slots_ok}`;
      if (Number(c.cluster_known_nodes) !== ports.length) return `${port}: known nodes`;
      if (Number(c.cluster_size) !== primaries) return `${port}: cluster_size ${c.cluster_size}`;
      const r = fields(await command(port, ["INFO", "replication"]));
      if (r.role === "slave" && r.master_link_status !== "up") return `${port}: link down`;
      if (r.role === "master" && Number(r.connected_slaves) !== replicas) {
        return `${port}: ${r.connected_slaves} replicas`;
      }
    } catch (err) {
      return `${port}: ${err.message}`;
    }
  }
  return undefined;
}

function readText(file) {
  try {
    return fs.readFileSync(file, "utf8").trim();
  } catch {
    return "";
  }
}

function logTail(dir) {
  return readText(path.join(dir, "redis.log")).split("\n").slice(-10).join("\n");
}

function isAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err.code === "EPERM";
  }
}

/** True when /proc says `pid` runs redis-server or valkey-server (Linux); false when it cannot
 * tell. */
function isRedisServer(pid) {
  return /(?:redis|valkey)-server/.test(readText(`/proc/${pid}/cmdline`));
}
