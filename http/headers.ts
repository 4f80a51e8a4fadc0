/**
 * `rateLimitHeaders`: the response fields that tell a client where it stands — the IETF
 * `RateLimit-Policy` / `RateLimit` structured fields (draft-ietf-httpapi-ratelimit-headers-11),
 * the older draft-7 and draft-6 forms, the legacy `X-RateLimit-*` fields, and `Retry-After` on
 * rejections. Web-standard, no `node:` import.
 *
 * @module
 */
import { InvalidArgumentError } from "../core/errors.ts";

/**
 * A header format:
 * - `"draft-11"` (drafts 8 to 11 share it): `RateLimit-Policy: "name";q=100;w=60` and
 *   `RateLimit: "name";r=42;t=7`, both Structured Field Lists of one Item each;
 * - `"draft-7"`: `RateLimit-Policy: 100;w=60` and `RateLimit: limit=100, remaining=42, reset=7`
 *   (a Structured Field Dictionary);
 * - `"draft-6"`: `RateLimit-Policy: 100;w=60`, `RateLimit-Limit: 100`, `RateLimit-Remaining: 42`,
 *   `RateLimit-Reset: 7`;
 * - `"legacy"`: `X-RateLimit-Limit`, `X-RateLimit-Remaining`, `X-RateLimit-Reset` (the Unix time,
 *   seconds, at which `remaining` next grows, as GitHub and express-rate-limit send it).
 */
export type HeaderFormat = "draft-11" | "draft-7" | "draft-6" | "legacy";

/** The formats {@linkcode rateLimitHeaders} writes: one, one IETF form plus `"legacy"`, or none. */
export type HeaderFormats = HeaderFormat | readonly HeaderFormat[] | false;

/**
 * What the headers are made of: a rate-limit decision carrying its numbers (every
 * `RateLimitDecision` does).
 */
export interface HeaderDecision {
  /** `"allowed"`, `"rejected"` or `"suppressed"`. */
  readonly kind: "allowed" | "rejected" | "suppressed";
  /** The capacity per window. */
  readonly limit: number;
  /** What is left after this call. */
  readonly remaining: number;
  /** ms until `remaining` next grows (0 when nothing is recorded). */
  readonly resetMs: number;
  /** ms until the request may fit (rejections). */
  readonly retryAfterMs?: number;
  /** Whether a suppressed call may go ahead. */
  readonly isAllowed?: boolean;
}

/** Options of {@linkcode rateLimitHeaders}. */
export interface RateLimitHeadersOptions {
  /** The limiter's window, ms (the policy's `w`, rounded up to whole seconds). */
  windowMs: number;
  /** The format(s). @default {"draft-11"} */
  format?: HeaderFormats | undefined;
  /**
   * The quota policy's name in the draft-11 fields: printable ASCII, 1 to 64 characters.
   * @default {`${limit}-per-${windowSeconds}s`}
   */
  policy?: string | undefined;
  /** The current time, ms since the epoch (the legacy `X-RateLimit-Reset`). @default {Date.now()} */
  now?: number | undefined;
}

const IETF = new Set(["draft-11", "draft-7", "draft-6"]);
const ALL = new Set([...IETF, "legacy"]);

/** The validated formats: which of each to write. @internal */
export interface FormatSet {
  /** The IETF form, if any. */
  readonly ietf: "draft-11" | "draft-7" | "draft-6" | undefined;
  /** Whether to add the `X-RateLimit-*` fields. */
  readonly legacy: boolean;
}

/**
 * Validates a `headers` / `format` option.
 * @param value the option
 * @param option its name, for messages
 * @returns which fields to write
 * @throws {InvalidArgumentError} for an unknown format, or two IETF forms at once (they share names)
 * @internal
 */
