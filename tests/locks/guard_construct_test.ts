/** Guards are made by their lock only: the public classes serve as types and for instanceof. */
import assert from "node:assert/strict";
import {
  MemoryStore,
  MutexGuard,
  ReadGuard,
  RwLock,
  Semaphore,
  SemaphoreGuard,
  WriteGuard,
} from "../../mod.ts";
import { Mutex } from "../../locks/mod.ts";

Deno.test("lock guards cannot be constructed outside their lock", async () => {
  await using store = new MemoryStore();
  const mutex = new Mutex({ key: "g", store });
  await using held = await mutex.lock();
  assert.ok(held instanceof MutexGuard);
  // What a guard could be built from before: the init a lock hands it.
  const init = { store, keys: {}, key: "g", mode: "write", token: "t", ttlMs: 1000 };
  for (const G of [MutexGuard, ReadGuard, WriteGuard, SemaphoreGuard]) {
    const Ctor = G as unknown as new (...a: unknown[]) => unknown;
    assert.throws(() => new Ctor({ ...init, onAttempt: 0, fence: 1, sentAt: 0 }), {
      name: "TypeError",
      message: "Lock guards are made by their lock: call lock(), read(), write() or acquire()",
    });
  }
  const rw = new RwLock({ key: "h", store });
  await using r = await rw.read();
  assert.ok(r instanceof ReadGuard);
  await using p = await new Semaphore({ key: "s", store, permits: 2 }).acquire(2);
  assert.ok(p instanceof SemaphoreGuard);
});
