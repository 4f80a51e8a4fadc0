/**
 * The HTTP benchmark's load generator (run by scripts/bench/http.ts with `node`): `node
 * _http_load.mjs '<json>'`, the JSON being `{ targets: [{ name, port, pid }], connections,
 * sliceMs, cycles, redisPort }`. It opens `connections` keep-alive sockets to every target, then
 * drives one target at a time, in short slices: each cycle gives every target one slice of
 * `sliceMs`, in an order shuffled per cycle, so the variants compared are measured seconds
 * apart, not tens of seconds (a shared machine's speed drifts between runs far more than within
 * one cycle). In a slice, each socket of the target is a closed loop: it sends `GET /`, waits for
 * the whole response (Content-Length) and sends the next, until the slice ends; the slice ends
 * when the last response is in. Every latency is timed with `process.hrtime` (µs resolution:
 * autocannon reports whole milliseconds, too coarse for a middleware's added fraction of one).
 *
 * Prints one JSON line: `{ slices: [{ cycle, name, rps, p50, p99, total, errors, cpuMs,
 * scriptUs }] }`, where `cpuMs` is the target process's CPU time during the slice (from /proc,
 * 10 ms ticks: sum it over slices) and `scriptUs` Redis's script time during it (INFO
 * commandstats, read over a raw connection between slices).
 */
import fs from "node:fs";
import net from "node:net";
import process from "node:process";

const spec = JSON.parse(process.argv[2]);
const REQUEST = Buffer.from("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
const HEAD_END = Buffer.from("\r\n\r\n");

/** A process's CPU time so far, ms (utime + stime; NaN off Linux). */
function cpuMsOf(pid) {
  try {
    const f = fs.readFileSync(`/proc/${pid}/stat`, "latin1").split(") ")[1].split(" ");
    return (Number(f[11]) + Number(f[12])) * 10;
  } catch {
    return NaN;
  }
}

/** Opens a socket and waits until it is connected. */
function open(port) {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: "127.0.0.1", noDelay: true });
    socket.once("connect", () => resolve(socket));
    socket.once("error", reject);
  });
}

/** A target: its sockets, each a closed loop while a slice lasts. */
class Target {
  constructor(t, sockets) {
    this.name = t.name;
    this.pid = t.pid;
    this.sockets = sockets;
    this.errors = 0;
    for (const s of sockets) this.#wire(s);
  }

  #wire(socket) {
    let buf = Buffer.alloc(0);
    let sent = 0n;
    /** A request is out and its response not yet in. */
    let waiting = false;
    const send = () => {
      sent = process.hrtime.bigint();
      // A socket the server closed is an error, counted, and its loop ends: it never answers.
      if (sent >= this.end || socket.destroyed) {
        if (socket.destroyed) this.errors++;
        return this.#idle();
      }
      waiting = true;
      socket.write(REQUEST);
    };
    socket.send = send;
    socket.on("close", () => {
      if (!waiting) return;
      waiting = false;
      this.errors++;
      this.#idle();
    });
    socket.on("error", () => {});
    socket.on("data", (chunk) => {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      for (;;) {
        const head = buf.indexOf(HEAD_END);
        if (head < 0) return;
        const text = buf.toString("latin1", 0, head);
        const m = /\r\ncontent-length:\s*(\d+)/i.exec(text);
        const total = head + 4 + (m ? Number(m[1]) : 0);
        if (buf.length < total) return;
        if (!text.startsWith("HTTP/1.1 2")) this.errors++;
        buf = buf.subarray(total);
        waiting = false;
        this.latencies.push(Number(process.hrtime.bigint() - sent) / 1e6);
        send();
      }
    });
  }

  #idle() {
    if (--this.busy === 0) this.done();
  }

  /** One slice of `ms`: resolves with its numbers once every response is in. */
  slice(ms) {
    this.latencies = [];
    this.errors = 0;
    this.busy = this.sockets.length;
    const cpu0 = cpuMsOf(this.pid);
    const start = process.hrtime.bigint();
    this.end = start + BigInt(Math.round(ms * 1e6));
    return new Promise((resolve) => {
      this.done = () => {
        const elapsed = Number(process.hrtime.bigint() - start) / 1e9;
        const l = this.latencies.sort((a, b) => a - b);
        const pct = (p) => l[Math.min(l.length - 1, Math.floor((p / 100) * l.length))] ?? 0;
        resolve({
          name: this.name,
          rps: l.length / elapsed,
          p50: pct(50),
          p99: pct(99),
          total: l.length,
          errors: this.errors,
          cpuMs: cpuMsOf(this.pid) - cpu0,
        });
      };
      for (const s of this.sockets) s.send();
    });
  }
}

/** Redis's total script time so far, µs, over one raw connection (INFO commandstats). */
function scriptTimer(socket) {
  let pending;
  let buf = "";
  socket.setEncoding("latin1");
  socket.on("data", (chunk) => {
    buf += chunk;
    const nl = buf.indexOf("\r\n");
    if (nl < 0) return;
    const len = Number(buf.slice(1, nl));
    if (buf.length < nl + 2 + len + 2) return;
    const text = buf.slice(nl + 2, nl + 2 + len);
    buf = "";
    let us = 0;
    for (const m of text.matchAll(/cmdstat_(?:evalsha|eval):calls=\d+,usec=(\d+)/g)) {
      us += Number(m[1]);
    }
    pending(us);
  });
  return () =>
    new Promise((resolve) => {
      pending = resolve;
      socket.write("*2\r\n$4\r\nINFO\r\n$12\r\ncommandstats\r\n");
    });
}

const targets = [];
for (const t of spec.targets) {
  const sockets = [];
  for (let i = 0; i < spec.connections; i++) sockets.push(await open(t.port));
  targets.push(new Target(t, sockets));
}
const scriptUs = scriptTimer(await open(spec.redisPort));
/**
 * Cycle `cycle`'s order of the targets: a permutation drawn from a generator seeded by the cycle
 * (the same for every run). A rotation would always put the same variant after a given one, and
 * what a server still does after its slice (a collection, the hybrid's last syncs) would always
 * fall on the same neighbour's slice, all its servers sharing one core.
 */
function orderOf(cycle) {
  const order = targets.map((_, i) => i);
  let seed = (cycle + 1) * 2654435761 >>> 0;
  for (let i = order.length - 1; i > 0; i--) {
    seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
    const j = seed % (i + 1);
    [order[i], order[j]] = [order[j], order[i]];
  }
  return order;
}

const slices = [];
for (let cycle = 0; cycle < spec.cycles; cycle++) {
  for (const i of orderOf(cycle)) {
    const target = targets[i];
    const before = await scriptUs();
    const s = await target.slice(spec.sliceMs);
    slices.push({ cycle, ...s, scriptUs: (await scriptUs()) - before });
  }
}
for (const t of targets) for (const s of t.sockets) s.destroy();
process.stdout.write(JSON.stringify({ slices }) + "\n");
process.exit(0);
