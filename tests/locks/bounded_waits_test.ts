/**
 * Every waiting form settles within its bound (plus 100 ms) and reacts to its signal whatever the
 * store does: Redis frozen (SIGSTOP), stopped, or a client that never connected. A waiter that
 * gave up leaves nothing behind once Redis answers again. Private servers: these tests freeze,
 * kill and restart them.
 */
import assert from "node:assert/strict";
import { createClient } from "redis";
import {
  ClosedError,
  LockRetriesExhaustedError,
  LockTimeoutError,
  Mutex,
  RedisStore,
  RwLock,
  StoreError,
} from "../../mod.ts";
import type { StoreLike } from "../../store/to_store.ts";
import { connectStandalone, freePorts, startPrivateRedis } from "../_support/servers.ts";
import { waitFor } from "../_support/wait.ts";
import { keyOf } from "./_helpers.ts";

/** How late past its bound a wait may settle, ms. */
const SLACK_MS = 100;

/** A waiting form, its bound (ms, from the call) and what it must reject with. */
interface Case {
  name: string;
  start: () => Promise<unknown>;
  boundMs: number;
  expect: (e: unknown) => boolean;
  /** Aborts the wait's signal (signal cases). */
  abort?: () => void;
}

/** Starts every case at once; checks each settles in time, with the right error. */
async function settleInTime(cases: Case[]): Promise<void> {
  const timers: ReturnType<typeof setTimeout>[] = [];
  const results = await Promise.all(cases.map(async (c) => {
    const t0 = performance.now();
    const p = c.start();
    if (c.abort !== undefined) timers.push(setTimeout(c.abort, c.boundMs));
    // A wait still pending well past its bound fails the test rather than hanging it.
    const late = new Promise<never>((_, reject) => {
      timers.push(setTimeout(() => reject(new Error("still pending")), c.boundMs + 1000));
    });
    try {
      await Promise.race([p, late]);
      return { c, ms: performance.now() - t0, error: new Error("resolved") as unknown };
    } catch (error) {
      p.catch(() => {}); // settles later, if ever
      return { c, ms: performance.now() - t0, error };
    }
  }));
  for (const t of timers) clearTimeout(t);
  for (const { c, ms, error } of results) {
    assert.ok(c.expect(error), `${c.name}: unexpected ${error}`);
    assert.ok(ms <= c.boundMs + SLACK_MS, `${c.name}: settled after ${Math.round(ms)} ms`);
  }
}

const isTimeout = (e: unknown) => e instanceof LockTimeoutError;

/** The timeout and signal forms of both locks on `store`, bounded by `ms`. */
function waitingForms(store: StoreLike, key: string, ms: number): Case[] {
  const m = (extra = {}) => new Mutex({ key, store, ttlMs: 300, ...extra });
  const rw = () => new RwLock({ key, store, ttlMs: 300 });
  const reason = new Error("aborted by the caller");
  const ctrl = new AbortController();
  const rwCtrl = new AbortController();
  return [
    {
      name: "lock({ timeoutMs })",
      start: () => m().lock({ timeoutMs: ms }),
      boundMs: ms,
      expect: isTimeout,
    },
    {
      name: "tryLockWithTimeout",
      start: () => m().tryLockWithTimeout(ms),
      boundMs: ms,
      expect: isTimeout,
    },
    { name: "maxWaitMs", start: () => m({ maxWaitMs: ms }).lock(), boundMs: ms, expect: isTimeout },
    {
      name: "tryLockWithTimeout(0)",
      start: () => m().tryLockWithTimeout(0),
      boundMs: 0,
      expect: isTimeout,
    },
    {
      name: "lock({ signal })",
      start: () => m().lock({ signal: ctrl.signal }),
      boundMs: ms,
      abort: () => ctrl.abort(reason),
      expect: (e) => e === reason,
    },
    {
      name: "read({ timeoutMs })",
      start: () => rw().read({ timeoutMs: ms }),
      boundMs: ms,
      expect: isTimeout,
    },
    {
      name: "write({ timeoutMs })",
      start: () => rw().write({ timeoutMs: ms }),
      boundMs: ms,
      expect: isTimeout,
    },
    {
      name: "tryReadWithTimeout",
      start: () => rw().tryReadWithTimeout(ms),
      boundMs: ms,
      expect: isTimeout,
    },
    {
      name: "tryWriteWithTimeout",
      start: () => rw().tryWriteWithTimeout(ms),
      boundMs: ms,
      expect: isTimeout,
    },
    {
      name: "write({ signal })",
      start: () => rw().write({ signal: rwCtrl.signal }),
      boundMs: ms,
      abort: () => rwCtrl.abort(reason),
      expect: (e) => e === reason,
    },
  ];
}

