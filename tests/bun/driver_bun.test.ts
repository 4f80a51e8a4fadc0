/**
 * The Bun driver (store/driver_bun.ts) on the suite's standalone server (`REDIS_URL`), through
 * Bun's own `RedisClient`: run with `bun test ./tests/bun/`. Written against `node:test` (which
 * Bun implements) and `globalThis.Bun`, so that `deno check` and `deno lint` read it too; Deno's
 * test run leaves tests/bun/ out (deno.json `test.exclude`).
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import process from "node:process";
import { test } from "node:test";
import { ServerReplyError } from "../../store/driver.ts";
import { BunDriver, type BunRedisClientLike, isBunRedisClient } from "../../store/driver_bun.ts";

/** Bun's `RedisClient` constructor, as far as these tests use it. */
type RedisClientClass = new (url: string) => BunRedisClientLike;
const Bun = (globalThis as { Bun?: { RedisClient: RedisClientClass } }).Bun;
const REDIS_URL = process.env.REDIS_URL;
const skip = Bun === undefined
  ? "not running under Bun"
  : REDIS_URL === undefined
  ? "REDIS_URL is not set"
  : false;

const INCRBY = "return redis.call('INCRBY', KEYS[1], ARGV[1])";

function connect(): BunRedisClientLike {
  return new Bun!.RedisClient(REDIS_URL!);
}

/** Runs `fn` with a client and a driver, both closed afterwards. */
async function withDriver(
  fn: (t: { client: BunRedisClientLike; driver: BunDriver; prefix: string }) => Promise<void>,
): Promise<void> {
  const client = connect();
  const driver = new BunDriver(client);
  try {
    await fn({ client, driver, prefix: `bun-${randomUUID()}` });
  } finally {
    await driver.close();
    client.close();
  }
}

async function rejectsWithReply(p: Promise<unknown>, text: string | RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof ServerReplyError, `not a ServerReplyError: ${e}`);
    if (typeof text === "string") assert.equal(e.message, text);
    else assert.match(e.message, text);
    return true;
  });
}

