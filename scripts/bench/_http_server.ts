/**
 * One Express 5 app for scripts/bench/http.ts, run by Node (bundled by esbuild): `GET /` → "ok",
 * bare or behind a rate-limit middleware whose limit is never reached:
 *   node http_server.mjs <bare|layer|floor|local|redis|hybrid|hybrid-1s|peer> <redis-url>
 * `redis` / `hybrid`: distkit's expressRateLimit with that provider (draft-11 headers);
 * `peer`: express-rate-limit + rate-limit-redis (draft-7 headers, its cheapest standard form);
 * `hybrid-1s`: the hybrid provider on a limiter of its own that syncs every 1,000 ms instead of
 * 10 (what the syncs cost: each is a Redis round trip); `floor`: no limiter, a middleware that
 * only sets the two draft-11 fields with constant values (what any middleware sending these
 * headers costs Express and Node, the hybrid's floor); `layer`: a middleware that only calls
 * `next()` (what any middleware costs Express); `local`: expressRateLimit's local provider (the
 * decision and its headers, no store, no syncs).
 * Prints `{"port":N}` once listening; exits on SIGTERM.
 */
import express from "express";
import { rateLimit } from "express-rate-limit";
import { RedisStore as PeerStore } from "rate-limit-redis";
import { createClient } from "redis";
import process from "node:process";
import type { AddressInfo } from "node:net";
import { expressRateLimit } from "../../http/express.ts";
import { RateLimiter } from "../../ratelimit/rate_limiter.ts";

const [variant, url] = process.argv.slice(2) as [string, string];
const LIMIT = 1_000_000_000;
const WINDOW_MS = 60_000;
const tag = `${variant}-${process.pid}`;

const app = express();
app.set("etag", false);
app.set("x-powered-by", false);
let client: ReturnType<typeof createClient> | undefined;
let close = () => Promise.resolve();
if (variant === "layer") {
  app.use((_req, _res, next) => next());
} else if (variant === "local") {
  const mw = expressRateLimit({ limit: LIMIT, windowMs: WINDOW_MS, provider: "local" });
  close = () => mw.close();
  app.use(mw);
} else if (variant === "floor") {
  app.use((_req, res, next) => {
    res.setHeader("RateLimit-Policy", `"${LIMIT}-per-60s";q=${LIMIT};w=60`);
    res.setHeader("RateLimit", `"${LIMIT}-per-60s";r=${LIMIT - 1};t=60`);
    next();
  });
} else if (variant !== "bare") {
  client = createClient({ url });
  client.on("error", () => {});
  await client.connect();
  const c = client;
  if (variant === "peer") {
    app.use(rateLimit({
      windowMs: WINDOW_MS,
      limit: LIMIT,
      standardHeaders: "draft-7",
      legacyHeaders: false,
      store: new PeerStore({
        prefix: `bench-http-${tag}:`,
        sendCommand: (...args: string[]) => c.sendCommand(args),
      }),
    }));
  } else if (variant === "hybrid-1s") {
    const limiter = new RateLimiter({
      store: c,
      prefix: `bench-http-${tag}`,
      windowSizeSeconds: WINDOW_MS / 1000,
      syncIntervalMs: 1000,
    });
    const mw = expressRateLimit({ limit: LIMIT, windowMs: WINDOW_MS, limiter, provider: "hybrid" });
    close = async () => {
      await mw.close();
      await limiter.close();
    };
    app.use(mw);
  } else if (variant === "redis" || variant === "hybrid") {
    const mw = expressRateLimit({
      limit: LIMIT,
      windowMs: WINDOW_MS,
      store: c,
      provider: variant,
      prefix: `bench-http-${tag}`,
    });
    close = () => mw.close();
    app.use(mw);
  } else throw new Error(`unknown variant ${variant}`);
}
app.get("/", (_req, res) => void res.send("ok"));
const server = app.listen(0, "127.0.0.1", () => {
  console.log(JSON.stringify({ port: (server.address() as AddressInfo).port }));
});
// The load generator's connections idle while the other variants take their slices: a cycle of
// eight variants outlasts Node's default 5 s, which would close them mid-run.
server.keepAliveTimeout = 600_000;
process.on("SIGTERM", () => {
  server.close();
  server.closeAllConnections();
  void close().then(() => client?.close()).finally(() => process.exit(0));
});
