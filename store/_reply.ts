/**
 * Replies and error replies in one shape, whatever the client: what every driver (./driver.ts)
 * applies to what its client hands back.
 *
 * @module
 */
import { ServerReplyError } from "./driver.ts";
import type { Reply } from "./types.ts";

/** An error reply's text starts with its code word: `ERR`, `NOSCRIPT`, `DISTKIT_OVERFLOW`, ... */
const CODE_WORD = /^[A-Z][A-Z0-9_]*(?:\s|$)/;

let decoder: TextDecoder | undefined;

/**
 * A reply in distkit's one shape: integers as numbers (a bigint within ±(2^53−1) as a number,
 * beyond it as its decimal text, never rounded), strings as strings (bytes decoded as UTF-8),
 * nil as `null`, RESP3 booleans as Lua's `1`/`null`, maps as flat arrays, arrays as arrays. The
 * usual reply (a number, a string, `null`, an array of those) is returned as it is, uncopied.
 *
 * @param r what the client returned
 * @returns the reply
 *
 * @example
 * ```ts
 * import { normalizeReply } from "./_reply.ts";
 * console.assert(normalizeReply(9007199254740991n) === 9007199254740991);
 * console.assert(normalizeReply(new TextEncoder().encode("a")) === "a");
 * ```
 */
export function normalizeReply(r: unknown): Reply {
  switch (typeof r) {
    case "number":
    case "string":
      return r;
    case "bigint":
      return r >= -9007199254740991n && r <= 9007199254740991n ? Number(r) : String(r);
    case "boolean":
      return r ? 1 : null;
    case "undefined":
      return null;
  }
  if (r === null) return null;
  if (Array.isArray(r)) {
    let out: Reply[] | undefined;
    for (let i = 0; i < r.length; i++) {
      const v = r[i];
      const n = typeof v === "number" || typeof v === "string" || v === null
        ? v
        : normalizeReply(v);
      if (out === undefined && n !== v) out = r.slice(0, i);
      out?.push(n);
    }
    return out ?? r;
  }
  if (r instanceof Uint8Array) return (decoder ??= new TextDecoder()).decode(r);
  if (r instanceof Map) {
    const flat: Reply[] = [];
    for (const [k, v] of r) flat.push(normalizeReply(k), normalizeReply(v));
    return flat;
  }
  if (r instanceof Set) return [...r].map(normalizeReply);
  if (r instanceof Error) return r.message;
  if (typeof r === "object") {
    const flat: Reply[] = [];
    for (const [k, v] of Object.entries(r)) flat.push(k, normalizeReply(v));
    return flat;
  }
  return String(r);
}

/**
 * The error a driver rejects with for a client's failure: a {@linkcode ServerReplyError} when it
 * is the server's error reply (recognised by its text, which starts with an upper-case code word,
 * whatever the client's error class), otherwise the client's error unchanged (a transport
 * failure).
 *
 * @param e what the client rejected with
 * @returns the error to reject with
 *
 * @example
 * ```ts
 * import { ServerReplyError } from "./driver.ts";
 * import { toServerReply } from "./_reply.ts";
 * console.assert(toServerReply(new Error("NOSCRIPT No matching script.")) instanceof ServerReplyError);
 * console.assert(!(toServerReply(new Error("Connection is closed.")) instanceof ServerReplyError));
 * ```
 */
export function toServerReply(e: unknown): unknown {
  if (e instanceof ServerReplyError || !(e instanceof Error)) return e;
  return CODE_WORD.test(e.message) ? new ServerReplyError(e.message, e) : e;
}
