/**
 * Golden headers from real servers: each adapter × each header format, a burst over the limit on
 * a fixed clock; every response's fields are parsed with a Structured Field parser and compared
 * with the decisions a twin limiter makes for the same sequence (and, for draft-11, with literal
 * golden strings).
 */
import assert from "node:assert/strict";
import { parseDictionary, parseItem, parseList } from "structured-headers";
import { type HeaderFormats, rateLimitHeaders } from "../../http/headers.ts";
import { RateLimit } from "../../ratelimit/rate_limit.ts";
import { RateLimiter } from "../../ratelimit/rate_limiter.ts";
import type { RateLimitDecision } from "../../ratelimit/types.ts";
import { ADAPTERS, get, startServer } from "./_servers.ts";

const T0 = 1_700_000_000_000; // a whole bucket
const LIMIT = 3;
const WINDOW_MS = 60_000;
const FORMATS: HeaderFormats[] = ["draft-11", "draft-7", "draft-6", "legacy", [
  "draft-11",
  "legacy",
]];
const FIELDS = [
  "RateLimit-Policy",
  "RateLimit",
  "RateLimit-Limit",
  "RateLimit-Remaining",
  "RateLimit-Reset",
  "X-RateLimit-Limit",
  "X-RateLimit-Remaining",
  "Retry-After",
];

/** The decisions a twin limiter on the same clock makes for `n` unit requests of one key. */
function twinDecisions(n: number): RateLimitDecision[] {
  const twin = new RateLimiter({ windowSizeSeconds: WINDOW_MS / 1000, now: () => T0 });
  const rate = new RateLimit(LIMIT, WINDOW_MS);
  return Array.from({ length: n }, () => twin.local.absolute.inc("127.0.0.1", rate, 1));
}

for (const adapter of ADAPTERS) {
  Deno.test(`${adapter}: golden rate-limit fields per format, equal to the decisions'`, async (t) => {
    const expected = twinDecisions(LIMIT + 2);
    for (const format of FORMATS) {
      await t.step(JSON.stringify(format), async () => {
        await using server = await startServer(adapter, {
          limit: LIMIT,
          windowMs: WINDOW_MS,
          headers: format,
          limiterOptions: { now: () => T0 },
        });
        for (const [i, d] of expected.entries()) {
          const r = await get(`${server.v4}/`);
          assert.equal(r.status, d.kind === "allowed" ? 200 : 429, `request ${i + 1}`);
          const want = rateLimitHeaders(d, { windowMs: WINDOW_MS, format });
          for (const name of FIELDS) {
            assert.equal(r.headers.get(name), want[name] ?? null, `request ${i + 1}: ${name}`);
          }
          if (want["X-RateLimit-Reset"] !== undefined) {
            const reset = Number(r.headers.get("X-RateLimit-Reset"));
            const at = (Date.now() + d.resetMs) / 1000;
            assert.ok(Math.abs(reset - at) <= 2, `X-RateLimit-Reset ${reset} vs ${at}`);
          }
          // The fields parse as the draft says, and carry the decision's numbers.
          const ietf = Array.isArray(format) ? format[0] : format;
          const t = Math.ceil(d.resetMs / 1000);
          if (ietf === "draft-11") {
            assert.deepEqual(parseList(r.headers.get("RateLimit-Policy")!), [
              ["3-per-60s", new Map([["q", d.limit], ["w", 60]])],
            ]);
            assert.deepEqual(parseList(r.headers.get("RateLimit")!), [
              ["3-per-60s", new Map([["r", d.remaining], ["t", t]])],
            ]);
          } else if (ietf === "draft-7") {
            const dict = parseDictionary(r.headers.get("RateLimit")!);
            assert.deepEqual([...dict].map(([k, [v]]) => [k, v]), [
              ["limit", d.limit],
              ["remaining", d.remaining],
              ["reset", t],
            ]);
            assert.deepEqual(parseItem(r.headers.get("RateLimit-Policy")!), [
              d.limit,
              new Map([["w", 60]]),
            ]);
          }
          if (d.kind === "rejected") {
            const s = Number(r.headers.get("Retry-After"));
            assert.ok(s >= 1 && s * 1000 >= d.retryAfterMs && s >= t);
          }
        }
      });
    }
  });
}

Deno.test("golden draft-11 strings of a fixed-clock burst", () => {
  const texts = twinDecisions(LIMIT + 1).map((d) => rateLimitHeaders(d, { windowMs: WINDOW_MS }));
  assert.deepEqual(texts[0], {
    "RateLimit-Policy": '"3-per-60s";q=3;w=60',
    "RateLimit": '"3-per-60s";r=2;t=61',
  });
  assert.deepEqual(texts[3], {
    "RateLimit-Policy": '"3-per-60s";q=3;w=60',
    "RateLimit": '"3-per-60s";r=0;t=61',
    "Retry-After": "61",
  });
});
