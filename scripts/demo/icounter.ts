/**
 * Demo: a few simulated instances own slices of "open connections"; one crashes and the total
 * follows once its heartbeats stop; one leaves gracefully and the total follows at once.
 */
import { LaxInstanceAwareCounter, StrictInstanceAwareCounter } from "../../icounter/mod.ts";
import type { Store } from "../../store/types.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function demoIcounter(store: Store, log: (line: string) => void): Promise<void> {
  const prefix = `demo-icounter-${Date.now().toString(36)}`;
  const deadInstanceThresholdMs = 300;
  const names = ["api-1", "api-2", "api-3"];
  const nodes = names.map((name) => ({
    name,
    counter: new StrictInstanceAwareCounter({
      prefix,
      store,
      deadInstanceThresholdMs,
      instanceId: name,
    }),
  }));
  const lax = new LaxInstanceAwareCounter({
    prefix,
    store,
    deadInstanceThresholdMs,
    instanceId: "edge-1",
    flushIntervalMs: 20,
  });
  const [api1, api2, api3] = nodes.map((n) => n.counter) as [
    StrictInstanceAwareCounter,
    StrictInstanceAwareCounter,
    StrictInstanceAwareCounter,
  ];
  try {
    log(
      `threshold ${deadInstanceThresholdMs} ms; heartbeats every ${deadInstanceThresholdMs / 3} ms`,
    );
    for (const [i, { name, counter }] of nodes.entries()) {
      const r = await counter.inc("connections", 10 * (i + 1));
      log(`  ${name} opens ${10 * (i + 1)} connections -> total ${r.total}, mine ${r.mine}`);
    }
    for (let i = 0; i < 5; i++) await lax.inc("connections");
    await lax.flush();
    log(`  edge-1 (lax) opens 5, flushed -> total ${(await api1.get("connections")).total}`);

    log("api-3 crashes (no leave, heartbeats stop)");
    await api3.close({ leave: false });
    const t0 = Date.now();
    let total = (await api1.get("connections")).total;
    log(`  right after the crash api-1 still sees ${total}`);
    while (total !== 35 && Date.now() - t0 < 3000) {
      await sleep(25);
      total = (await api1.get("connections")).total;
    }
    log(`  ${Date.now() - t0} ms later api-1 sees ${total}: api-3's 30 left the total`);

    log("api-2 leaves gracefully (close with leave: true)");
    await api2.close();
    log(`  at once api-1 sees ${(await api1.get("connections")).total}`);

    const r = await api1.set("connections", 0);
    log(`api-1 set("connections", 0): total ${r.total}; edge-1's old slice is void`);
    await lax.inc("connections", 2);
    await lax.flush();
    log(`  edge-1 opens 2 more -> api-1 sees ${(await api1.get("connections")).total}`);
  } finally {
    await api1.clear().catch(() => {});
    await lax.close();
    for (const { counter } of nodes) await counter.close();
  }
}
