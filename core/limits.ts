/**
 * Numbers that the Lua scripts and their TypeScript models (and shells) must agree on, defined
 * once. The TypeScript imports them from here; scripts/gen_lua.ts reads this module too and writes
 * them into the embedded Lua where a script has a `-- distkit:const NAME ...` line (it becomes
 * `local NAME, ... = <value>, ...`). Each value must be a safe integer. Change one here, then run
 * `deno task lua` (the test command fails while the embedded Lua is stale).
 *
 * @example Both sides read the same value
 * ```ts
 * import { HINT_BUCKETS } from "./limits.ts";
 * console.assert(HINT_BUCKETS === 64); // lua/ratelimit_absolute.lua: local HINT_BUCKETS = 64
 * ```
 *
 * @module
 */

// ---------------------------------------------------------------- counters (every kind)

/**
 * The largest magnitude a counter holds (2^53 - 1): a change past it is refused
 * (lua/counter_*.lua, lua/icounter_apply.lua and their models).
 */
export const MAX_SAFE_INTEGER: number = Number.MAX_SAFE_INTEGER;

// ---------------------------------------------------------------- instance-aware counters

/** Members moved to reaping, and members reaped from, per call (lua/icounter_apply.lua). */
export const REAP_MEMBERS = 8;
/** Slices of dead members removed per call (lua/icounter_apply.lua). */
export const REAP_SLICES = 256;
/** Slices of my own removed per drop call (lua/icounter_apply.lua, mode "drop"). */
export const DROP_SLICES = 1000;

// ---------------------------------------------------------------- locks

/** Lapsed queued writers removed per call (lua/lock_acquire.lua, lua/lock_release.lua). */
export const QUEUE_SWEEP = 100;

// ---------------------------------------------------------------- rate limiter

/** How many buckets a rejection hint looks at (bounded work per call). */
export const HINT_BUCKETS = 64;
/**
 * Bucket fields read and deleted per command when the Lua evicts (the models evict in one go, so
 * only the scripts use it; it bounds the arguments of one HMGET/HDEL).
 */
export const EVICT_CHUNK = 500;
/** How many lapsed reservations one hybrid sync reclaims (bounded work). */
export const RESERVATION_SWEEP = 100;
