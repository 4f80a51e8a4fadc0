/**
 * Smoke test of the built npm package (npm/, linked as node_modules/distkit by
 * scripts/build_npm.mjs). One file for both runners: `node --test tests/npm/` and
 * `bun test tests/npm/` (Bun implements node:test). Against Redis when REDIS_URL /
 * REDIS_CLUSTER_NODES are set.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { test } from "node:test";

// The built package by name (node_modules/distkit -> npm/), so its exports map is what resolves.
// A computed specifier keeps `deno check`, which does not know this name, out of it.
const PACKAGE = "distkit";
const distkit = await import(PACKAGE);

const REDIS_URL = process.env.REDIS_URL;
const CLUSTER_NODES = process.env.REDIS_CLUSTER_NODES;
const runtime = typeof globalThis.Bun === "undefined" ? "node" : "bun";
const manifest = JSON.parse(readFileSync(new URL("../../npm/package.json", import.meta.url)));
const has = (...names) => names.every((n) => typeof distkit[n] === "function");
const hasCounters = has("StrictCounter", "LaxCounter");
const hasFeatures = has("StrictInstanceAwareCounter", "Mutex", "RateLimiter", "RateLimit");

function prefix() {
  return `npm-${runtime}-${randomUUID()}`;
}

test("the package resolves to the built JavaScript", () => {
  const resolved = import.meta.resolve(PACKAGE);
  assert.match(resolved, /\/npm\/mod\.js$/);
});

test("every subpath of the exports map imports", async () => {
  const subpaths = Object.keys(manifest.exports);
  assert.ok(subpaths.includes("."));
  for (const sub of subpaths) {
    const mod = await import(sub === "." ? PACKAGE : `${PACKAGE}/${sub.slice(2)}`);
    assert.equal(typeof mod, "object", `${PACKAGE}${sub.slice(1)}`);
  }
});

test("errors carry stable codes and names", () => {
  const err = new distkit.InvalidKeyError("Key must not be empty");
  assert.ok(err instanceof distkit.DistkitError);
  assert.ok(err instanceof Error);
  assert.equal(err.code, "INVALID_KEY");
  assert.equal(err.name, "InvalidKeyError");
});

test("validateKey accepts any non-empty string up to 255 bytes", () => {
  assert.equal(distkit.validateKey("user-42"), "user-42");
  assert.equal(distkit.validateKey("a:b{c}"), "a:b{c}");
  assert.throws(() => distkit.validateKey(""), distkit.InvalidKeyError);
  assert.throws(() => distkit.validateKey("x".repeat(256)), distkit.InvalidKeyError);
});

test("Comparator matches", () => {
  assert.equal(distkit.Comparator.ge(1).matches(2), true);
  assert.equal(distkit.Comparator.lt(1).matches(2), false);
  assert.equal(distkit.Comparator.eq(3).matches(3), true);
});

test("MemoryStore is disposable", async () => {
  const store = new distkit.MemoryStore();
  assert.equal(typeof store[Symbol.asyncDispose], "function");
  await store[Symbol.asyncDispose]();
});

test("StrictCounter on MemoryStore", { skip: !hasCounters && "not exported" }, async () => {
  const counter = new distkit.StrictCounter({ prefix: prefix(), store: new distkit.MemoryStore() });
  try {
    assert.equal(await counter.inc("a", 2), 2);
    assert.equal(await counter.dec("a"), 1);
    assert.equal(await counter.set("b", 7), 7);
    const r = await counter.incIf("b", distkit.Comparator.gt(5), 1);
    assert.equal(r.matched, true);
    assert.equal(r.value, 8);
    assert.equal(await counter.get("b"), 8);
    await assert.rejects(counter.inc(""), distkit.InvalidKeyError);
  } finally {
    await counter.close();
  }
});

test("LaxCounter on MemoryStore", { skip: !hasCounters && "not exported" }, async () => {
  const store = new distkit.MemoryStore();
  const lax = new distkit.LaxCounter({ prefix: prefix(), store, allowedLagMs: 5 });
  const strict = new distkit.StrictCounter({ prefix: lax.prefix, store });
  try {
    await lax.inc("hits");
    await lax.inc("hits", 2);
    assert.equal(await lax.get("hits"), 3);
    await lax.flush();
    assert.equal(await strict.get("hits"), 3);
  } finally {
    await lax.close();
    await strict.close();
  }
});

/** Instance-aware counter, mutex and rate limiter on `store`, through their own entry points. */
async function featuresOn(store) {
  const [icounter, locks, ratelimit] = await Promise.all(
    ["icounter", "locks", "ratelimit"].map((sub) => import(`${PACKAGE}/${sub}`)),
  );
  const p = prefix();
  const a = new icounter.StrictInstanceAwareCounter({ prefix: p, store });
  const b = new icounter.StrictInstanceAwareCounter({ prefix: p, store });
  try {
    await a.inc("running", 2);
    await b.inc("running", 3);
    await b.close({ leave: true });
    assert.equal((await a.get("running")).total, 2);
  } finally {
    await a.close({ leave: true });
  }

  const mutex = new locks.Mutex({ key: p, store });
  const guard = await mutex.lock();
  assert.equal(guard.state, "acquired");
  assert.equal(typeof guard.fencingToken, "number");
  assert.equal(await mutex.tryLock(), null);
  assert.equal(await guard.release(), "released");

  const rl = new ratelimit.RateLimiter({ store, windowSizeSeconds: 1 });
  try {
    const limit = ratelimit.RateLimit.perSecond(2);
    const kinds = [];
    for (let i = 0; i < 3; i++) kinds.push((await rl.redis.absolute.inc(p, limit)).kind);
    assert.deepEqual(kinds, ["allowed", "allowed", "rejected"]);
    // Both store-backed providers load their code on first use (a dynamic import of the build).
    assert.equal((await rl.hybrid.suppressed.inc(p, limit)).kind, "allowed");
  } finally {
    await rl.close();
  }
}

