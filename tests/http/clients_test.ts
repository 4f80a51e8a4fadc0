/**
 * Every adapter on a real loopback server, driven with fetch: IPv4, IPv4-mapped and IPv6 clients
 * get one key each (IPv6 by /56), deny lists refuse with 403 or the configured status, allow
 * lists are never counted, a client that waits `Retry-After` is admitted, and the options are
 * validated at construction.
 */
import assert from "node:assert/strict";
import { InvalidArgumentError } from "../../core/errors.ts";
import { RateLimiter } from "../../ratelimit/rate_limiter.ts";
import { MemoryStore } from "../../store/memory_store.ts";
import { sleep } from "../_support/wait.ts";
import { ADAPTERS, get, hasIpv6, startServer } from "./_servers.ts";

for (const adapter of ADAPTERS) {
  Deno.test(`${adapter}: IPv4, IPv4-mapped and IPv6 clients each get one key`, async () => {
    await using server = await startServer(adapter, { limit: 3, windowMs: 60_000 });
    const local = server.middleware.limiter.local.absolute;
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await get(`${server.v4}/`)).status);
    assert.deepEqual(statuses, [200, 200, 200, 429]);
    assert.equal(local.get("127.0.0.1"), 3);
    if (server.v6 === undefined) return;
    // An IPv6 socket to the IPv4-mapped address is the same IPv4 client.
    const port = new URL(server.v4).port;
    assert.equal((await get(`http://[::ffff:127.0.0.1]:${port}/`)).status, 429);
    assert.equal(local.get("127.0.0.1"), 3);
    // IPv6 loopback: its own key, the /56 it belongs to.
    const v6: number[] = [];
    for (let i = 0; i < 4; i++) v6.push((await get(`${server.v6}/`)).status);
    assert.deepEqual(v6, [200, 200, 200, 429]);
    assert.equal(local.get("::/56"), 3);
    assert.equal(local.size, 2);
  });

  Deno.test(`${adapter}: a deny list refuses with 403 (or the configured status) before counting`, async () => {
    await using denied = await startServer(adapter, {
      limit: 100,
      windowMs: 60_000,
      denyList: ["127.0.0.0/8"],
      skip: () => true, // the deny list applies whatever skip says
    });
    const r = await get(`${denied.v4}/`);
    assert.equal(r.status, 403);
    assert.equal(r.body, "Forbidden");
    assert.equal(r.headers.get("RateLimit"), null);
    assert.equal(denied.middleware.limiter.local.absolute.size, 0);
    await using custom = await startServer(adapter, {
      limit: 100,
      windowMs: 60_000,
      denyList: hasIpv6() ? ["::1"] : ["127.0.0.1"],
      denyStatusCode: 451,
    });
    assert.equal((await get(`${custom.v6 ?? custom.v4}/`)).status, 451);
    if (custom.v6 !== undefined) assert.equal((await get(`${custom.v4}/`)).status, 200);
  });

  Deno.test(`${adapter}: an allow list is never limited nor counted`, async () => {
    await using server = await startServer(adapter, {
      limit: 1,
      windowMs: 60_000,
      allowList: ["127.0.0.1"],
    });
    for (let i = 0; i < 5; i++) {
      const r = await get(`${server.v4}/`);
      assert.equal(r.status, 200);
      assert.equal(r.headers.get("RateLimit"), null);
      assert.equal(r.headers.get("RateLimit-Policy"), null);
    }
    assert.equal(server.middleware.limiter.local.absolute.get("127.0.0.1"), 0);
    if (server.v6 === undefined) return;
    assert.equal((await get(`${server.v6}/`)).status, 200);
    assert.equal((await get(`${server.v6}/`)).status, 429);
  });

  Deno.test(`${adapter}: skip() and cost() decide what counts`, async () => {
    await using server = await startServer(adapter, {
      limit: 5,
      windowMs: 60_000,
      skip: (req: unknown) => urlOf(req).endsWith("/fail"),
      cost: (req: unknown) => (urlOf(req).includes("?big") ? 3 : 1),
    });
    assert.equal((await get(`${server.v4}/fail`)).status, 500);
    assert.equal((await get(`${server.v4}/?big`)).status, 200);
    assert.equal((await get(`${server.v4}/?big`)).status, 429);
    assert.equal((await get(`${server.v4}/`)).status, 200);
    assert.equal(server.middleware.limiter.local.absolute.get("127.0.0.1"), 4);
  });
}

