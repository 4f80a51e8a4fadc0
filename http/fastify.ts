/**
 * `fastifyRateLimit`: a rate-limit plugin for Fastify. Fastify is an optional peer dependency,
 * imported for its types only.
 *
 * @example
 * ```ts ignore
 * import Fastify from "fastify";
 * import { fastifyRateLimit } from "distkit/http/fastify";
 * const app = Fastify();
 * await app.register(fastifyRateLimit({ limit: 100, windowMs: 60_000, store: redisClient }));
 * app.get("/", () => "hello");
 * await app.listen({ port: 3000 });
 * ```
 *
 * @module
 */
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from "fastify";
import { RateLimitCore } from "./_core.ts";
import { nodeHeader } from "./_node.ts";
import type { HttpRateLimitOptions, RateLimitInfo, RateLimitMiddlewareControl } from "./options.ts";

export type { RateLimitInfo } from "./options.ts";

/** Options of {@linkcode fastifyRateLimit}: `handler` sends the refused reply itself. */
export type FastifyRateLimitOptions = HttpRateLimitOptions<
  FastifyRequest,
  (request: FastifyRequest, reply: FastifyReply, info: RateLimitInfo) => unknown
>;

/** The plugin, with `close()` and `limiter`. */
export type FastifyRateLimitPlugin = FastifyPluginAsync & RateLimitMiddlewareControl;

/**
 * A Fastify plugin limiting every route of the instance it is registered on. It has
 * fastify-plugin semantics (without depending on fastify-plugin): its hooks apply to the
 * registering scope, not to an encapsulated child, so `app.register(plugin)` limits `app`'s
 * routes; register it inside a child plugin to limit only that plugin's routes. Closing the
 * Fastify instance closes the owned limiter (as `close()` does).
 *
 * The client address is `request.ip`, which follows Fastify's own `trustProxy` setting (off by
 * default: the socket's peer); this option's `trustProxy` reads a proxy header instead. A refused
 * request is answered in `onRequest` with `statusCode` (429), the rate-limit fields,
 * `Retry-After` and `message`, or by `handler`. With `refundFailed`, a reply with status ≥ 400
 * (route errors included) or an aborted request gives its cost back.
 *
 * @param options the shared rate-limit options
 * @returns the plugin, to `register`
 * @throws {InvalidArgumentError} naming the first invalid option
 *
 * @example
 * ```ts
 * import Fastify from "fastify";
 * import { fastifyRateLimit } from "./fastify.ts";
 * const app = Fastify();
 * await app.register(fastifyRateLimit({ limit: 1, windowMs: 1000, key: () => "all" }));
 * app.get("/", () => "ok");
 * console.assert((await app.inject("/")).statusCode === 200);
 * console.assert((await app.inject("/")).statusCode === 429);
 * await app.close();
 * ```
 */
export function fastifyRateLimit(options: FastifyRateLimitOptions): FastifyRateLimitPlugin {
  type Handler = NonNullable<FastifyRateLimitOptions["handler"]>;
  const core = new RateLimitCore<FastifyRequest, Handler>(options, {
    address: (request) => request.ip ?? request.socket?.remoteAddress,
    header: (request, name) => nodeHeader(request.headers, name),
  });
  const settles = new WeakMap<FastifyRequest, (failed: boolean) => void>();
  const setAll = (reply: FastifyReply, headers: Readonly<Record<string, string>>) => {
    for (const name in headers) {
      const prev = core.appends(name) ? reply.getHeader(name) : undefined;
      reply.header(name, prev === undefined ? headers[name] : `${String(prev)}, ${headers[name]}`);
    }
  };
  const plugin = (fastify: FastifyInstance): Promise<void> => {
    fastify.addHook("onRequest", async (request, reply) => {
      const verdict = await core.check(request);
      if (verdict.refused) {
        const info = verdict.info;
        setAll(reply, info.headers);
        if (core.handler !== undefined) {
          await core.handler(request, reply, info);
          return reply;
        }
        const body = await core.body(request, info);
        return reply.code(info.statusCode).type(body.contentType).send(body.text);
      }
      if (verdict.headers !== undefined) setAll(reply, verdict.headers);
      if (verdict.settle !== undefined) settles.set(request, verdict.settle);
    });
    fastify.addHook("onResponse", (request, reply, done) => {
      settles.get(request)?.(reply.statusCode >= 400);
      done();
    });
    fastify.addHook("onRequestAbort", (request, done) => {
      settles.get(request)?.(true);
      done();
    });
    fastify.addHook("onClose", () => core.close());
    return Promise.resolve();
  };
  Object.assign(plugin, {
    [Symbol.for("skip-override")]: true,
    [Symbol.for("fastify.display-name")]: "distkit-rate-limit",
  });
  return Object.assign(plugin, {
    limiter: core.limiter,
    close: () => core.close(),
    [Symbol.asyncDispose]: () => core.close(),
  });
}
