/** store/_subscriptions.ts: one server-side subscription per channel, commands kept in order. */
import assert from "node:assert/strict";
import { Subscriptions } from "../../store/_subscriptions.ts";

/** Commands that record what was sent and settle when the test says so. */
function manual() {
  const sent: string[] = [];
  const pending: Array<{ what: string; settle: (error?: Error) => void }> = [];
  const command = (what: string) =>
    new Promise<void>((resolve, reject) => {
      sent.push(what);
      pending.push({ what, settle: (e) => (e ? reject(e) : resolve()) });
    });
  const subs = new Subscriptions({
    subscribe: (c) => command(`+${c}`),
    unsubscribe: (c) => command(`-${c}`),
  });
  const tick = () => new Promise((r) => setTimeout(r, 0));
  /** Settles the oldest pending command. */
  const next = async (error?: Error) => {
    await tick();
    const p = pending.shift();
    assert.ok(p, "a pending command");
    p.settle(error);
    await tick();
    return p.what;
  };
  return { subs, sent, pending, next, tick };
}

Deno.test("Subscriptions.add() subscribes once per channel and unsubscribes after the last", async () => {
  const { subs, sent, next } = manual();
  const got: string[] = [];
  const a = subs.add("ch", (m) => got.push(`a ${m}`));
  const b = subs.add("ch", (m) => got.push(`b ${m}`));
  assert.equal(await next(), "+ch");
  const [offA, offB] = await Promise.all([a, b]);
  subs.dispatch("ch", "1");
  subs.dispatch("other", "x");
  assert.deepEqual(got, ["a 1", "b 1"]);
  await offA();
  await offA(); // twice: a no-op
  assert.deepEqual(sent, ["+ch"]);
  const doneB = offB();
  assert.equal(await next(), "-ch");
  await doneB;
  assert.equal(subs.size, 0);
  subs.dispatch("ch", "2");
  assert.deepEqual(got, ["a 1", "b 1"]);
});

Deno.test("Subscriptions: a channel left and joined again is subscribed, commands in order", async () => {
  const { subs, sent, next, pending, tick } = manual();
  const first = subs.add("ch", () => {});
  await next();
  const off = await first;
  // Left and joined in one tick: nothing to send.
  const left = off();
  const joined = subs.add("ch", () => {});
  await left;
  const offJoined = await joined;
  assert.deepEqual(sent, ["+ch"]);
  // Left, the unsubscription on its way, then joined: it subscribes again after that.
  const leaving = offJoined();
  await tick();
  assert.deepEqual(sent, ["+ch", "-ch"]);
  const joining = subs.add("ch", () => {});
  assert.equal(await next(), "-ch");
  assert.equal(await next(), "+ch");
  await leaving;
  const off2 = await joining;
  assert.deepEqual(sent, ["+ch", "-ch", "+ch"]);
  assert.equal(subs.size, 1);
  const last = off2();
  await next();
  await last;
  assert.equal(pending.length, 0);
  assert.equal(subs.size, 0);
});

Deno.test("Subscriptions.add() rejects and forgets the listener when subscribing fails", async () => {
  const { subs, sent, next } = manual();
  const got: string[] = [];
  const a = subs.add("ch", (m) => got.push(m));
  const failed = assert.rejects(a, /refused/);
  await next(new Error("refused"));
  await failed;
  subs.dispatch("ch", "x");
  assert.equal(got.length, 0);
  assert.equal(subs.size, 0);
  const b = subs.add("ch", (m) => got.push(m)); // tries again
  await next();
  const off = (await b)();
  await next();
  await off;
  assert.deepEqual(sent, ["+ch", "+ch", "-ch"]);
});

Deno.test("Subscriptions.clear() drops every listener without a command", async () => {
  const { subs, sent, next } = manual();
  const got: string[] = [];
  const a = subs.add("ch", (m) => got.push(m));
  await next();
  const off = await a;
  subs.clear();
  subs.dispatch("ch", "x");
  await off(); // after clear: a no-op
  assert.equal(got.length, 0);
  assert.deepEqual(sent, ["+ch"]);
  assert.equal(subs.size, 0);
});
