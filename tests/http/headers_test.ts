/**
 * `rateLimitHeaders`: golden values per format, each field parsed back with a Structured Field
 * parser and compared with the decision; `Retry-After` is never 0 and never earlier than `t`.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { parseDictionary, parseItem, parseList } from "structured-headers";
import { InvalidArgumentError } from "../../core/errors.ts";
import { type HeaderDecision, rateLimitHeaders } from "../../http/headers.ts";

const allowed: HeaderDecision = { kind: "allowed", limit: 100, remaining: 42, resetMs: 6_001 };
const rejected: HeaderDecision = {
  kind: "rejected",
  limit: 100,
  remaining: 0,
  resetMs: 1_500,
  retryAfterMs: 2_200,
};

Deno.test("rateLimitHeaders() golden: draft-11 (the default)", () => {
  assert.deepEqual(rateLimitHeaders(allowed, { windowMs: 60_000 }), {
    "RateLimit-Policy": '"100-per-60s";q=100;w=60',
    "RateLimit": '"100-per-60s";r=42;t=7',
  });
  assert.deepEqual(rateLimitHeaders(rejected, { windowMs: 60_000, policy: 'a "b"\\' }), {
    "RateLimit-Policy": '"a \\"b\\"\\\\";q=100;w=60',
    "RateLimit": '"a \\"b\\"\\\\";r=0;t=2',
    "Retry-After": "3",
  });
  const h = rateLimitHeaders(allowed, { windowMs: 60_000, policy: "api" });
  assert.deepEqual(parseList(h["RateLimit-Policy"]!), [["api", new Map([["q", 100], ["w", 60]])]]);
  assert.deepEqual(parseList(h["RateLimit"]!), [["api", new Map([["r", 42], ["t", 7]])]]);
});

Deno.test("rateLimitHeaders() golden: draft-7, draft-6, legacy", () => {
  assert.deepEqual(rateLimitHeaders(allowed, { windowMs: 60_000, format: "draft-7" }), {
    "RateLimit-Policy": "100;w=60",
    "RateLimit": "limit=100, remaining=42, reset=7",
  });
  assert.deepEqual(rateLimitHeaders(rejected, { windowMs: 60_000, format: "draft-6" }), {
    "RateLimit-Policy": "100;w=60",
    "RateLimit-Limit": "100",
    "RateLimit-Remaining": "0",
    "RateLimit-Reset": "2",
    "Retry-After": "3",
  });
  assert.deepEqual(
    rateLimitHeaders(allowed, { windowMs: 60_000, format: "legacy", now: 1_700_000_000_000 }),
    {
      "X-RateLimit-Limit": "100",
      "X-RateLimit-Remaining": "42",
      "X-RateLimit-Reset": "1700000007",
    },
  );
  assert.deepEqual(
    Object.keys(rateLimitHeaders(allowed, { windowMs: 1000, format: ["draft-7", "legacy"] })),
    [
      "RateLimit-Policy",
      "RateLimit",
      "X-RateLimit-Limit",
      "X-RateLimit-Remaining",
      "X-RateLimit-Reset",
    ],
  );
  assert.deepEqual(rateLimitHeaders(allowed, { windowMs: 1000, format: false }), {});
  assert.deepEqual(rateLimitHeaders(rejected, { windowMs: 1000, format: false }), {
    "Retry-After": "3",
  });
  const d7 = rateLimitHeaders(allowed, { windowMs: 60_000, format: "draft-7" });
  assert.deepEqual(
    [...parseDictionary(d7["RateLimit"]!)].map(([k, [v]]) => [k, v]),
    [["limit", 100], ["remaining", 42], ["reset", 7]],
  );
  assert.deepEqual(parseItem(d7["RateLimit-Policy"]!), [100, new Map([["w", 60]])]);
});

Deno.test("rateLimitHeaders() round-trips any decision through a structured-field parser", () => {
  const n = fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER });
  fc.assert(
    fc.property(
      n,
      n,
      fc.integer({ min: 0, max: 10 ** 10 }),
      fc.option(fc.integer({ min: 1, max: 10 ** 10 }), { nil: undefined }),
      fc.integer({ min: 1000, max: 2_592_000_000 }),
      (limit, remaining, resetMs, retryAfterMs, windowMs) => {
        const d: HeaderDecision = retryAfterMs === undefined
          ? { kind: "allowed", limit, remaining, resetMs }
          : { kind: "rejected", limit, remaining, resetMs, retryAfterMs };
        const h = rateLimitHeaders(d, { windowMs });
        const [[name, policy]] = parseList(h["RateLimit-Policy"]!) as [
          [string, Map<string, number>],
        ];
        const [[name2, limit2]] = parseList(h["RateLimit"]!) as [[string, Map<string, number>]];
        assert.equal(name, name2);
        const sfMax = 999_999_999_999_999; // RFC 9651: 15 digits
        assert.equal(policy.get("q"), Math.min(limit, sfMax));
        assert.equal(policy.get("w"), Math.ceil(windowMs / 1000));
        assert.equal(limit2.get("r"), Math.min(remaining, sfMax));
        assert.equal(limit2.get("t"), Math.ceil(resetMs / 1000));
        if (retryAfterMs === undefined) assert.equal(h["Retry-After"], undefined);
        else {
          const s = Number(h["Retry-After"]);
          assert.ok(Number.isInteger(s) && s >= 1, h["Retry-After"]);
          assert.ok(s * 1000 >= retryAfterMs && s >= limit2.get("t")!);
        }
      },
    ),
    { numRuns: 300 },
  );
});

Deno.test("rateLimitHeaders() treats a suppressed refusal as a rejection", () => {
  const base = { kind: "suppressed", limit: 10, remaining: 0, resetMs: 0 } as const;
  assert.equal(
    rateLimitHeaders({ ...base, isAllowed: false }, { windowMs: 1000 })["Retry-After"],
    "1",
  );
  assert.equal(
    rateLimitHeaders({ ...base, isAllowed: true }, { windowMs: 1000 })["Retry-After"],
    undefined,
  );
});

Deno.test("rateLimitHeaders() refuses bad options and decisions, naming them", () => {
  const cases: Array<[() => unknown, RegExp]> = [
    [() => rateLimitHeaders(allowed, { windowMs: 0 }), /'windowMs'/],
    [
      () => rateLimitHeaders(allowed, { windowMs: 1000, format: "draft-9" as "draft-7" }),
      /'format'/,
    ],
    [
      () => rateLimitHeaders(allowed, { windowMs: 1000, format: ["draft-11", "draft-7"] }),
      /one IETF format/,
    ],
    [() => rateLimitHeaders(allowed, { windowMs: 1000, policy: "" }), /'policy'/],
    [() => rateLimitHeaders(allowed, { windowMs: 1000, policy: "é" }), /'policy'/],
    [() => rateLimitHeaders(allowed, { windowMs: 1000, now: NaN }), /'now'/],
    [
      () => rateLimitHeaders({ ...allowed, remaining: -1 }, { windowMs: 1000 }),
      /'decision.remaining'/,
    ],
    [() => rateLimitHeaders({ ...allowed, limit: 1.5 }, { windowMs: 1000 }), /'decision.limit'/],
    [
      () => rateLimitHeaders({ kind: "allowed" } as HeaderDecision, { windowMs: 1000 }),
      /'decision.limit'/,
    ],
    [() => rateLimitHeaders(null as unknown as HeaderDecision, { windowMs: 1000 }), /'decision'/],
  ];
  for (const [fn, re] of cases) {
    assert.throws(fn, (e) => e instanceof InvalidArgumentError && re.test(e.message));
  }
});
