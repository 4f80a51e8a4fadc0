/**
 * What the web-standard adapters (`withRateLimit`, Hono) share: the runtime's client address and
 * header writing on a `Response`.
 *
 * @module
 */
import type { RateLimitCore } from "./_core.ts";
import type { RateLimitInfo } from "./options.ts";

/**
 * The client address a web runtime hands its `fetch` handler beside the request: Deno.serve's
 * `info.remoteAddr.hostname`, Bun.serve's `server.requestIP(request).address`, or
 * `@hono/node-server`'s `env.incoming.socket.remoteAddress`.
 * @param info the handler's second argument (Hono: `c.env`)
 * @param request the request
 * @returns the address, if any
 * @internal
 */
export function runtimeAddress(info: unknown, request: Request): string | undefined {
  if (info === null || typeof info !== "object") return undefined;
  const i = info as {
    remoteAddr?: { hostname?: unknown };
    requestIP?: (r: Request) => { address?: unknown } | null;
    incoming?: { socket?: { remoteAddress?: unknown } };
  };
  const deno = i.remoteAddr?.hostname;
  if (typeof deno === "string") return deno;
  if (typeof i.requestIP === "function") {
    const bun = i.requestIP(request)?.address;
    if (typeof bun === "string") return bun;
  }
  const node = i.incoming?.socket?.remoteAddress;
  return typeof node === "string" ? node : undefined;
}

/**
 * Adds rate-limit fields to a Response whose headers may be immutable (a `fetch` result: then
 * the response is copied).
 * @param response the response
 * @param headers name → value
 * @param appends whether a field is a List to append to
 * @returns the response, or its copy
 * @internal
 */
export function withHeaders(
  response: Response,
  headers: Readonly<Record<string, string>>,
  appends: (name: string) => boolean,
): Response {
  let target = response;
  const write = (r: Response) => {
    for (const name in headers) {
      if (appends(name)) r.headers.append(name, headers[name]!);
      else r.headers.set(name, headers[name]!);
    }
  };
  try {
    write(target);
  } catch {
    target = new Response(response.body, response);
    write(target);
  }
  return target;
}

/**
 * The default refused response: `message` (or the deny text) with the info's status and fields.
 * @param core the middleware's core
 * @param request what `message` gets
 * @param info the refusal
 * @returns the response
 * @internal
 */
export async function refusedResponse<Req, Handler>(
  core: RateLimitCore<Req, Handler>,
  request: Req,
  info: RateLimitInfo,
): Promise<Response> {
  const body = await core.body(request, info);
  const response = new Response(body.text, {
    status: info.statusCode,
    headers: { "Content-Type": body.contentType },
  });
  return withHeaders(response, info.headers, (name) => core.appends(name));
}
