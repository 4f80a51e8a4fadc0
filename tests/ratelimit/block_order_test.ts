/**
 * The redis and hybrid absolute limiters' block against store replies that arrive late (on a
 * loaded machine, or in a cluster, a reply can come back well after the store ran the call): the
 * store runs each call at once, in the order made; the test decides when the replies it holds
 * come back, on a clock shared by the limiter and the store.
 */
import assert from "node:assert/strict";
import { Comparator } from "../../core/comparator.ts";
import { RateLimiter } from "../../ratelimit/rate_limiter.ts";
import { MemoryStore } from "../../store/memory_store.ts";
import type { Script, Store } from "../../store/types.ts";
import { waitFor } from "../_support/wait.ts";

/**
 * A store whose replies to the calls `holds` picks (by default the hybrid syncs) the test holds
 * back until it lets them go, on a manual clock.
 */
function lateSyncs(
  holds: (script: Script, argv: readonly (string | number)[]) => boolean = (_, argv) =>
    argv.includes("sync"),
) {
  const clock = { t: 1_000 };
  const inner = new MemoryStore({ now: () => clock.t });
  const held: Array<() => void> = [];
  let onHold = () => {};
  const gate = { hold: false };
  const store = {
    isDistkitStore: true as const,
    async run(script: Script, keys: readonly string[], argv: readonly (string | number)[]) {
      const reply = inner.run(script, keys, argv); // runs now, in the order made
      if (gate.hold && holds(script, argv)) {
        await new Promise<void>((r) => {
          held.push(r);
          onHold();
        });
      }
      return await reply;
    },
    subscribe: inner.subscribe.bind(inner),
    close: () => inner.close(),
  } as unknown as Store;
  /** Lets every held reply go (the test then awaits the calls that get them). */
  const release = () => {
    gate.hold = false;
    for (const r of held.splice(0)) r();
  };
  /** Resolves once `n` replies are held. */
  const heldCount = (n: number) =>
    new Promise<void>((resolve) => {
      onHold = () => held.length >= n && resolve();
      onHold();
    });
  const rl = new RateLimiter({
    store,
    windowSizeSeconds: 10,
    syncIntervalMs: 60_000, // no background sync: the test makes each one
    now: () => clock.t,
  });
  return { clock, gate, release, heldCount, rl, inner };
}

/**
 * The block still ends where the caller was first told: rejected with a `retryAfterMs` up to `end`
 * (the clock's time), then admitted once the caller honours it.
 */
async function assertEndsAt(
  l: RateLimiter["redis"]["absolute"] | RateLimiter["hybrid"]["absolute"],
  clock: { t: number },
  end: number,
  why: string,
): Promise<void> {
  const during = await l.inc("k", 100);
  assert.equal(during.kind, "rejected");
  if (during.kind !== "rejected") return;
  assert.equal(during.retryAfterMs, end - clock.t, why);
  clock.t = end; // the caller honours the first answer
  assert.equal((await l.inc("k", 100)).kind, "allowed");
}

Deno.test("hybrid block: a sync the store ran before the block, answered after it, neither lifts the block nor changes its hint", async () => {
  const { clock, gate, release, heldCount, rl } = lateSyncs();
  await using _ = rl;
  const l = rl.hybrid.absolute;
  assert.equal((await l.inc("k", 100)).kind, "allowed"); // holds a reservation
  gate.hold = true;
  const read = l.get("k"); // the store runs it now (renews the reservation); its reply is held
  await heldCount(1);
  clock.t = 1_010;
  await l.block("k", 400);
  clock.t = 1_050;
  release();
  assert.equal(await read, 1);
  const d = await l.inc("k", 100);
  assert.equal(d.kind, "rejected", "the reservation the late reply carries is not usable");
  if (d.kind !== "rejected") return;
  assert.equal(d.retryAfterMs, 360, "the block's end, not the late reply's hint");
  assert.equal(d.resetMs, 360);
  clock.t = 1_410;
  assert.equal((await l.inc("k", 100)).kind, "allowed");
});

Deno.test("hybrid block: a sync answered late during the block never moves its end past the one already told", async () => {
  const { clock, gate, release, heldCount, rl } = lateSyncs();
  await using _ = rl;
  const l = rl.hybrid.absolute;
  assert.equal((await l.inc("k", 100)).kind, "allowed");
  await l.block("k", 400); // ends at 1 400
  const d = await l.inc("k", 100);
  assert.equal(d.kind, "rejected");
  if (d.kind !== "rejected") return;
  assert.equal(d.retryAfterMs, 400);
  clock.t = 1_010;
  gate.hold = true;
  const read = l.get("k"); // run at 1 010: "blocked for 390 ms more"
  await heldCount(1);
  clock.t = 1_200; // … answered 190 ms later
  release();
  assert.equal(await read, 1);
  await assertEndsAt(l, clock, 1_400, "still the block's end, not 1 200 + 390");
});

Deno.test("hybrid block: a block first learnt from a late reply lasts until the latest the store's can end", async () => {
  const { clock, gate, release, heldCount, rl, inner } = lateSyncs();
  await using _ = rl;
  await using other = new RateLimiter({ store: inner, windowSizeSeconds: 10, now: () => clock.t });
  const l = rl.hybrid.absolute;
  assert.equal((await l.inc("k", 100)).kind, "allowed");
  await other.hybrid.absolute.block("k", 400); // another instance: the store's block ends at 1 400
  clock.t = 1_010;
  gate.hold = true;
  const read = l.get("k"); // run at 1 010: "blocked for 390 ms more"
  await heldCount(1);
  clock.t = 1_200; // … answered 190 ms later: the store's block ends between 1 400 and 1 590
  release();
  assert.equal(await read, 1);
  const d = await l.inc("k", 100);
  assert.equal(d.kind, "rejected");
  if (d.kind !== "rejected") return;
  assert.equal(d.retryAfterMs, 390, "until 1 590: honoured, never refused by the store");
  clock.t = 1_590;
  assert.equal((await l.inc("k", 100)).kind, "allowed");
});