/** The retry forms on `store` with ttlMs 300: an unanswered attempt counts after 550 ms. */
function retryForms(store: StoreLike, key: string, retries: number, boundMs: number): Case[] {
  const isExhausted = (e: unknown) =>
    e instanceof LockRetriesExhaustedError && e.retries === retries &&
    e.cause instanceof StoreError;
  return [
    {
      name: `tryLockWithRetries(${retries})`,
      start: () => new Mutex({ key, store, ttlMs: 300 }).tryLockWithRetries(retries),
      boundMs,
      expect: isExhausted,
    },
    {
      name: `tryWriteWithRetries(${retries})`,
      start: () => new RwLock({ key, store, ttlMs: 300 }).tryWriteWithRetries(retries),
      boundMs,
      expect: isExhausted,
    },
    {
      name: `tryReadWithRetries(${retries})`,
      start: () => new RwLock({ key, store, ttlMs: 300 }).tryReadWithRetries(retries),
      boundMs,
      expect: isExhausted,
    },
  ];
}

/** Attempts of a retry-bounded wait on ttlMs 300 go unanswered for 3 * 100 + 250 ms each. */
const UNANSWERED_MS = 550;
/** Poll delays between attempts: at most the cap (100 ms) each. */
const retryBound = (retries: number) => (retries + 1) * (UNANSWERED_MS + 100);

Deno.test("lock waits settle within their bound while Redis is frozen, and leave nothing behind", async () => {
  await using server = await startPrivateRedis();
  const client = await connectStandalone(server.url);
  const other = await connectStandalone(server.url);
  const store = new RedisStore(client);
  try {
    // Held locks: the waits queue (writers) and subscribe before Redis freezes.
    const mHolder = await new Mutex({ key: "frozen", store: other }).lock();
    const rwHolder = await new RwLock({ key: "frozen", store: other }).write();
    const warm = new Mutex({ key: "frozen", store, ttlMs: 300 });
    await assert.rejects(warm.lock({ timeoutMs: 50 }), LockTimeoutError); // a subscription
    server.pause();
    await settleInTime([
      ...waitingForms(store, "frozen", 300),
      ...retryForms(store, "frozen", 1, retryBound(1)),
    ]);
    server.resume();
    // Once Redis runs the calls sent while it was frozen, the compensating releases run after
    // them: no queue entry is left; another process gets each lock the moment it is released.
    await waitFor(async () => {
      const q = await other.zRange(keyOf("frozen", "mutex", "queue"), 0, -1);
      const w = await other.zRange(keyOf("frozen", "rw", "queue"), 0, -1);
      return q.length === 0 && w.length === 0;
    }, { timeoutMs: 5000, message: "the queues emptied" });
    await mHolder.release();
    await rwHolder.release();
    // Clean-ups run in the background, through the store's breaker: a call of a given-up wait that
    // Redis ran late is undone by its clean-up soon after (seen: a few ms), never left to expire.
    await waitFor(
      async () =>
        await other.exists([
          keyOf("frozen", "mutex", "lease"),
          keyOf("frozen", "rw", "lease"),
          keyOf("frozen", "rw", "readers"),
          keyOf("frozen", "mutex", "queue-exp"),
          keyOf("frozen", "rw", "queue-exp"),
        ]) === 0,
      { timeoutMs: 250, message: "no lease, reader or queue key left (within 250 ms < ttlMs 300)" },
    );
    const m = await new Mutex({ key: "frozen", store: other }).tryLock();
    assert.ok(m !== null, "another process locks the mutex at once");
    const w = await new RwLock({ key: "frozen", store: other }).tryWrite();
    assert.ok(w !== null, "another process write-locks the RwLock at once");
    await m.release();
    await w.release();
  } finally {
    server.resume();
    await store.close();
    client.destroy();
    other.destroy();
  }
});

Deno.test("a late win is released: a wait that gave up while its attempt was frozen leaves no lease", async () => {
  await using server = await startPrivateRedis();
  const client = await connectStandalone(server.url);
  const other = await connectStandalone(server.url);
  try {
    // The lock is free, but Redis freezes with the attempt sent: it wins when Redis thaws, after
    // the wait gave up; the compensating release (sent after it) frees the lease.
    server.pause();
    const ctrl = new AbortController();
    const reason = new Error("gave up");
    await settleInTime([{
      name: "lock({ signal })",
      start: () => new Mutex({ key: "late", store: client }).lock({ signal: ctrl.signal }),
      boundMs: 100,
      abort: () => ctrl.abort(reason),
      expect: (e) => e === reason,
    }, {
      name: "read({ timeoutMs })",
      start: () => new RwLock({ key: "late", store: client }).read({ timeoutMs: 100 }),
      boundMs: 100,
      expect: isTimeout,
    }]);
    server.resume();
    await waitFor(async () => {
      const n = await other.exists([
        keyOf("late", "mutex", "lease"),
        keyOf("late", "rw", "readers"),
      ]);
      return n === 0;
    }, { timeoutMs: 5000, message: "the late wins released" });
    const g = await new Mutex({ key: "late", store: other }).tryLock();
    assert.ok(g !== null && g.fencingToken === 2, "the late win was the first holder");
    await g.release();
  } finally {
    server.resume();
    client.destroy();
    other.destroy();
  }
});