test("icounter, locks and ratelimit on MemoryStore", {
  skip: !hasFeatures && "not exported",
}, async () => {
  const store = new distkit.MemoryStore();
  try {
    await featuresOn(store);
  } finally {
    await store[Symbol.asyncDispose]();
  }
});

async function withRedis(connect, fn) {
  const client = await connect();
  try {
    await fn(client);
  } finally {
    await client.close();
  }
}

async function connectStandalone() {
  const { createClient } = await import("redis");
  return await createClient({ url: REDIS_URL }).on("error", () => {}).connect();
}

async function connectCluster() {
  const { createCluster } = await import("redis");
  const rootNodes = CLUSTER_NODES.split(",").map((n) => ({ url: `redis://${n}` }));
  return await createCluster({ rootNodes }).on("error", () => {}).connect();
}

async function everythingAgainst(client) {
  await countersAgainst(client);
  if (hasFeatures) {
    const store = new distkit.RedisStore(client);
    try {
      await featuresOn(store);
    } finally {
      await store[Symbol.asyncDispose]();
    }
  }
}

async function countersAgainst(client) {
  const p = prefix();
  const strict = new distkit.StrictCounter({ prefix: p, store: client });
  const lax = new distkit.LaxCounter({ prefix: p, store: client, allowedLagMs: 5 });
  try {
    assert.equal(await strict.inc("a", 5), 5);
    await lax.inc("a", 2);
    await lax.flush();
    assert.equal(await strict.get("a"), 7);
    assert.deepEqual(await strict.incAll([["x", 1], ["y", 2]]), [["x", 1], ["y", 2]]);
    await strict.clear();
  } finally {
    await lax.close();
    await strict.close();
  }
}

test("every feature on a standalone Redis", {
  skip: (!REDIS_URL && "REDIS_URL not set") || (!hasCounters && "not exported"),
}, () => withRedis(connectStandalone, everythingAgainst));

test("every feature on a Redis cluster", {
  skip: (!CLUSTER_NODES && "REDIS_CLUSTER_NODES not set") || (!hasCounters && "not exported"),
}, () => withRedis(connectCluster, everythingAgainst));
