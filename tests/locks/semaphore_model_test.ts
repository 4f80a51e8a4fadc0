/**
 * The semaphore's model (locks/_sem_scripts.ts, run by MemoryStore) against its specification,
 * on random sequences of acquisitions, renewals, releases and clock jumps (fast-check): permits
 * held never exceed `permits`; waiters are granted in queue order and a head that does not fit
 * is never passed; after a release no waiter that fits is left waiting; fencing tokens grow;
 * every key but the fence expires, and an idle semaphore leaves only the fence.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { MemoryStore } from "../../mod.ts";
import { semaphoreKeys } from "../../locks/_remote.ts";
import {
  SEM_ACQUIRE_OP,
  SEM_RELEASE_OP,
  SEM_RENEW_OP,
  tokenWeight,
} from "../../locks/_sem_scripts.ts";

export type SemOp =
  | { op: "acquire"; who: number; n: number; queue: boolean }
  | { op: "renew"; who: number }
  | { op: "release"; who: number }
  | { op: "tick"; ms: number };

export const PERMITS = 4;
/** Six clients: token i asks for WEIGHTS[i] permits with TTLS[i]. */
const WEIGHTS = [1, 2, 3, 4, 1, 2];
const TTLS = [1000, 2000, 3000, 1500, 2500, 1000];
const ROUTES = ["/ra", "/rb", "", "/ra", "", "/rb"];

export function tokenOf(who: number): string {
  return `t${who}*${WEIGHTS[who]}/${TTLS[who]}${ROUTES[who]}/owner`;
}

const who = fc.integer({ min: 0, max: 5 });
export const semOpArb: fc.Arbitrary<SemOp> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      op: fc.constant("acquire" as const),
      who,
      n: fc.constant(0),
      queue: fc.boolean(),
    }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("renew" as const), who }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant("release" as const), who }) },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant("tick" as const),
      ms: fc.integer({ min: 1, max: 1500 }),
    }),
  },
);

Deno.test("semaphore model: capacity, FIFO, no idle permit beside a fitting waiter, growing fences, no leftovers (fast-check)", async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(semOpArb, { minLength: 1, maxLength: 40 }), async (ops) => {
      let now = 1_000_000;
      const store = new MemoryStore({ now: () => now });
      const k = semaphoreKeys("ns", "k");
      const { db } = store;
      const direct: number[] = []; // fences of attempts that got in
      const fences: number[] = []; // fences of grants, in publication order
      const grantOrder: number[] = []; // tickets of grants, in publication order
      const live = () => {
        db.now = now;
        return db.zrangeAll(k.holders).filter(([, exp]) => exp > now);
      };
      const queued = () => {
        db.now = now;
        const exp = new Map(db.zrangeAll(k.queueExp));
        return db.zrangeAll(k.queue).filter(([m]) => (exp.get(m) ?? 0) > now);
      };
      const held = () => live().reduce((s, [m]) => s + tokenWeight(m)!, 0);
      const unsubs = await Promise.all(
        [k.channel, `${k.channel}:ra`, `${k.channel}:rb`].map((c) =>
          store.subscribe(c, (message) => {
            const [, fence, ticket] = message.split(" ");
            fences.push(Number(fence));
            grantOrder.push(Number(ticket));
          })
        ),
      );
      try {
        for (const op of ops) {
          const before = queued();
          if (op.op === "tick") {
            now += op.ms;
            continue;
          }
          const token = tokenOf(op.who);
          const n = WEIGHTS[op.who]!;
          const wasHolder = live().some(([m]) => m === token);
          if (op.op === "acquire") {
            const r = await SEM_ACQUIRE_OP.run(store, k.all, {
              token,
              n,
              ttlMs: TTLS[op.who]!,
              permits: PERMITS,
              queueMs: op.queue ? 800 : 0,
              channel: k.channel,
              key: "k",
            });
            assert.ok(r.ok || r.refused === undefined);
            // A repeated attempt of a holder (or one that finds its grant) returns its fence again.
            if (r.ok && !wasHolder) direct.push(r.fence);
            if (r.ok && !wasHolder) {
              // It got in: everyone queued ahead of it was granted first (in this call).
              const at = before.findIndex(([m]) => m === token);
              const ahead = before.slice(0, at === -1 ? before.length : at).map(([m]) => m);
              const still = new Set(queued().map(([m]) => m));
              assert.ok(ahead.every((m) => !still.has(m)), "overtook a waiter");
            }
          } else if (op.op === "renew") {
            await SEM_RENEW_OP.run(store, [k.holders, k.queue, k.queueExp, k.state], {
              token,
              ttlMs: TTLS[op.who]!,
            });
          } else {
            await SEM_RELEASE_OP.run(store, k.all, {
              token,
              permits: PERMITS,
              channel: k.channel,
            });
            // Nobody who fits is left waiting behind free permits.
            const head = queued()[0];
            if (head !== undefined) {
              assert.ok(held() + tokenWeight(head[0])! > PERMITS, "a fitting head left waiting");
            }
          }
          assert.ok(held() <= PERMITS, `held ${held()} > ${PERMITS}`);
          // The accounting: "used" is the permits of every member of holders (lapsed ones not
          // yet swept too), and the state lives at least as long as every other key.
          db.now = now;
          const all = db.zrangeAll(k.holders).reduce((s, [m]) => s + tokenWeight(m)!, 0);
          if (db.exists(k.state) === 1) {
            assert.equal(Number(db.hget(k.state, "used")), all, "used");
            for (const name of [k.holders, k.queue, k.queueExp]) {
              assert.ok(db.pttl(name) <= db.pttl(k.state), `${name} outlives the state`);
            }
          } else assert.equal(all, 0, "holders without a state");
          // Every key but the fence expires, no later than its last member.
          for (const name of [k.holders, k.queue, k.queueExp, k.state]) {
            const ttl = db.pttl(name);
            assert.ok(ttl === -2 || ttl > 0, `${name} does not expire`);
          }
        }
        await new Promise((r) => setTimeout(r, 0)); // the last messages
        for (let i = 1; i < fences.length; i++) {
          assert.ok(fences[i]! > fences[i - 1]!, `fences ${fences}`);
        }
        for (let i = 1; i < direct.length; i++) {
          assert.ok(direct[i]! > direct[i - 1]!, `fences ${direct}`);
        }
        assert.equal(new Set([...fences, ...direct]).size, fences.length + direct.length);
        for (let i = 1; i < grantOrder.length; i++) {
          assert.ok(grantOrder[i]! > grantOrder[i - 1]!, "grants out of queue order");
        }
        // Far in the future, every member has lapsed: only the fence is left.
        now += 10_000;
        db.now = now;
        const left = db.dump().map((e) => e.key);
        assert.deepEqual(left.filter((name) => name !== k.fence), []);
      } finally {
        for (const u of unsubs) await u();
        await store.close();
      }
    }),
    { numRuns: 1000 },
  );
});