Deno.test("lock waits settle within their bound while Redis is down, and across its restart", async () => {
  await using server = await startPrivateRedis();
  const client = await connectStandalone(server.url);
  const other = await connectStandalone(server.url);
  try {
    const holder = await new Mutex({ key: "down", store: other, ttlMs: 2000 }).lock();
    const warm = new Mutex({ key: "down", store: client, ttlMs: 300 });
    await assert.rejects(warm.lock({ timeoutMs: 50 }), LockTimeoutError);
    await server.kill(); // node-redis queues commands while it reconnects
    await settleInTime([
      ...waitingForms(client, "down", 300),
      ...retryForms(client, "down", 1, retryBound(1)),
    ]);
    // A wait still going when Redis comes back (with its data) goes on and gets the lock.
    const waiting = new Mutex({ key: "down", store: client, ttlMs: 300 }).lock({
      timeoutMs: 10_000,
    });
    await server.restart({ keepData: false });
    await holder.release().catch(() => {});
    const g = await waiting;
    assert.equal(g.state, "acquired");
    await g.release();
    await waitFor(async () => (await other.keys("*")).every((k) => k.endsWith(":fence")), {
      timeoutMs: 5000,
      message: "no trace",
    });
    const again = await new Mutex({ key: "down", store: other }).tryLock();
    assert.ok(again !== null, "another process locks at once");
    await again.release();
  } finally {
    client.destroy(); // close() would wait for commands queued while Redis is down
    other.destroy();
  }
});

Deno.test("lock waits on a client that never connected settle within their bound", async () => {
  const [port] = freePorts(1) as [number];
  const url = `redis://127.0.0.1:${port}`;
  // connect() called, never succeeding: node-redis queues every command while it retries.
  const connecting = createClient({ url, socket: { reconnectStrategy: () => 50 } }).on(
    "error",
    () => {},
  );
  const pending = connecting.connect().catch(() => {});
  // connect() never called: every command fails at once.
  const closed = createClient({ url }).on("error", () => {});
  try {
    // First use loads node-redis's code paths: a one-time stall, not part of any wait.
    for (const store of [connecting, closed]) {
      const warm = new Mutex({ key: "warm", store }).tryLockWithTimeout(0).catch(() => {});
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([warm, new Promise((r) => timer = setTimeout(r, 1000))]);
      clearTimeout(timer);
    }
    await settleInTime([
      ...waitingForms(connecting, "never", 300),
      ...retryForms(connecting, "never", 1, retryBound(1)),
      ...waitingForms(closed, "never", 300),
      ...retryForms(closed, "never", 2, 3 * 100 + 100),
    ]);
  } finally {
    connecting.destroy();
    await pending;
  }
});

Deno.test("a closed store surfaces as ClosedError from every waiting form, at once", async () => {
  await using server = await startPrivateRedis();
  const client = await connectStandalone(server.url);
  const store = new RedisStore(client);
  try {
    await store.close();
    const m = new Mutex({ key: "closed", store, ttlMs: 300 });
    const rw = new RwLock({ key: "closed", store, ttlMs: 300 });
    const isClosed = (e: unknown) => e instanceof ClosedError;
    await settleInTime([
      {
        name: "tryLockWithRetries",
        start: () => m.tryLockWithRetries(3),
        boundMs: 0,
        expect: isClosed,
      },
      {
        name: "tryReadWithRetries",
        start: () => rw.tryReadWithRetries(3),
        boundMs: 0,
        expect: isClosed,
      },
      {
        name: "lock({ timeoutMs })",
        start: () => m.lock({ timeoutMs: 5000 }),
        boundMs: 0,
        expect: isClosed,
      },
      {
        name: "write({ timeoutMs })",
        start: () => rw.write({ timeoutMs: 5000 }),
        boundMs: 0,
        expect: isClosed,
      },
      { name: "lock()", start: () => m.lock(), boundMs: 0, expect: isClosed },
    ]);
  } finally {
    await client.close();
  }
});