async function waitFor(cond: () => boolean | Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

test("isBunRedisClient() tells Bun's client from others", { skip }, () => {
  const client = connect();
  try {
    assert.equal(isBunRedisClient(client), true);
    assert.equal(isBunRedisClient({ sendCommand() {}, evalSha() {} }), false);
    assert.equal(isBunRedisClient({ customCommand() {}, invokeScript() {}, close() {} }), false);
  } finally {
    client.close();
  }
});

test(
  "BunDriver runs EVAL and EVALSHA, and reports NOSCRIPT after SCRIPT FLUSH",
  { skip },
  () =>
    withDriver(async ({ client, driver, prefix }) => {
      assert.equal(driver.name, "bun");
      assert.equal(driver.isCluster, false);
      assert.equal(driver.pubsub, "plain");
      const sha = String(await client.send("SCRIPT", ["LOAD", INCRBY]));
      const key = `${prefix}:n`;
      assert.equal(await driver.evalSha(sha, [key], ["2"]), 2);
      assert.equal(await driver.eval(INCRBY, [key], ["3"]), 5);
      await client.send("SCRIPT", ["FLUSH"]);
      await assert.rejects(driver.evalSha(sha, [key], ["1"]), (e: unknown) => {
        assert.ok(e instanceof ServerReplyError && e.isNoScript, String(e));
        return true;
      });
      assert.equal(await driver.eval(INCRBY, [key], ["1"]), 6);
      assert.equal(await driver.evalSha(sha, [key], ["1"]), 7);
    }),
);

test(
  "BunDriver reports error replies by their text",
  { skip },
  () =>
    withDriver(async ({ driver, prefix }) => {
      const k = [`${prefix}:e`];
      await rejectsWithReply(
        driver.eval("return redis.error_reply('DISTKIT_OVERFLOW k: adding 1')", k, []),
        "DISTKIT_OVERFLOW k: adding 1",
      );
      await rejectsWithReply(driver.eval("error('plain')", k, []), /^ERR .*plain/);
      await rejectsWithReply(driver.eval("return redis.error_reply('boom x')", k, []), "boom x");
      // Nested in an array: its text, as every driver gives it.
      assert.deepEqual(await driver.eval("return {1, redis.error_reply('X y')}", k, []), [
        1,
        "X y",
      ]);
    }),
);

test(
  "BunDriver returns integers exactly to ±(2^53−1), and one reply shape",
  { skip },
  () =>
    withDriver(async ({ driver, prefix }) => {
      const key = `${prefix}:i`;
      const max = Number.MAX_SAFE_INTEGER;
      assert.equal(await driver.eval(INCRBY, [key], [String(max)]), max);
      assert.equal(await driver.eval(INCRBY, [key], [String(-2 * max)]), -max);
      const k = [key];
      assert.equal(await driver.eval("return nil", k, []), null);
      assert.equal(await driver.eval("return false", k, []), null);
      assert.equal(await driver.eval("return true", k, []), 1);
      assert.equal(await driver.eval("return ''", k, []), "");
      assert.equal(await driver.eval("return redis.status_reply('OK')", k, []), "OK");
      assert.deepEqual(await driver.eval("return {}", k, []), []);
      assert.deepEqual(await driver.eval("return {1, 'a', {2, 'b', {}}, false}", k, []), [
        1,
        "a",
        [2, "b", []],
        null,
      ]);
      assert.deepEqual(await driver.eval("return {ARGV[1]}", k, ["ü x"]), ["ü x"]);
    }),
);

test(
  "BunDriver delivers messages to every listener until each unsubscribes",
  { skip },
  () =>
    withDriver(async ({ client, driver, prefix }) => {
      const channels = [`${prefix}:a`, `${prefix}:b`];
      const got: string[] = [];
      const subs = await Promise.all(
        channels.map((ch) => driver.subscribe(ch, (m) => got.push(`1 ${ch} ${m}`))),
      );
      const second = await driver.subscribe(channels[0]!, (m) => got.push(`2 ${channels[0]} ${m}`));
      for (const ch of channels) assert.equal(await client.send("PUBLISH", [ch, "hi"]), 1);
      await waitFor(() => got.length >= 3, "three messages");
      assert.deepEqual(
        [...got].sort(),
        [`1 ${channels[0]} hi`, `1 ${channels[1]} hi`, `2 ${channels[0]} hi`].sort(),
      );
      got.length = 0;
      await subs[0]!();
      assert.equal(await client.send("PUBLISH", [channels[0]!, "again"]), 1);
      await waitFor(() => got.length >= 1, "the second listener's message");
      assert.deepEqual(got, [`2 ${channels[0]} again`]);
      await second();
      await subs[1]!();
      for (const ch of channels) assert.equal(await client.send("PUBLISH", [ch, "gone"]), 0);
    }),
);

test(
  "BunDriver.close() closes its subscriber; a later subscription opens another",
  { skip },
  () =>
    withDriver(async ({ client, driver, prefix }) => {
      const ch = `${prefix}:c`;
      const subscribers = async () =>
        Number((await client.send("PUBSUB", ["NUMSUB", ch]) as unknown[])[1]);
      const off = await driver.subscribe(ch, () => {});
      assert.equal(await subscribers(), 1);
      await driver.close();
      await waitFor(async () => await subscribers() === 0, "the subscriber to go");
      await off(); // after close: a no-op
      const off2 = await driver.subscribe(ch, () => {});
      assert.equal(await subscribers(), 1);
      await off2();
      assert.equal(await subscribers(), 0);
    }),
);

test(
  "BunDriver: closing the user's client ends the driver and closes its subscriber",
  { skip },
  async () => {
    const admin = connect();
    const client = connect();
    const driver = new BunDriver(client);
    let ended = 0;
    let theirs = 0;
    try {
      client.onclose = () => void theirs++;
      driver.onEnd(() => void ended++);
      const ch = `bun-${randomUUID()}:c`;
      await driver.subscribe(ch, () => {});
      assert.equal(driver.isOpen(), true);
      client.close();
      await waitFor(() => ended === 1, "the end");
      assert.equal(theirs, 1, "the user's own onclose still runs");
      assert.equal(driver.isOpen(), false);
      const numsub = async () =>
        Number((await admin.send("PUBSUB", ["NUMSUB", ch]) as unknown[])[1]);
      await waitFor(async () => await numsub() === 0, "the subscriber to go");
      await assert.rejects(driver.subscribe(ch, () => {}), /closed/);
      await assert.rejects(driver.eval("return 1", [], []), (e: unknown) => {
        assert.ok(!(e instanceof ServerReplyError), `a transport failure, not ${e}`);
        return true;
      });
    } finally {
      await driver.close();
      admin.close();
    }
  },
);

test("BunDriver: a process that subscribed exits once its client is closed", { skip }, async () => {
  const driverUrl = new URL("../../store/driver_bun.ts", import.meta.url).href;
  const code = `
    import { BunDriver } from ${JSON.stringify(driverUrl)};
    const client = new Bun.RedisClient(process.env.REDIS_URL);
    const driver = new BunDriver(client);
    await driver.subscribe("exit-test", () => {});
    client.close();
    console.log("done");
  `;
  const { spawn } = await import("node:child_process");
  const child = spawn(process.execPath, ["-e", code], {
    env: { ...process.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (d: unknown) => output += String(d));
  child.stderr.on("data", (d: unknown) => output += String(d));
  const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
  const code_ = await new Promise<number | null>((r) =>
    child.on("close", (c: number | null) => r(c))
  );
  clearTimeout(timer);
  assert.equal(code_, 0, output);
  assert.match(output, /done/);
});

test("BunDriver subscribes again after its connection was killed", { skip }, async () => {
  // A server of this test's own: it kills every pubsub connection on it.
  const { spawn } = await import("node:child_process");
  const { createServer } = await import("node:net");
  const port = await new Promise<number>((resolve) => {
    const srv = createServer().listen(0, "127.0.0.1", () => {
      const p = (srv.address() as { port: number }).port;
      srv.close(() => resolve(p));
    });
  });
  const server = spawn(process.env.DISTKIT_REDIS_SERVER || "redis-server", [
    ...["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
  ], { stdio: "ignore" });
  const url = `redis://127.0.0.1:${port}`;
  const admin = new Bun!.RedisClient(url);
  const client = new Bun!.RedisClient(url);
  const driver = new BunDriver(client);
  try {
    await waitFor(() => admin.send("PING", []).then(() => true, () => false), "the server");
    await client.send("PING", []);
    const got: string[] = [];
    const off = await driver.subscribe("k", (m) => got.push(m));
    assert.equal(await admin.send("CLIENT", ["KILL", "TYPE", "pubsub"]), 1);
    await waitFor(
      async () => Number(await admin.send("PUBLISH", ["k", "x"])) === 1,
      "resubscribed",
    );
    await waitFor(() => got.length > 0, "the message");
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(got, ["x"], "once, not once per listener Bun kept");
    await off();
    assert.equal(await admin.send("PUBLISH", ["k", "y"]), 0);
  } finally {
    await driver.close();
    client.close();
    admin.close();
    server.kill("SIGKILL");
  }
});