export function formatSet(value: unknown, option: string): FormatSet {
  if (value === false) return { ietf: undefined, legacy: false };
  const list = value === undefined ? ["draft-11"] : Array.isArray(value) ? value : [value];
  let ietf: FormatSet["ietf"];
  let legacy = false;
  for (const f of list) {
    if (typeof f !== "string" || !ALL.has(f)) {
      throw new InvalidArgumentError(
        `'${option}' must be "draft-11", "draft-7", "draft-6", "legacy", an array of them, or false: current value is ${
          JSON.stringify(value)
        }`,
      );
    }
    if (f === "legacy") legacy = true;
    else if (ietf !== undefined && ietf !== f) {
      throw new InvalidArgumentError(
        `'${option}' may hold one IETF format (they share field names): current value is ${
          JSON.stringify(value)
        }`,
      );
    } else ietf = f as FormatSet["ietf"];
  }
  return { ietf, legacy };
}

const PRINTABLE = /^[\x20-\x7e]{1,64}$/;

/**
 * Validates a policy name.
 * @param name the name
 * @param option its name, for messages
 * @returns the name as a Structured Field String (quoted, escaped)
 * @throws {InvalidArgumentError} unless 1 to 64 printable ASCII characters
 * @internal
 */
export function policyString(name: unknown, option: string): string {
  if (typeof name !== "string" || !PRINTABLE.test(name)) {
    throw new InvalidArgumentError(
      `'${option}' must be 1 to 64 printable ASCII characters: current value is ${
        JSON.stringify(name)
      }`,
    );
  }
  return `"${name.replace(/[\\"]/g, "\\$&")}"`;
}

function count(v: unknown, name: string): number {
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) {
    throw new InvalidArgumentError(
      `'decision.${name}' must be an integer from 0 to ${Number.MAX_SAFE_INTEGER}: current value is ${
        String(v)
      }`,
    );
  }
  return v;
}

/** The largest Structured Field Integer (15 digits, RFC 9651 §3.3.1). */
const SF_MAX = 999_999_999_999_999;

/**
 * A count as a Structured Field Integer: clamped to 15 digits (a larger limit or remaining reads
 * as "practically unlimited" either way).
 * @param n a count
 * @returns n, or the largest integer the field can hold
 */
function sf(n: number): number {
  return n > SF_MAX ? SF_MAX : n;
}

/**
 * Seconds, rounded up, as the delay-seconds of `t`, `reset` and `Retry-After`.
 * @param ms a duration
 * @returns whole seconds
 */
function seconds(ms: number): number {
  return Math.ceil(ms / 1000);
}

/**
 * Whether a decision refuses the request.
 * @param d the decision
 * @returns true for a rejection and a suppressed call that may not go ahead
 * @internal
 */
export function refuses(d: HeaderDecision): boolean {
  return d.kind === "rejected" || (d.kind === "suppressed" && d.isAllowed === false);
}

/**
 * Writes the headers of one decision into `out` (no validation: the hot path of the
 * middleware, whose options were validated once).
 * @param out the record to fill
 * @param d the decision
 * @param formats which fields
 * @param quotedPolicy the draft-11 policy name, quoted
 * @param windowSeconds the window, s
 * @param now the epoch time, ms (legacy only)
 * @internal
 */
export function writeHeaders(
  out: Record<string, string>,
  d: HeaderDecision,
  formats: FormatSet,
  quotedPolicy: string,
  windowSeconds: number,
  now: () => number,
): void {
  const t = seconds(d.resetMs);
  switch (formats.ietf) {
    case "draft-11":
      out["RateLimit-Policy"] = `${quotedPolicy};q=${sf(d.limit)};w=${windowSeconds}`;
      out["RateLimit"] = `${quotedPolicy};r=${sf(d.remaining)};t=${t}`;
      break;
    case "draft-7":
      out["RateLimit-Policy"] = `${sf(d.limit)};w=${windowSeconds}`;
      out["RateLimit"] = `limit=${sf(d.limit)}, remaining=${sf(d.remaining)}, reset=${t}`;
      break;
    case "draft-6":
      out["RateLimit-Policy"] = `${sf(d.limit)};w=${windowSeconds}`;
      out["RateLimit-Limit"] = String(d.limit);
      out["RateLimit-Remaining"] = String(d.remaining);
      out["RateLimit-Reset"] = String(t);
      break;
  }
  if (formats.legacy) {
    out["X-RateLimit-Limit"] = String(d.limit);
    out["X-RateLimit-Remaining"] = String(d.remaining);
    out["X-RateLimit-Reset"] = String(seconds(now() + d.resetMs));
  }
  if (refuses(d)) {
    // Never 0 (a client would retry at once), never earlier than the effective window's end.
    out["Retry-After"] = String(Math.max(1, t, seconds(d.retryAfterMs ?? 0)));
  }
}

