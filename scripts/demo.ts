/**
 * `npm run demo`: every primitive with a few simulated instances. Runs on the embedded
 * MemoryStore, or on Redis when REDIS_URL is set.
 */
import { createClient } from "redis";
import { MemoryStore, RedisStore } from "../mod.ts";
import type { Store } from "../store/types.ts";
import { demoCounters } from "./demo/counters.ts";

type Section = [string, (store: Store, log: (line: string) => void) => Promise<void>];

async function sections(): Promise<Section[]> {
  const list: Section[] = [["Counters", demoCounters]];
  const optional: Array<[string, string, string]> = [
    ["Instance-aware counters", "./demo/icounter.ts", "demoIcounter"],
    ["Locks", "./demo/locks.ts", "demoLocks"],
    ["Semaphore", "./demo/semaphore.ts", "demoSemaphore"],
    ["Rate limiting", "./demo/ratelimit.ts", "demoRatelimit"],
    ["HTTP rate limiting", "./demo/http.ts", "demoHttp"],
  ];
  for (const [title, path, name] of optional) {
    try {
      const mod = await import(path);
      if (typeof mod[name] === "function") list.push([title, mod[name]]);
    } catch (e) {
      if (!(e instanceof Error && /Module not found|Cannot find module/.test(e.message))) throw e;
    }
  }
  return list;
}

const url = Deno.env.get("REDIS_URL");
const client = url ? await createClient({ url }).on("error", () => {}).connect() : undefined;
const store: Store = client ? new RedisStore(client) : new MemoryStore();
console.log(
  `distkit demo on ${
    client ? `Redis at ${url}` : "the embedded MemoryStore (set REDIS_URL for Redis)"
  }\n`,
);
try {
  for (const [title, run] of await sections()) {
    console.log(`== ${title} ==`);
    await run(store, (line) => console.log(line));
    console.log();
  }
} finally {
  await store.close();
  await client?.close();
}
