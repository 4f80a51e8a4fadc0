/**
 * Header helpers for adapters over Node's `http.ServerResponse` (Express, Connect, Koa's
 * `ctx.res`): types only, no `node:` import.
 *
 * @module
 */

/** The part of `http.ServerResponse` the adapters write to. @internal */
export interface NodeResponseLike {
  readonly headersSent: boolean;
  statusCode: number;
  getHeader(name: string): unknown;
  setHeader(name: string, value: string): unknown;
  end(chunk?: string): unknown;
}

/**
 * Sets each header, appending (comma-joined) the List fields `appends` names.
 * @param res the response
 * @param headers name → value
 * @param appends whether a field is a List to add to
 * @internal
 */
export function setNodeHeaders(
  res: NodeResponseLike,
  headers: Readonly<Record<string, string>>,
  appends: (name: string) => boolean,
): void {
  if (res.headersSent) return;
  for (const name in headers) {
    const value = headers[name]!;
    const prev = appends(name) ? res.getHeader(name) : undefined;
    res.setHeader(
      name,
      prev === undefined
        ? value
        : `${Array.isArray(prev) ? prev.join(", ") : String(prev)}, ${value}`,
    );
  }
}

/**
 * A request header from Node's `IncomingMessage.headers` (lower-case names; repeated fields as
 * arrays, joined).
 * @param headers the request's headers
 * @param name a lower-case name
 * @returns the value, if present
 * @internal
 */
export function nodeHeader(
  headers: Readonly<Record<string, string | string[] | undefined>>,
  name: string,
): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v.join(", ") : v;
}
