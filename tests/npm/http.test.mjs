/**
 * The built package's HTTP adapters under Node and Bun (`node --test tests/npm/`, `bun test
 * tests/npm/`): Express 5 with `distkit/http/express` on a real loopback server driven with
 * fetch, and `withRateLimit` called directly.
 */
import assert from "node:assert/strict";
import { test } from "node:test";

// Computed specifiers keep `deno check`, which does not know the package name, out of them.
const PACKAGE = "distkit";
const { expressRateLimit } = await import(`${PACKAGE}/http/express`);
const { withRateLimit, ipKey } = await import(`${PACKAGE}/http`);
const express = (await import("express")).default;

test("distkit/http/express limits a real Express server", async () => {
  const limit = expressRateLimit({ limit: 2, windowMs: 60_000 });
  const app = express();
  app.use(limit);
  app.get("/", (_req, res) => void res.send("ok"));
  const server = await new Promise((resolve) => {
    const s = app.listen(0, "127.0.0.1", () => resolve(s));
  });
  try {
    const url = `http://127.0.0.1:${server.address().port}/`;
    const statuses = [];
    let last;
    for (let i = 0; i < 3; i++) {
      last = await fetch(url);
      await last.text();
      statuses.push(last.status);
    }
    assert.deepEqual(statuses, [200, 200, 429]);
    assert.ok(Number(last.headers.get("retry-after")) >= 1);
    assert.equal(limit.limiter.local.absolute.get("127.0.0.1"), 2);
  } finally {
    server.closeAllConnections?.();
    await new Promise((resolve) => server.close(resolve));
    await limit.close();
  }
});

test("distkit/http: withRateLimit and ipKey", async () => {
  const handler = withRateLimit(() => new Response("ok"), {
    limit: 1,
    windowMs: 1000,
    key: () => ipKey("::ffff:192.0.2.1"),
  });
  try {
    assert.equal((await handler(new Request("http://x/"))).status, 200);
    assert.equal((await handler(new Request("http://x/"))).status, 429);
    assert.equal(handler.limiter.local.absolute.get("192.0.2.1"), 1);
  } finally {
    await handler.close();
  }
});

test("distkit/http: withRateLimit on Bun.serve keys by server.requestIP", {
  skip: typeof globalThis.Bun === "undefined" && "Bun only",
}, async () => {
  const handler = withRateLimit(() => new Response("ok"), { limit: 1, windowMs: 60_000 });
  const server = globalThis.Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: handler });
  try {
    const url = `http://127.0.0.1:${server.port}/`;
    const first = await fetch(url);
    await first.text();
    const second = await fetch(url);
    await second.text();
    assert.deepEqual([first.status, second.status], [200, 429]);
    assert.equal(handler.limiter.local.absolute.get("127.0.0.1"), 1);
  } finally {
    server.stop(true);
    await handler.close();
  }
});
