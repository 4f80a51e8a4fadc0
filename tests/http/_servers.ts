/**
 * Real servers for the HTTP adapter tests: each framework with its rate-limit middleware on a
 * loopback port, listening on `::` (dual stack: IPv4 clients arrive as `::ffff:127.0.0.1` on
 * Node-style servers) when IPv6 is available, else on 127.0.0.1. Routes: `/` → 200 "ok",
 * `/fail` → 500, `/throw` → the handler throws.
 */
import express5 from "express";
import express4 from "express4";
import Fastify from "fastify";
import { Hono } from "hono";
import Koa from "koa";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { expressRateLimit } from "../../http/express.ts";
import { fastifyRateLimit } from "../../http/fastify.ts";
import { honoRateLimit } from "../../http/hono.ts";
import { koaRateLimit } from "../../http/koa.ts";
import type { HttpRateLimitOptions, RateLimitMiddlewareControl } from "../../http/options.ts";
import { withRateLimit } from "../../http/with_rate_limit.ts";

/** Every adapter under test. */
export const ADAPTERS = ["web", "hono", "express5", "express4", "fastify", "koa"] as const;
/** An adapter's name. */
export type Adapter = typeof ADAPTERS[number];

/** Options every adapter accepts (callbacks typed loosely: each gets its framework's request). */
// deno-lint-ignore no-explicit-any
export type AnyOptions = Omit<HttpRateLimitOptions<any, never>, "handler"> & {
  /** A custom refusal: answered by each adapter's own `handler` form with this status and body. */
  customRefusal?: { status: number; body: string };
};

/** Each adapter's `handler` answering with `custom`'s status and body. */
function handlerFor(adapter: Adapter, custom: { status: number; body: string }): unknown {
  switch (adapter) {
    case "web":
    case "hono":
      return () => new Response(custom.body, { status: custom.status });
    case "express5":
    case "express4":
      return (_req: unknown, res: { status(n: number): { send(b: string): void } }) =>
        res.status(custom.status).send(custom.body);
    case "fastify":
      return (_req: unknown, reply: { code(n: number): { send(b: string): void } }) =>
        reply.code(custom.status).send(custom.body);
    case "koa":
      return (ctx: { status: number; body: string }) => {
        ctx.status = custom.status;
        ctx.body = custom.body;
      };
  }
}

/** A running server. */
export interface TestServer extends AsyncDisposable {
  /** `http://127.0.0.1:<port>` */
  readonly v4: string;
  /** `http://[::1]:<port>`, when IPv6 loopback is available. */
  readonly v6: string | undefined;
  /** The middleware (its limiter, close()). */
  readonly middleware: RateLimitMiddlewareControl;
  /** Stops the server and closes the middleware. */
  close(): Promise<void>;
}

let ipv6: boolean | undefined;
/** Whether this machine has an IPv6 loopback. */
export function hasIpv6(): boolean {
  if (ipv6 === undefined) {
    try {
      Deno.listen({ hostname: "::1", port: 0 }).close();
      ipv6 = true;
    } catch {
      ipv6 = false;
    }
  }
  return ipv6;
}

function urls(port: number): { v4: string; v6: string | undefined } {
  return { v4: `http://127.0.0.1:${port}`, v6: hasIpv6() ? `http://[::1]:${port}` : undefined };
}

const FAIL = "/fail";
const THROW = "/throw";

/** Serves a Node request listener; resolves once listening. */
async function nodeServer(
  listener: http.RequestListener,
): Promise<{ port: number; stop: () => Promise<void> }> {
  const server = http.createServer(listener);
  await new Promise<void>((resolve) => server.listen(0, hasIpv6() ? "::" : "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function denoServer(handler: Deno.ServeHandler): { port: number; stop: () => Promise<void> } {
  const server = Deno.serve({
    hostname: hasIpv6() ? "::" : "127.0.0.1",
    port: 0,
    onListen() {},
    onError: () => new Response("error", { status: 500 }),
  }, handler);
  return { port: server.addr.port, stop: () => server.shutdown() };
}

/**
 * Starts `adapter`'s server with a middleware made from `options`.
 * @param adapter which framework
 * @param options the middleware's options
 * @returns the running server
 */
export async function startServer(adapter: Adapter, all: AnyOptions): Promise<TestServer> {
  const { customRefusal, ...rest } = all;
  // deno-lint-ignore no-explicit-any
  const options: any = customRefusal === undefined
    ? rest
    : { ...rest, handler: handlerFor(adapter, customRefusal) };
  let middleware: RateLimitMiddlewareControl;
  let served: { port: number; stop: () => Promise<void> };
  switch (adapter) {
    case "web": {
      const handler = withRateLimit((request) => {
        const path = new URL(request.url).pathname;
        if (path === THROW) throw new Error("boom");
        return new Response(path === FAIL ? "fail" : "ok", { status: path === FAIL ? 500 : 200 });
      }, options);
      middleware = handler;
      served = denoServer(handler);
      break;
    }
    case "hono": {
      const mw = honoRateLimit(options);
      middleware = mw;
      const app = new Hono()
        .use(mw)
        .get("/", (c) => c.text("ok"))
        .get(FAIL, (c) => c.text("fail", 500))
        .get(THROW, () => {
          throw new Error("boom");
        })
        .onError((_e, c) => c.text("error", 500));
      served = denoServer(app.fetch);
      break;
    }
    case "express5":
    case "express4": {
      const mw = expressRateLimit(options);
      middleware = mw;
      const app = (adapter === "express5" ? express5 : express4)();
      app.set("env", "test"); // no error logging
      app.use(mw);
      app.get("/", (_req, res) => void res.send("ok"));
      app.get(FAIL, (_req, res) => void res.status(500).send("fail"));
      app.get(THROW, () => {
        throw new Error("boom");
      });
      served = await nodeServer(app);
      break;
    }
    case "fastify": {
      const plugin = fastifyRateLimit(options);
      middleware = plugin;
      const app = Fastify();
      await app.register(plugin);
      app.get("/", () => "ok");
      app.get(FAIL, (_req, reply) => reply.code(500).send("fail"));
      app.get(THROW, () => {
        throw new Error("boom");
      });
      await app.listen({ port: 0, host: hasIpv6() ? "::" : "127.0.0.1" });
      const port = (app.server.address() as AddressInfo).port;
      served = { port, stop: () => app.close() };
      break;
    }
    case "koa": {
      const mw = koaRateLimit(options);
      middleware = mw;
      const app = new Koa();
      app.silent = true;
      app.use(mw);
      app.use((ctx) => {
        if (ctx.path === THROW) throw new Error("boom");
        ctx.status = ctx.path === FAIL ? 500 : 200;
        ctx.body = ctx.path === FAIL ? "fail" : "ok";
      });
      served = await nodeServer(app.callback());
      break;
    }
  }
  const close = async () => {
    await served.stop();
    await middleware.close();
  };
  return { ...urls(served.port), middleware, close, [Symbol.asyncDispose]: close };
}

/** A response's status, headers and body (the body is read, so the connection is free). */
export interface Got {
  status: number;
  headers: Headers;
  body: string;
}

/**
 * GETs a URL and reads the whole response.
 * @param url the URL
 * @returns status, headers, body
 */
export async function get(url: string): Promise<Got> {
  const res = await fetch(url);
  return { status: res.status, headers: res.headers, body: await res.text() };
}
