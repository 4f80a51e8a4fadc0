/**
 * The HTTP benchmark's load generator (run by scripts/bench/http.ts with `node`): `node
 * _http_load.mjs <port> <connections> <seconds>`. Closed loop: each keep-alive connection sends
 * `GET /`, waits for the whole response (Content-Length), and sends the next; every latency is
 * timed with `process.hrtime` (µs resolution: autocannon reports whole milliseconds, too coarse
 * for a middleware's added fraction of one). Prints one JSON line: requests/s, p50/p99 ms, the
 * count, and errors (non-2xx responses, connection errors).
 */
import net from "node:net";
import process from "node:process";

const [port, connections, seconds] = process.argv.slice(2).map(Number);
const REQUEST = Buffer.from("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
const HEAD_END = Buffer.from("\r\n\r\n");
const latencies = [];
let errors = 0;
let done = 0;
const start = process.hrtime.bigint();
const end = start + BigInt(Math.round(seconds * 1e9));

function connection() {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: "127.0.0.1", noDelay: true });
    let buf = Buffer.alloc(0);
    let sent = 0n;
    const send = () => {
      sent = process.hrtime.bigint();
      if (sent >= end) {
        socket.end();
        return resolve();
      }
      socket.write(REQUEST);
    };
    socket.on("connect", send);
    socket.on("error", () => {
      errors++;
      resolve();
    });
    socket.on("data", (chunk) => {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      for (;;) {
        const head = buf.indexOf(HEAD_END);
        if (head < 0) return;
        const text = buf.toString("latin1", 0, head);
        const m = /\r\ncontent-length:\s*(\d+)/i.exec(text);
        const total = head + 4 + (m ? Number(m[1]) : 0);
        if (buf.length < total) return;
        if (!text.startsWith("HTTP/1.1 2")) errors++;
        buf = buf.subarray(total);
        latencies.push(Number(process.hrtime.bigint() - sent) / 1e6);
        done++;
        send();
      }
    });
  });
}

await Promise.all(Array.from({ length: connections }, connection));
const elapsed = Number(process.hrtime.bigint() - start) / 1e9;
latencies.sort((a, b) => a - b);
const pct = (p) =>
  latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))] ?? 0;
process.stdout.write(
  JSON.stringify({ rps: done / elapsed, p50: pct(50), p99: pct(99), total: done, errors }) + "\n",
);
