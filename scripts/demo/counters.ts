/** Demo: three simulated instances drive strict and lax counters on one store. */
import { LaxCounter, StrictCounter } from "../../counter/mod.ts";
import type { Store } from "../../store/types.ts";

export async function demoCounters(store: Store, log: (line: string) => void): Promise<void> {
  const prefix = `demo-counters-${Date.now().toString(36)}`;
  const strict = ["api-1", "api-2", "api-3"].map((name) => ({
    name,
    counter: new StrictCounter({ prefix, store }),
  }));
  log("strict: every inc is one atomic call; each instance sees the running total");
  for (let round = 0; round < 2; round++) {
    for (const { name, counter } of strict) {
      log(`  ${name} inc("orders") -> ${await counter.inc("orders")}`);
    }
  }

  log("lax: incs stay in memory and reach the store within allowedLagMs (50 ms), exactly once");
  const lax = ["worker-1", "worker-2", "worker-3"].map((name) => ({
    name,
    counter: new LaxCounter({ prefix, store, allowedLagMs: 50 }),
  }));
  try {
    await Promise.all(lax.map(async ({ name, counter }, i) => {
      for (let n = 0; n < 1000 * (i + 1); n++) await counter.inc("page-views");
      log(
        `  ${name} did ${1000 * (i + 1)} incs, sees ${await counter.get(
          "page-views",
        )}, pending keys: ${counter.pending}`,
      );
    }));
    log(`  store before the flush: ${await strict[0]!.counter.get("page-views")}`);
    await new Promise((r) => setTimeout(r, 80));
    log(
      `  store after allowedLagMs: ${await strict[0]!.counter.get("page-views")} (6000 expected)`,
    );
    await lax[0]!.counter.set("page-views", 0);
    log(
      `  worker-1 set("page-views", 0) is absolute: store reads ${await strict[1]!.counter.get(
        "page-views",
      )}`,
    );
  } finally {
    for (const { counter } of lax) await counter.close();
    await strict[0]!.counter.clear();
  }
}
