/**
 * The suites' invariant check itself: it judges one snapshot of the stored state. Instances keep
 * heartbeating (and so reaping each other, and re-registering) while a test checks; a check that
 * read the totals at one moment and the slices at another would report a broken invariant that
 * no script ever stored.
 */
import assert from "node:assert/strict";
import { icounterKeys, memberName } from "../../icounter/_core.ts";
import { ICOUNTER_APPLY } from "../../icounter/_scripts.ts";
import { storeTest } from "../_support/stores.ts";
import { assertInvariant } from "./_support.ts";

storeTest("the invariant check reads one snapshot while members are reaped", async (fx) => {
  const keys = icounterKeys(fx.prefix);
  // One instance call (see lua/icounter_apply.lua): register when missing, add n to my slice of k.
  const inc = (member: string, n: number) =>
    fx.store.run(ICOUNTER_APPLY, keys, [
      member,
      60_000,
      1,
      "1000",
      0,
      0,
      "ops",
      0,
      "inc",
      "k",
      "always",
      0,
      n,
    ]);
  // A member whose heartbeat deadline is long past: the next call of another member reaps it.
  const expire = async (member: string) => {
    if (fx.memory !== undefined) fx.memory.db.zadd(keys[0]!, 0, member);
    else await fx.raw.zAdd(keys[0]!, { score: 0, value: member });
  };
  const survivor = memberName("survivor");
  let done = false;
  let stop = false;
  const churn = (async () => {
    for (let i = 0; i < 150 && !stop; i++) {
      const dying = memberName(`dying-${i}`);
      await inc(dying, 5); // the total rises by 5
      await expire(dying);
      await inc(survivor, i % 2 === 0 ? 1 : -1); // reaps it: the total falls by 5
    }
  })().finally(() => (done = true));
  let checks = 0;
  try {
    while (!done) {
      await assertInvariant(fx, fx.prefix);
      checks++;
    }
  } finally {
    stop = true;
    await churn;
  }
  const s = await assertInvariant(fx, fx.prefix);
  assert.ok(checks > 10, `the check ran ${checks} times during the churn`);
  assert.deepEqual([...s.instances.keys()], [survivor]);
  assert.deepEqual(s.total, new Map());
});
