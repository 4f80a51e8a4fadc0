/**
 * Demo: six workers sharing 3 permits of a Semaphore (one asks for 2 at a time: it is served in
 * turn, never starved by the smaller requests behind it), then a holder cut off from the store
 * that loses its permits by itself.
 */
import { Semaphore } from "../../locks/mod.ts";
import { StoreError } from "../../core/errors.ts";
import type { Reply, Script, Store, Unsubscribe } from "../../store/types.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function demoSemaphore(store: Store, log: (line: string) => void): Promise<void> {
  const key = `demo-semaphore-${Date.now().toString(36)}`;
  const t0 = performance.now();
  const at = () => `${(performance.now() - t0).toFixed(0).padStart(4)} ms`;

  log("Six workers share 3 permits; worker-6 needs 2 at a time. Never more than 3 in use:");
  let inUse = 0;
  let peak = 0;
  const workers = ["worker-1", "worker-2", "worker-3", "worker-4", "worker-5", "worker-6"];
  await Promise.all(workers.map(async (name, i) => {
    const sem = new Semaphore({ key, store, permits: 3, ttlMs: 2_000, ownerId: name });
    const n = i === 5 ? 2 : 1;
    await sleep(i * 5); // arrive in order
    for (let turn = 0; turn < 2; turn++) {
      await using permit = await sem.acquire(n, { timeoutMs: 10_000 });
      inUse += n;
      peak = Math.max(peak, inUse);
      log(
        `  ${at()} ${name} holds ${n} permit${n > 1 ? "s" : ""} (fencing token ${
          String(permit.fencingToken).padStart(2)
        }); ${inUse} of 3 in use`,
      );
      await sleep(60);
      inUse -= n;
    }
    await sem.close();
  }));
  log(`  peak: ${peak} of 3 permits in use at once`);

  log("A holder cut off from the store (a partition) loses its permits by itself");
  const link = new Link(store);
  const cut = new Semaphore({ key: `${key}-cut`, store: link, permits: 3, ttlMs: 300 });
  const crashed = await cut.acquire(3);
  const lostAt = new Promise<string>((resolve) =>
    crashed.signal.addEventListener("abort", () => resolve(at()))
  );
  log(`  ${at()} worker-A holds all 3 permits, fencing token ${crashed.fencingToken}; link cut`);
  link.cut = true;
  const sem = new Semaphore({ key: `${key}-cut`, store, permits: 3, ttlMs: 300 });
  const next = await sem.acquire(2, { timeoutMs: 2_000 });
  log(`  ${await lostAt} worker-A's guard.signal aborted: ${crashed.signal.reason.message}`);
  log(
    `  ${at()} worker-B got 2 permits with fencing token ${next.fencingToken}; a resource that` +
      " checks tokens now rejects worker-A",
  );
  link.cut = false;
  log(`  worker-A's late release() says "${await crashed.release()}" and frees nothing`);
  log(`  available now: ${await sem.available()} of 3`);
  await next.release();
  await sem.close();
  await cut.close();
}

/** A store link that can be cut: every call fails while `cut` is set. */
class Link implements Store {
  readonly isDistkitStore = true as const;
  cut = false;
  constructor(readonly inner: Store) {}
  run(script: Script, keys: readonly string[], argv: readonly (string | number)[]): Promise<Reply> {
    if (this.cut) return Promise.reject(new StoreError("link cut"));
    return this.inner.run(script, keys, argv);
  }
  subscribe(channel: string, listener: (message: string) => void): Promise<Unsubscribe> {
    return this.inner.subscribe(channel, listener);
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
  [Symbol.asyncDispose](): Promise<void> {
    return Promise.resolve();
  }
}
