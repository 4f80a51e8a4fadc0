/** Helpers of the lock suites: raw inspection of a lock's keys and external tampering. */
import type { Fixture } from "../_support/stores.ts";
import { lockKeys, semaphoreKeys } from "../../locks/_remote.ts";
import { waitFor } from "../_support/wait.ts";

/** The suffixes a lock may leave in the store. */
export const PARTS = ["lease", "readers", "queue", "queue-exp", "fence", "read-waiters"] as const;

/** The Redis name of one part of lock `key`. */
export function keyOf(key: string, kind: "mutex" | "rw", part: (typeof PARTS)[number]): string {
  const k = lockKeys("distkit-locks", key, kind);
  return {
    lease: k.lease,
    readers: k.readers,
    queue: k.queue,
    "queue-exp": k.queueExp,
    fence: k.fence,
    "read-waiters": k.waiters,
  }[part];
}

/** PTTL of a raw key (-2 missing, -1 persistent). */
export async function pttl(fx: Fixture, name: string): Promise<number> {
  if (fx.memory) {
    fx.memory.db.now = Date.now();
    return fx.memory.db.pttl(name);
  }
  return Number(await fx.raw.pTTL(name));
}

/** The parts of lock `key` that exist, with their PTTL. */
export async function traces(
  fx: Fixture,
  key: string,
  kind: "mutex" | "rw",
): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const part of PARTS) {
    const t = await pttl(fx, keyOf(key, kind, part));
    if (t !== -2) out[part] = t;
  }
  return out;
}

/**
 * Waits (2 s at most) until exactly `parts` of lock `key` exist (`rwTraces` for an RwLock: the
 * read-waiters marker aside). A wait that gave up removes its queue entry with a clean-up call that
 * its rejection waits for only a short grace; a slow store (GLIDE's cluster client, once in a CI
 * run) finishes it in the background.
 */
export async function untilParts(
  fx: Fixture,
  key: string,
  kind: "mutex" | "rw",
  parts: readonly string[],
): Promise<void> {
  const want = [...parts].sort().join();
  await waitFor(
    async () =>
      Object.keys(kind === "rw" ? await rwTraces(fx, key) : await traces(fx, key, kind)).sort()
        .join() === want,
    { timeoutMs: 2000, message: `only ${want} left` },
  );
}

/**
 * The parts of an RwLock that exist, with their PTTL, except the read-waiters marker, which
 * waiting readers leave behind on purpose: it must expire by itself (checked here).
 */
export async function rwTraces(fx: Fixture, key: string): Promise<Record<string, number>> {
  const t = await traces(fx, key, "rw");
  const marker = t["read-waiters"];
  if (marker !== undefined && !(marker > 0)) throw new Error(`marker does not expire: ${marker}`);
  delete t["read-waiters"];
  return t;
}

/** Deletes a raw key behind the library's back. */
export async function rawDel(fx: Fixture, name: string): Promise<void> {
  if (fx.memory) {
    fx.memory.db.now = Date.now();
    fx.memory.db.del(name);
  } else await fx.raw.del(name);
}

/** Members of a raw zset, in order. */
export async function zmembers(fx: Fixture, name: string): Promise<string[]> {
  if (fx.memory) {
    fx.memory.db.now = Date.now();
    return fx.memory.db.zrangeAll(name).map(([m]) => m);
  }
  return await fx.raw.zRange(name, 0, -1);
}

/** Expects `p` to reject with an instance of `cls`; returns the error. */
export async function rejects<T>(
  p: Promise<unknown>,
  cls: abstract new (...args: never[]) => T,
): Promise<T> {
  try {
    await p;
  } catch (e) {
    if (e instanceof cls) return e;
    throw new Error(`Expected ${cls.name}, got ${e}`);
  }
  throw new Error(`Expected ${cls.name}, but it resolved`);
}

/** The parts of semaphore `key` that exist, with their PTTL. */
export async function semTraces(fx: Fixture, key: string): Promise<Record<string, number>> {
  const k = semaphoreKeys("distkit-locks", key);
  const out: Record<string, number> = {};
  for (const part of ["holders", "queue", "queueExp", "fence", "state"] as const) {
    const t = await pttl(fx, k[part]);
    if (t !== -2) out[part] = t;
  }
  return out;
}
