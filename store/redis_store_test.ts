import assert from "node:assert/strict";
import { COUNTER_INC } from "../counter/_scripts.ts";
import { ClosedError, InvalidArgumentError } from "../core/errors.ts";
import { type EvalOptions, RedisStore } from "./redis_store.ts";

/** A client that answers every EVALSHA with 1 and records the keys it was sent. */
function fakeClient(): { client: ConstructorParameters<typeof RedisStore>[0]; sent: string[] } {
  const sent: string[] = [];
  const client = {
    evalSha: (_sha: string, o: EvalOptions) => {
      sent.push(...o.keys);
      return Promise.resolve(1);
    },
    eval: () => Promise.reject(new Error("not expected")),
    sSubscribe: () => Promise.resolve(),
    sUnsubscribe: () => Promise.resolve(),
  };
  return { client, sent };
}

Deno.test("RedisStore loads its code on first call: calls made before close() are sent, in order; later ones get ClosedError", async () => {
  const { client, sent } = fakeClient();
  const store = new RedisStore(client, { batch: false });
  const early = [store.run(COUNTER_INC, ["a"], [1]), store.run(COUNTER_INC, ["b"], [1])];
  const closing = store.close();
  const late = assert.rejects(store.run(COUNTER_INC, ["c"], [1]), ClosedError);
  assert.deepEqual(await Promise.all(early), [1, 1]);
  await late;
  await closing;
  assert.deepEqual(sent, ["a", "b"]);
  await assert.rejects(store.run(COUNTER_INC, ["d"], [1]), ClosedError);
  await assert.rejects(store.subscribe("ch", () => {}), ClosedError);
  assert.deepEqual(sent, ["a", "b"]);
});

Deno.test("RedisStore validates its arguments at construction and, closed before any call, sends nothing", async () => {
  const { client, sent } = fakeClient();
  assert.throws(() => new RedisStore({} as typeof client), InvalidArgumentError);
  assert.throws(() => new RedisStore(client, { commandTimeoutMs: -1 }), InvalidArgumentError);
  const store = new RedisStore(client);
  assert.equal(store.client, client);
  assert.equal(store.isCluster, false);
  await store.close();
  await assert.rejects(store.run(COUNTER_INC, ["a"], [1]), ClosedError);
  assert.deepEqual(sent, []);
  const open = new RedisStore(client);
  assert.equal(await open.run(COUNTER_INC, ["b"], [1]), 1);
  assert.equal(await open.run(COUNTER_INC, ["c"], [1]), 1);
  assert.deepEqual(sent, ["b", "c"]);
  await open.close();
});