for (const adapter of ADAPTERS) {
  Deno.test(`${adapter}: statusCode, message, handler and headers: false shape the refusal`, async () => {
    await using json = await startServer(adapter, {
      limit: 1,
      windowMs: 60_000,
      statusCode: 503,
      message: { error: "slow down" },
      headers: false,
    });
    assert.equal((await get(`${json.v4}/`)).status, 200);
    const r = await get(`${json.v4}/`);
    assert.equal(r.status, 503);
    assert.match(r.headers.get("Content-Type") ?? "", /^application\/json/);
    assert.deepEqual(JSON.parse(r.body), { error: "slow down" });
    assert.equal(r.headers.get("RateLimit"), null);
    assert.equal(r.headers.get("RateLimit-Policy"), null);
    assert.ok(Number(r.headers.get("Retry-After")) >= 1);
    await using fn = await startServer(adapter, {
      limit: 1,
      windowMs: 60_000,
      message: (_req: unknown, info: { reason: string; key: string | undefined }) =>
        `${info.reason} ${info.key}`,
    });
    await get(`${fn.v4}/`);
    const f = await get(`${fn.v4}/`);
    assert.equal(f.status, 429);
    assert.equal(f.body, "limited 127.0.0.1");
    assert.match(f.headers.get("Content-Type") ?? "", /^text\/plain/);
    await using custom = await startServer(adapter, {
      limit: 1,
      windowMs: 60_000,
      customRefusal: { status: 418, body: "teapot" },
    });
    await get(`${custom.v4}/`);
    const c = await get(`${custom.v4}/`);
    assert.equal(c.status, 418);
    assert.equal(c.body, "teapot");
    assert.ok(Number(c.headers.get("Retry-After")) >= 1, "the fields are set before the handler");
  });
}

Deno.test("expressRateLimit on a bare node:http server (what Connect hands it)", async () => {
  const http = await import("node:http");
  const { expressRateLimit } = await import("../../http/express.ts");
  await using limit = expressRateLimit({ limit: 1, windowMs: 60_000 });
  const server = http.createServer((req, res) => {
    // deno-lint-ignore no-explicit-any
    limit(req as any, res as any, (err?: unknown) => {
      res.statusCode = err === undefined ? 200 : 500;
      res.end("ok");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  try {
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/`;
    assert.equal((await get(url)).status, 200);
    const r = await get(url);
    assert.equal(r.status, 429);
    assert.ok(Number(r.headers.get("Retry-After")) >= 1);
    assert.equal(limit.limiter.local.absolute.get("127.0.0.1"), 1);
  } finally {
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }
});

for (const version of ["express5", "express4"] as const) {
  Deno.test(`${version}: the client is req.ip under Express's 'trust proxy', the socket's peer without`, async () => {
    const http = await import("node:http");
    const { expressRateLimit } = await import("../../http/express.ts");
    const express = (await import(version === "express5" ? "express" : "express4")).default;
    for (const trust of [false, true]) {
      await using limit = expressRateLimit({ limit: 100, windowMs: 60_000 });
      const app = express();
      if (trust) app.set("trust proxy", "loopback");
      app.use(limit);
      app.get("/", (_req: unknown, res: { end: (s: string) => void }) => res.end("ok"));
      const server = http.createServer(app);
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      try {
        const port = (server.address() as { port: number }).port;
        const r = await fetch(`http://127.0.0.1:${port}/`, {
          headers: { "X-Forwarded-For": "203.0.113.7" },
        });
        await r.body?.cancel();
        assert.equal(r.status, 200);
        const local = limit.limiter.local.absolute;
        assert.equal(local.get("203.0.113.7"), trust ? 1 : 0, `trust proxy ${trust}`);
        assert.equal(local.get("127.0.0.1"), trust ? 0 : 1, `trust proxy ${trust}`);
      } finally {
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
      }
    }
  });
}

/** The URL of any framework's request object (web Request, Hono context, Node-style request, Koa ctx). */
function urlOf(req: unknown): string {
  const r = req as { url?: string; req?: { url?: string } };
  return typeof r.url === "string" ? r.url : String(r.req?.url);
}

Deno.test("every adapter: a client that waits Retry-After is admitted", async () => {
  await Promise.all(ADAPTERS.map(async (adapter) => {
    await using server = await startServer(adapter, {
      limit: 2,
      windowMs: 1000,
      store: new MemoryStore(),
    });
    assert.equal((await get(`${server.v4}/`)).status, 200);
    assert.equal((await get(`${server.v4}/`)).status, 200);
    const refused = await get(`${server.v4}/`);
    assert.equal(refused.status, 429, adapter);
    const seconds = Number(refused.headers.get("Retry-After"));
    assert.ok(Number.isInteger(seconds) && seconds >= 1 && seconds <= 2, `${adapter}: ${seconds}`);
    await sleep(seconds * 1000);
    assert.equal((await get(`${server.v4}/`)).status, 200, adapter);
  }));
});

