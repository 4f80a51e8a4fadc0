/**
 * The counters, locks and rate-limit conformance files (their `storeTest` tests) under `bun test`,
 * on Bun's own `RedisClient` (standalone only): the runner runs
 * `DISTKIT_TEST_CLIENT=bun bun test -t '\[standalone bun\]' ./tests/bun/`. The Deno-API shim
 * comes first; the files that need Deno's process and server APIs (the fault tests, which start
 * private servers and kill connections) are left out.
 */
import "./_deno_shim.ts";

const FILES = [
  "../counter/counter_contract_test.ts",
  "../counter/lax_counter_test.ts",
  "../counter/lax_sweep_test.ts",
  "../locks/close_test.ts",
  "../locks/mutex_test.ts",
  "../locks/options_test.ts",
  "../locks/plain_publish_test.ts",
  "../locks/rw_lock_test.ts",
  "../ratelimit/differential_test.ts",
  "../ratelimit/fleet_test.ts",
  "../ratelimit/hybrid_entries_test.ts",
  "../ratelimit/operations_test.ts",
  "../ratelimit/providers_test.ts",
];

// Under Deno (`deno check`, `deno lint`) this file only type-checks: tests/bun/ is not a Deno test.
if ((globalThis as { Bun?: unknown }).Bun !== undefined) {
  for (const f of FILES) await import(f);
}
