/**
 * Both hybrid strategies' `setIf`: one operation over the engine (./_hybrid_engine.ts).
 *
 * @module
 */
import { Comparator, validateComparator } from "../core/comparator.ts";
import { checkN, limitsOf, validateKey } from "./_config.ts";
import { DOWN } from "../store/_resilience.ts";
import type { HybridEngine } from "./_hybrid_engine.ts";
import { newEntry, RELEASE, UNKNOWN_LIMIT } from "./_hybrid_entry.ts";
import { HYBRID_SET } from "./_scripts.ts";
import type { Rate, RateLimitSetResult } from "./types.ts";

/**
 * Commits this instance's usage of the key and releases its reservation, then replaces the
 * window with one bucket of `n` when `cmp` matches the fleet's total; on a match, learns the new
 * state at once.
 * @param x the strategy's engine
 * @param key the entity
 * @param rate the rate
 * @param cmp the condition
 * @param n the new total (≥ 0)
 * @param suppressed whether the rate's hard limit is needed
 * @returns matched, the total compared, and the total after
 * @throws {InvalidKeyError | InvalidArgumentError | ClosedError | StoreError}
 */
export async function hybridSetIf(
  x: HybridEngine,
  key: string,
  rate: Rate,
  cmp: Comparator,
  n: number,
  suppressed: boolean,
): Promise<RateLimitSetResult> {
  validateKey(key);
  validateComparator(cmp);
  checkN(n);
  const { cap, hard } = limitsOf(x.cfg, rate, suppressed);
  x.open();
  return await hybridReplace(x, key, cap, hard, cmp, n);
}

/**
 * Forgets the key's usage and any block on it, fleet-wide: {@linkcode hybridSetIf} to 0 under
 * the key's known limits (0 when unknown: the next sync with a rate sets them).
 * @param x the strategy's engine
 * @param key the entity
 * @returns when done
 * @throws {InvalidKeyError | ClosedError | StoreError}
 */
export async function hybridReset(x: HybridEngine, key: string): Promise<void> {
  validateKey(key);
  x.open();
  const e = x.entries.get(key);
  const cap = e === undefined ? 0 : Math.max(0, e.cap);
  const hard = e === undefined ? 0 : Math.max(0, e.hard);
  await hybridReplace(x, key, cap, hard, Comparator.always, 0);
}

async function hybridReplace(
  x: HybridEngine,
  key: string,
  cap: number,
  hard: number,
  cmp: Comparator,
  n: number,
): Promise<RateLimitSetResult> {
  // Commit this instance's usage and give its reservation back, so the new total stands alone.
  const e = x.entries.get(key) ?? newEntry(UNKNOWN_LIMIT, UNKNOWN_LIMIT);
  while (e.flight !== undefined) await e.flight.catch(() => false);
  if (!(await x.sync(key, e, RELEASE))) throw x.failure();
  const out = await x.call(key, HYBRID_SET, {
    op: "set",
    cap,
    hard,
    n,
    cmp: cmp.op,
    operand: cmp.operand,
  });
  if (out === DOWN) throw x.failure();
  if (out.matched) {
    e.blockedUntil = -Infinity;
    e.blockEnd = 0;
    e.gen++;
    // The entry in the map may not be `e`: made by a call during this one, or `e` dropped by the
    // tick and made again meanwhile. Its block dates from before the new total: lift it too.
    const current = x.entries.get(key);
    if (current !== undefined) {
      current.blockedUntil = -Infinity;
      current.blockEnd = 0;
      current.gen++;
    }
    await x.read(key);
  }
  return out;
}