Deno.test("options are validated at construction, naming the option", async () => {
  await using shared = new RateLimiter({ windowSizeSeconds: 60 });
  const bad: Array<[Record<string, unknown>, RegExp]> = [
    [{}, /'limit'/],
    [{ limit: 0, windowMs: 1000 }, /'limit'/],
    [{ limit: 1.5, windowMs: 1000 }, /'limit'/],
    [{ limit: 1 }, /'windowMs'/],
    [{ limit: 1, windowMs: 1500 }, /'windowMs'/],
    [{ limit: 1, windowMs: 999 }, /'windowMs'/],
    [{ limit: 1, windowMs: 1000, provider: "redis" }, /'provider'/],
    [{ limit: 1, windowMs: 1000, provider: "memory" }, /'provider'/],
    [{ limit: 1, windowMs: 1000, limiter: shared }, /'limiter'.*60000 ms/],
    [{ limit: 1, windowMs: 60_000, limiter: {} }, /'limiter'/],
    [{ limit: 1, windowMs: 60_000, limiter: shared, store: new MemoryStore() }, /'store'/],
    [{ limit: 1, windowMs: 60_000, limiter: shared, onStoreError: "allow" }, /'onStoreError'/],
    [{ limit: 1, windowMs: 60_000, limiter: shared, provider: "hybrid" }, /'provider'/],
    [{ limit: 1, windowMs: 1000, key: "ip" }, /'key'/],
    [{ limit: 1, windowMs: 1000, cost: 2 }, /'cost'/],
    [{ limit: 1, windowMs: 1000, skip: true }, /'skip'/],
    [{ limit: 1, windowMs: 1000, handler: "x" }, /'handler'/],
    [{ limit: 1, windowMs: 1000, allowList: ["10.0.0.0/40"] }, /'allowList'/],
    [{ limit: 1, windowMs: 1000, denyList: "10.0.0.1" }, /'denyList'/],
    [{ limit: 1, windowMs: 1000, statusCode: 200 }, /'statusCode'/],
    [{ limit: 1, windowMs: 1000, denyStatusCode: 600 }, /'denyStatusCode'/],
    [{ limit: 1, windowMs: 1000, message: 5 }, /'message'/],
    [{ limit: 1, windowMs: 1000, headers: "draft-8" }, /'headers'/],
    [{ limit: 1, windowMs: 1000, headers: ["draft-6", "draft-7"] }, /'headers'/],
    [{ limit: 1, windowMs: 1000, policy: "" }, /'policy'/],
    [{ limit: 1, windowMs: 1000, refundFailed: "yes" }, /'refundFailed'/],
    [{ limit: 1, windowMs: 1000, onStoreError: "ignore" }, /'onStoreError'/],
    [{ limit: 1, windowMs: 1000, ipv6Subnet: 0 }, /'ipv6Subnet'/],
    [{ limit: 1, windowMs: 1000, trustProxy: { hops: 0 } }, /'trustProxy.hops'/],
    [{ limit: 1, windowMs: 1000, trustProxy: { header: "bad header" } }, /'trustProxy.header'/],
    [{ limit: 1, windowMs: 1000, limiterOptions: { syncIntervalMs: 0 } }, /'syncIntervalMs'/],
    [{ limit: 1, windowMs: 1000, windowSizeSeconds: 5 }, /'windowSizeSeconds'/],
  ];
  const { withRateLimit } = await import("../../http/with_rate_limit.ts");
  const { expressRateLimit } = await import("../../http/express.ts");
  const { honoRateLimit } = await import("../../http/hono.ts");
  const { fastifyRateLimit } = await import("../../http/fastify.ts");
  const { koaRateLimit } = await import("../../http/koa.ts");
  const makers: Array<(o: never) => unknown> = [
    (o) => withRateLimit(() => new Response(), o),
    expressRateLimit,
    honoRateLimit,
    fastifyRateLimit,
    koaRateLimit,
  ];
  for (const make of makers) {
    for (const [options, re] of bad) {
      assert.throws(
        () => make(options as never),
        (e) => e instanceof InvalidArgumentError && re.test(e.message),
        JSON.stringify(options),
      );
    }
  }
});

Deno.test("trustProxy reads the client from the proxy's header, the hops-th from the right", async () => {
  const { withRateLimit } = await import("../../http/with_rate_limit.ts");
  await using handler = withRateLimit(() => new Response("ok"), {
    limit: 1,
    windowMs: 60_000,
    trustProxy: { header: "X-Forwarded-For", hops: 2 },
  });
  const req = (xff?: string) =>
    new Request("http://x/", { headers: xff === undefined ? {} : { "x-forwarded-for": xff } });
  assert.equal((await handler(req("6.6.6.6, 203.0.113.9, 10.0.0.2"))).status, 200);
  // The client's own claim (leftmost) does not matter: same second-from-right entry.
  assert.equal((await handler(req("7.7.7.7, 203.0.113.9, 10.0.0.2"))).status, 429);
  assert.equal(handler.limiter.local.absolute.get("203.0.113.9"), 1);
  await assert.rejects(() => handler(req()), InvalidArgumentError);
  // No proxy header trusted and no runtime info: the address is unknown, so a key is needed.
  await using plain = withRateLimit(() => new Response("ok"), { limit: 1, windowMs: 60_000 });
  await assert.rejects(() => plain(req("1.2.3.4")), /Cannot tell the client address/);
});