Deno.test("hybrid block: the blocking instance gives its reservation back once idle, so the capacity is the fleet's when the block ends", async () => {
  const store = new MemoryStore();
  const options = { store, windowSizeSeconds: 1, syncIntervalMs: 5 };
  await using a = new RateLimiter(options);
  await using b = new RateLimiter(options);
  assert.equal((await a.hybrid.absolute.inc("k", 10)).kind, "allowed");
  assert.equal(await a.hybrid.absolute.get("k"), 1); // committed; a still holds a reservation
  await a.hybrid.absolute.block("k", 100);
  await new Promise((r) => setTimeout(r, 100)); // the block's own length
  // 9 of 10 are free once a holds no reservation: soon after the block, not when a's reservation
  // lapses (1 s after a's last sync, past this wait).
  await waitFor(async () => (await b.hybrid.absolute.inc("k", 10, 9)).kind === "allowed", {
    timeoutMs: 500,
    message: "b admitted 9 of 10",
  });
});

Deno.test("redis block: an inc answered late during the block never moves its end past the one already told", async () => {
  const { clock, gate, release, heldCount, rl } = lateSyncs((script, argv) =>
    script.name === "ratelimit_absolute" && !argv.includes("block")
  );
  await using _ = rl;
  const l = rl.redis.absolute;
  gate.hold = true;
  const blocked = l.block("k", 400); // the store runs it at 1 000 and answers at once: ends 1 400
  const late = l.inc("k", 100); // made meanwhile: run at 1 000, after the block; answered late
  await heldCount(1);
  await blocked;
  const d = await l.inc("k", 100); // answered from memory
  assert.equal(d.kind, "rejected");
  if (d.kind !== "rejected") return;
  assert.equal(d.retryAfterMs, 400);
  clock.t = 1_200;
  release();
  const r = await late;
  assert.equal(r.kind, "rejected", "the store ran it during the block");
  await assertEndsAt(l, clock, 1_400, "still the block's end, not 1 200 + 400");
});

Deno.test("redis block: an inc answered after the block ended, reporting it, does not start it again", async () => {
  const { clock, gate, release, heldCount, rl } = lateSyncs((script, argv) =>
    script.name === "ratelimit_absolute" && !argv.includes("block")
  );
  await using _ = rl;
  const l = rl.redis.absolute;
  gate.hold = true;
  const blocked = l.block("k", 400); // ends at 1 400
  const late = l.inc("k", 100); // run at 1 000, during the block
  await heldCount(1);
  gate.hold = false; // the calls from here on are answered at once
  await blocked;
  clock.t = 1_450; // the block is over (the caller told 400 ms came back)…
  assert.equal((await l.inc("k", 100)).kind, "allowed");
  release(); // …and then the late reply: "blocked for 400 ms", from 1 000
  assert.equal((await late).kind, "rejected");
  assert.equal((await l.inc("k", 100)).kind, "allowed", "not blocked again until 1 850");
});

for (const p of ["redis", "hybrid"] as const) {
  Deno.test(`${p} block: a later, shorter block replaces an earlier one, in memory as in the store`, async () => {
    const store = new MemoryStore();
    await using rl = new RateLimiter({ store, windowSizeSeconds: 1, syncIntervalMs: 5 });
    const l = rl[p].absolute;
    await l.block("k", 60_000);
    await l.block("k", 100);
    const d = await l.inc("k", 10);
    assert.equal(d.kind, "rejected");
    if (d.kind !== "rejected") return;
    assert.ok(d.retryAfterMs <= 100, `retryAfterMs ${d.retryAfterMs}`);
    await new Promise((r) => setTimeout(r, d.retryAfterMs + 5));
    assert.equal((await l.inc("k", 10)).kind, "allowed");
  });
}

Deno.test("redis block: an inc the store ran before a reset, answered after it, does not block the key again", async () => {
  const { clock, gate, release, heldCount, rl, inner } = lateSyncs((script, argv) =>
    script.name === "ratelimit_absolute" && argv.length === 3 // an inc
  );
  await using _ = rl;
  await using other = new RateLimiter({ store: inner, windowSizeSeconds: 10, now: () => clock.t });
  const l = rl.redis.absolute;
  await other.redis.absolute.block("k", 60_000); // another instance blocks the key
  gate.hold = true;
  const late = l.inc("k", 100); // the store runs it now: blocked; its reply is held
  await heldCount(1);
  gate.hold = false;
  clock.t = 1_010;
  await l.reset("k"); // lifted, fleet-wide
  release();
  assert.equal((await late).kind, "rejected", "its own answer: blocked when it ran");
  assert.equal((await l.inc("k", 100)).kind, "allowed", "the reset stands");
});

for (const p of ["local", "redis", "hybrid"] as const) {
  Deno.test(`${p} block: a matched setIf lifts the block, in memory as in the store`, async () => {
    await using rl = new RateLimiter({ store: new MemoryStore(), windowSizeSeconds: 10 });
    const l = rl[p].absolute;
    await l.block("k", 60_000);
    assert.equal((await l.inc("k", 100)).kind, "rejected");
    assert.ok((await l.setIf("k", 100, Comparator.always, 0)).matched);
    assert.equal((await l.inc("k", 100)).kind, "allowed", "the block was lifted");
  });
}
