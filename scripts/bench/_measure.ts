/**
 * Measuring helpers shared by the benchmark scripts. Every comparison interleaves its two sides
 * round by round and reports medians, so machine-load drift hits both sides alike.
 */

/** The median of some samples. */
export function median(xs: readonly number[]): number {
  return [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
}

/** Percentile `p` (0–100) of sorted samples. */
export function pct(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** Operations per second of `fn` called by `callers` concurrent loops for `ms`. */
export async function throughput(
  fn: () => Promise<unknown>,
  callers: number,
  ms: number,
): Promise<number> {
  let ops = 0;
  const end = performance.now() + ms;
  await Promise.all(Array.from({ length: callers }, async () => {
    while (performance.now() < end) {
      await fn();
      ops++;
    }
  }));
  return (ops * 1000) / ms;
}

/** Sorted latencies (ms) of `n` sequential calls of `fn`. */
export async function latency(fn: () => Promise<unknown>, n: number): Promise<number[]> {
  const xs: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await fn();
    xs.push(performance.now() - t);
  }
  return xs.sort((a, b) => a - b);
}

/** Nanoseconds per awaited call of `fn`, over `n` calls. */
export async function awaitedNs(fn: () => Promise<unknown>, n: number): Promise<number> {
  const t = performance.now();
  for (let i = 0; i < n; i++) await fn();
  return ((performance.now() - t) * 1e6) / n;
}

/** The baseline for in-memory increments: a bare `Map` increment behind an async function. */
export function mapIncrement(): () => Promise<number> {
  const m = new Map<string, number>([["k", 0]]);
  // An async function on purpose: the baseline has the same shape as a lax counter's inc.
  // deno-lint-ignore require-await
  return async () => {
    const v = (m.get("k") ?? 0) + 1;
    m.set("k", v);
    return v;
  };
}

/** Median throughput of `ours` and `raw` at `callers`, interleaved over `rounds`. */
export async function compareThroughput(
  ours: () => Promise<unknown>,
  raw: () => Promise<unknown>,
  callers = 64,
  rounds = 5,
): Promise<{ ours: number; raw: number }> {
  await throughput(raw, callers, 300);
  await throughput(ours, callers, 300);
  const o: number[] = [], r: number[] = [];
  for (let i = 0; i < rounds; i++) {
    r.push(await throughput(raw, callers, 700));
    o.push(await throughput(ours, callers, 700));
  }
  return { ours: median(o), raw: median(r) };
}

/** Median p50 and p99 (ms) of one caller, `ours` and `raw` interleaved over `rounds`. */
export async function compareLatency(
  ours: () => Promise<unknown>,
  raw: () => Promise<unknown>,
  n = 2000,
  rounds = 5,
): Promise<{ ours: { p50: number; p99: number }; raw: { p50: number; p99: number } }> {
  const s = { o50: [] as number[], o99: [] as number[], r50: [] as number[], r99: [] as number[] };
  for (let i = 0; i < rounds; i++) {
    // Call by call, the side going first alternating: both see the same moments of the machine.
    const a: number[] = [], b: number[] = [];
    for (let j = 0; j < n; j++) {
      const [first, firstOut, second, secondOut] = j % 2 === 0
        ? [raw, a, ours, b]
        : [ours, b, raw, a];
      let t = performance.now();
      await first();
      firstOut.push(performance.now() - t);
      t = performance.now();
      await second();
      secondOut.push(performance.now() - t);
    }
    a.sort((x, y) => x - y);
    b.sort((x, y) => x - y);
    s.r50.push(pct(a, 50));
    s.r99.push(pct(a, 99));
    s.o50.push(pct(b, 50));
    s.o99.push(pct(b, 99));
  }
  return {
    ours: { p50: median(s.o50), p99: median(s.o99) },
    raw: { p50: median(s.r50), p99: median(s.r99) },
  };
}

/** Median ns per awaited call of `ours` and of a bare `Map` increment, interleaved. */
export async function compareWithMap(
  ours: () => Promise<unknown>,
  n = 300_000,
  rounds = 5,
): Promise<{ ours: number; map: number }> {
  const map = mapIncrement();
  await awaitedNs(map, n);
  await awaitedNs(ours, n); // warm-up (JIT)
  const o: number[] = [], m: number[] = [];
  for (let i = 0; i < rounds; i++) {
    m.push(await awaitedNs(map, n));
    o.push(await awaitedNs(ours, n));
  }
  return { ours: median(o), map: median(m) };
}