/**
 * The response fields for one rate-limit decision, by their canonical names. By default the
 * current IETF draft's two structured fields:
 *
 * ```
 * RateLimit-Policy: "100-per-60s";q=100;w=60
 * RateLimit: "100-per-60s";r=42;t=7
 * ```
 *
 * `q` is the decision's `limit` (clamped, like `r`, to the 15 digits of a Structured Field
 * Integer), `w` the window in seconds, `r` what remains after this call and
 * `t` the seconds (rounded up) until `remaining` next grows: with a sliding window, usage
 * leaves the window bit by bit, so `t` is when the oldest recorded usage expires, not a fixed
 * window's end. A rejection (and a suppressed call that may not go ahead) adds `Retry-After` in
 * whole seconds, rounded up and never 0, never earlier than `t`: a client that waits that long
 * gets the same request admitted (unless others use the capacity first).
 *
 * The draft-11 fields are Lists: a response may carry several policies (several middlewares
 * append theirs), so set them with `Headers.append`.
 *
 * @param decision a decision carrying `limit`, `remaining` and `resetMs`
 * @param options the window, the format(s), the policy name
 * @returns field name → value
 * @throws {InvalidArgumentError} for a bad option or a decision without valid numbers
 *
 * @example Headers of a web response
 * ```ts
 * import { rateLimitHeaders } from "./headers.ts";
 * const decision = { kind: "rejected", limit: 10, remaining: 0, resetMs: 4200, retryAfterMs: 4200 } as const;
 * const headers = new Headers(rateLimitHeaders(decision, { windowMs: 60_000 }));
 * console.assert(headers.get("RateLimit") === '"10-per-60s";r=0;t=5');
 * console.assert(headers.get("Retry-After") === "5");
 * ```
 */
export function rateLimitHeaders(
  decision: HeaderDecision,
  options: RateLimitHeadersOptions,
): Record<string, string> {
  if (decision === null || typeof decision !== "object") {
    throw new InvalidArgumentError("'decision' must be a rate-limit decision");
  }
  if (options === null || typeof options !== "object") {
    throw new InvalidArgumentError("'options' must be an object with 'windowMs'");
  }
  const limit = count(decision.limit, "limit");
  count(decision.remaining, "remaining");
  count(decision.resetMs, "resetMs");
  if (decision.retryAfterMs !== undefined) count(decision.retryAfterMs, "retryAfterMs");
  const windowMs = options.windowMs;
  if (typeof windowMs !== "number" || !Number.isSafeInteger(windowMs) || windowMs < 1) {
    throw new InvalidArgumentError(
      `'windowMs' must be a positive integer: current value is ${String(windowMs)}`,
    );
  }
  const formats = formatSet(options.format, "format");
  const w = seconds(windowMs);
  const policy = policyString(options.policy ?? `${limit}-per-${w}s`, "policy");
  const now = options.now;
  if (now !== undefined && (typeof now !== "number" || !Number.isFinite(now))) {
    throw new InvalidArgumentError(`'now' must be a finite number: current value is ${now}`);
  }
  const out: Record<string, string> = {};
  writeHeaders(out, decision, formats, policy, w, () => now ?? Date.now());
  return out;
}
