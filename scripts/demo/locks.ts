/**
 * Demo: workers taking turns on a Mutex (FIFO hand-off by pub/sub, fencing tokens, a lost lease)
 * and on a writer-preferring RwLock.
 */
import { Mutex, RwLock } from "../../locks/mod.ts";
import { StoreError } from "../../core/errors.ts";
import type { Reply, Script, Store, Unsubscribe } from "../../store/types.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function demoLocks(store: Store, log: (line: string) => void): Promise<void> {
  const key = `demo-locks-${Date.now().toString(36)}`;
  const t0 = performance.now();
  const at = () => `${(performance.now() - t0).toFixed(0).padStart(4)} ms`;

  log("Mutex: three workers, two turns each; waiters queue and are handed the lock on release");
  let lastFence = 0;
  await Promise.all(["worker-1", "worker-2", "worker-3"].map(async (name) => {
    const mutex = new Mutex({ key, store, ttlMs: 2_000, ownerId: name });
    for (let turn = 0; turn < 2; turn++) {
      await using guard = await mutex.lock({ timeoutMs: 5_000 });
      const ok = guard.fencingToken > lastFence;
      lastFence = guard.fencingToken;
      log(
        `  ${at()} ${name} holds it: fencing token ${guard.fencingToken} (${
          ok ? "larger than any before" : "STALE"
        }), onAttempt ${guard.onAttempt}`,
      );
      await sleep(40);
    }
  }));

  log("Mutex: a holder cut off from the store (a partition) loses its lease by itself");
  const link = new Link(store);
  const crashed = await new Mutex({ key: `${key}-cut`, store: link, ttlMs: 300 }).lock();
  const lostAt = new Promise<string>((resolve) =>
    crashed.signal.addEventListener("abort", () => resolve(at()))
  );
  log(`  ${at()} worker-A holds it with fencing token ${crashed.fencingToken}; its link is cut`);
  link.cut = true;
  const next = await new Mutex({ key: `${key}-cut`, store, ttlMs: 300 }).lock({ timeoutMs: 2_000 });
  log(`  ${await lostAt} worker-A's guard.signal aborted: ${crashed.signal.reason.message}`);
  log(
    `  ${at()} worker-B got it with fencing token ${next.fencingToken}; a resource that checks` +
      " tokens now rejects worker-A's writes",
  );
  link.cut = false;
  log(`  worker-A's late release() says "${await crashed.release()}" and frees nothing`);
  await next.release();

  log("RwLock: readers share; a waiting writer blocks new readers, then readers resume");
  const rw = (name: string) => new RwLock({ key, store, ttlMs: 2_000, ownerId: name });
  const r1 = await rw("reader-1").read();
  const r2 = await rw("reader-2").read();
  log(`  ${at()} reader-1 and reader-2 read together`);
  const writing = rw("writer").write({ timeoutMs: 5_000 }).then((w) => {
    log(`  ${at()} writer holds it alone, fencing token ${w.fencingToken}`);
    return w;
  });
  await sleep(30);
  log(`  ${at()} reader-3 tryRead() while the writer waits: ${await rw("reader-3").tryRead()}`);
  const reading = rw("reader-3").read({ timeoutMs: 5_000 }).then((r) => {
    log(`  ${at()} reader-3 reads after the writer`);
    return r;
  });
  await sleep(30);
  await r1.release();
  await r2.release();
  log(`  ${at()} reader-1 and reader-2 released`);
  const w = await writing;
  await sleep(30);
  await w.release();
  await (await reading).release();
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
