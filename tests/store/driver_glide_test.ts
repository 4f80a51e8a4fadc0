/**
 * The GLIDE driver (store/driver_glide.ts) on the suite's standalone server and cluster, through
 * real GLIDE 2 clients: scripts, NOSCRIPT, error replies, reply shapes, integer edges, pub/sub,
 * closing. Names carry the server variant, so variant runs (Redis 7.4, Valkey 8.0) select them.
 */
import assert from "node:assert/strict";
import { ServerReplyError } from "../../store/driver.ts";
import { GlideDriver, glideReplyText, isGlideClient } from "../../store/driver_glide.ts";
import { type AnyGlideClient, connectGlide, killNamed, onEveryPrimary } from "../_support/glide.ts";
import { available, serverVariant, uniquePrefix } from "../_support/stores.ts";
import { waitFor } from "../_support/wait.ts";

type Kind = "standalone" | "cluster";
const KINDS: Kind[] = ["standalone", "cluster"];

/** Registers `fn` on each kind, with a client and a driver that are closed afterwards. */
function glideTest(
  name: string,
  fn: (t: { client: AnyGlideClient; driver: GlideDriver; kind: Kind; prefix: string }) => Promise<
    void
  >,
): void {
  const variant = serverVariant();
  for (const kind of KINDS) {
    const ok = available(kind);
    Deno.test({
      name: `GlideDriver ${name} [${variant === undefined ? kind : `${kind} ${variant}`}]${
        ok ? "" : " (no Redis)"
      }`,
      ignore: !ok,
      fn: async () => {
        const client = await connectGlide(kind);
        const driver = new GlideDriver(client);
        try {
          await fn({ client, driver, kind, prefix: uniquePrefix(name) });
        } finally {
          await driver.close();
          client.close();
        }
      },
    });
  }
}

/** Rejects with a ServerReplyError whose text is exactly `text` (or matches it). */
async function rejectsWithReply(p: Promise<unknown>, text: string | RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof ServerReplyError, `not a ServerReplyError: ${e}`);
    if (typeof text === "string") assert.equal(e.message, text);
    else assert.match(e.message, text);
    return true;
  });
}

const INCRBY = "return redis.call('INCRBY', KEYS[1], ARGV[1])";

Deno.test("glideReplyText() restores the server's reply from GLIDE's rendering", () => {
  const cases: [string, string | undefined][] = [
    [
      "An error was signalled by the server: - NoScriptError: No matching script.",
      "NOSCRIPT No matching script.",
    ],
    [
      "An error was signalled by the server: - ResponseError: user_script:1: x",
      "ERR user_script:1: x",
    ],
    [
      "An error was signalled by the server: - CrossSlot: Keys in request",
      "CROSSSLOT Keys in request",
    ],
    ["An error was signalled by the server:- NoScriptError", "NOSCRIPT"],
    ["DISTKIT_OVERFLOW: k: adding 1", "DISTKIT_OVERFLOW k: adding 1"],
    ["WRONGTYPE: Operation against a key", "WRONGTYPE Operation against a key"],
    ["BUSY: Unknown extension error encountered", "BUSY"],
    ["boom: x", "boom x"],
    ["Connection refused (os error 111)", undefined],
    ["An error was signalled by the server: - Unheard: x", undefined],
  ];
  for (const [glide, reply] of cases) assert.equal(glideReplyText(glide), reply, glide);
});

Deno.test("isGlideClient() tells GLIDE's shape from other clients'", () => {
  assert.equal(isGlideClient({ customCommand() {}, invokeScript() {}, close() {} }), true);
  assert.equal(isGlideClient({ sendCommand() {}, evalSha() {}, eval() {} }), false);
  assert.equal(isGlideClient({ send() {}, close() {} }), false);
  assert.equal(isGlideClient(null), false);
});

glideTest("runs EVAL and EVALSHA, and reports NOSCRIPT after SCRIPT FLUSH", async (t) => {
  const { driver, client, prefix } = t;
  assert.equal(driver.name, "valkey-glide");
  assert.equal(driver.isCluster, t.kind === "cluster");
  const sha = String(await onEveryPrimary(client, ["SCRIPT", "LOAD", INCRBY]).then((r) => r[0]));
  const key = `${prefix}:n`;
  assert.equal(await driver.evalSha(sha, [key], ["2"]), 2);
  assert.equal(await driver.eval(INCRBY, [key], ["3"]), 5);
  await onEveryPrimary(client, ["SCRIPT", "FLUSH"]);
  await assert.rejects(driver.evalSha(sha, [key], ["1"]), (e: unknown) => {
    assert.ok(e instanceof ServerReplyError);
    assert.ok(e.isNoScript, e.message);
    assert.match(e.message, /^NOSCRIPT /);
    return true;
  });
  assert.equal(await driver.eval(INCRBY, [key], ["1"]), 6); // EVAL caches it again
  assert.equal(await driver.evalSha(sha, [key], ["1"]), 7);
});

glideTest("routes by the first key on every slot (no MOVED)", async ({ driver, prefix }) => {
  const keys = Array.from({ length: 40 }, (_, i) => `{${prefix}-${i}}:k`);
  const replies = await Promise.all(keys.map((k) => driver.eval(INCRBY, [k], ["1"])));
  assert.deepEqual(replies, keys.map(() => 1));
});

glideTest("reports error replies by their text, whatever GLIDE makes of them", async (t) => {
  const { driver, prefix } = t;
  const key = `${prefix}:e`;
  await rejectsWithReply(
    driver.eval("return redis.error_reply('DISTKIT_OVERFLOW k: adding 1 to 9007199254740991')", [
      key,
    ], []),
    "DISTKIT_OVERFLOW k: adding 1 to 9007199254740991",
  );
  await rejectsWithReply(
    driver.eval("return redis.error_reply('DISTKIT_ARGUMENT bad op')", [key], []),
    "DISTKIT_ARGUMENT bad op",
  );
  await rejectsWithReply(driver.eval("error('plain')", [key], []), /^ERR .*plain/);
  await rejectsWithReply(
    driver.eval("redis.call('SET', KEYS[1], 'x'); return redis.call('LPUSH', KEYS[1], 1)", [
      key,
    ], []),
    /^(WRONGTYPE|ERR) .*(wrong kind|WRONGTYPE)/,
  );
  await rejectsWithReply(driver.eval("return redis.error_reply('boom x')", [key], []), "boom x");
  // Nested in an array: GLIDE fails the whole call with it (other clients return its text).
  await rejectsWithReply(driver.eval("return {1, redis.error_reply('X y')}", [key], []), "X y");
  if (t.kind === "cluster") {
    await rejectsWithReply(
      driver.eval("return 1", [`{${prefix}a}`, `{${prefix}b}`], []),
      /^CROSSSLOT /,
    );
  }
});

glideTest("returns integers exactly to ±(2^53−1)", async ({ driver, prefix }) => {
  const key = `${prefix}:i`;
  const max = Number.MAX_SAFE_INTEGER;
  assert.equal(await driver.eval(INCRBY, [key], [String(max)]), max);
  assert.equal(await driver.eval(INCRBY, [key], [String(-max)]), 0);
  assert.equal(await driver.eval(INCRBY, [key], [String(-max)]), -max);
  assert.equal(await driver.eval(INCRBY, [key], ["1"]), -max + 1);
  assert.equal(await driver.eval("return redis.call('GET', KEYS[1])", [key], []), String(-max + 1));
  assert.equal(await driver.eval("return 0", [key], []), 0);
});

glideTest("returns nil, false, strings and nested arrays in one shape", async (t) => {
  const { driver, prefix } = t;
  const k = [`${prefix}:s`];
  assert.equal(await driver.eval("return nil", k, []), null);
  assert.equal(await driver.eval("return false", k, []), null);
  assert.equal(await driver.eval("return true", k, []), 1);
  assert.equal(await driver.eval("return ''", k, []), "");
  assert.equal(await driver.eval("return 'h\\195\\169llo'", k, []), "héllo");
  assert.equal(await driver.eval("return redis.status_reply('OK')", k, []), "OK");
  assert.equal(await driver.eval("return 3.7", k, []), 3); // Lua numbers reply as integers
  assert.deepEqual(await driver.eval("return {}", k, []), []);
  assert.deepEqual(await driver.eval("return {1, 'a', {2, 'b', {}}, false}", k, []), [
    1,
    "a",
    [2, "b", []],
    null,
  ]);
  assert.deepEqual(await driver.eval("return {ARGV[1], ARGV[2]}", k, ["x y", "ü"]), [
    "x y",
    "ü",
  ]);
});

glideTest("delivers messages to every listener until each unsubscribes", async (t) => {
  const { driver, client, prefix, kind } = t;
  assert.equal(driver.pubsub, kind === "cluster" ? "sharded" : "plain");
  const channels = [`${prefix}:a`, `{${prefix}x}:b`, `{${prefix}y}:c`];
  const got: string[] = [];
  const subs = await Promise.all(
    channels.map((ch) => driver.subscribe!(ch, (m) => got.push(`1 ${ch} ${m}`))),
  );
  const second = await driver.subscribe!(channels[0]!, (m) => got.push(`2 ${channels[0]} ${m}`));
  const publish = (ch: string, m: string) =>
    kind === "cluster"
      ? client.customCommand(["SPUBLISH", ch, m], { route: { type: "primarySlotKey", key: ch } })
      : client.customCommand(["PUBLISH", ch, m]);
  for (const ch of channels) assert.equal(await publish(ch, "hi"), 1);
  const want = [...channels.map((ch) => `1 ${ch} hi`), `2 ${channels[0]} hi`].sort();
  await waitFor(() => got.length >= want.length, { message: "four messages" });
  assert.deepEqual([...got].sort(), want);

  got.length = 0;
  await subs[0]!(); // one listener left on channels[0]: still subscribed
  assert.equal(await publish(channels[0]!, "again"), 1);
  await waitFor(() => got.length >= 1, { message: "the second listener's message" });
  assert.deepEqual(got, [`2 ${channels[0]} again`]);

  await second();
  await subs[1]!();
  await subs[2]!();
  await second(); // twice: a no-op
  for (const ch of channels) assert.equal(await publish(ch, "gone"), 0);
  got.length = 0;
  const again = await driver.subscribe!(channels[1]!, (m) => got.push(m));
  assert.equal(await publish(channels[1]!, "back"), 1);
  await waitFor(() => got.length >= 1, { message: "a message after resubscribing" });
  await again();
});

glideTest("close() closes its subscriber; a later subscription opens another", async (t) => {
  const { kind, prefix } = t;
  const name = `glide-${prefix.split("-")[0]}`;
  const client = await connectGlide(kind, { clientName: name });
  const driver = new GlideDriver(client);
  const pubsubConnections = async () => {
    const lists = await onEveryPrimary(t.client, ["CLIENT", "LIST", "TYPE", "pubsub"]);
    return lists.map(String).join("\n").split("\n").filter((l) => l.includes(` name=${name} `))
      .length;
  };
  try {
    assert.equal(await pubsubConnections(), 0);
    const unsubscribe = await driver.subscribe!(`${prefix}:c`, () => {});
    assert.ok(await pubsubConnections() >= 1);
    await driver.close();
    await waitFor(async () => await pubsubConnections() === 0, { message: "no pubsub left" });
    await unsubscribe(); // after close: a no-op
    const got: string[] = [];
    const u2 = await driver.subscribe!(`${prefix}:c`, (m) => got.push(m));
    assert.ok(await pubsubConnections() >= 1);
    await u2();
  } finally {
    await driver.close();
    client.close();
  }
});

glideTest("is subscribed again after its connection was killed (GLIDE restores it)", async (t) => {
  const { kind, prefix } = t;
  const name = `glidek-${prefix.split("-")[0]}`;
  const client = await connectGlide(kind, { clientName: name });
  const driver = new GlideDriver(client);
  const channel = `${prefix}:k`;
  const publish = () =>
    kind === "cluster"
      ? t.client.customCommand(["SPUBLISH", channel, "x"], {
        route: { type: "primarySlotKey", key: channel },
      })
      : t.client.customCommand(["PUBLISH", channel, "x"]);
  try {
    const got: string[] = [];
    const off = await driver.subscribe!(channel, (m) => got.push(m));
    const killed = await killNamed(t.client, name, "pubsub");
    assert.ok(killed >= 1, "the subscriber's connection was found");
    await waitFor(async () => Number(await publish()) === 1, { message: "the subscription back" });
    await waitFor(() => got.length >= 1, { message: "the message" });
    await off();
  } finally {
    await driver.close();
    client.close();
  }
});

glideTest("reports a closed client as closed, and its calls as transport failures", async (t) => {
  const client = await connectGlide(t.kind);
  const driver = new GlideDriver(client);
  assert.equal(driver.isOpen(), true);
  client.close();
  assert.equal(driver.isOpen(), false);
  await assert.rejects(driver.eval("return 1", [`${t.prefix}:x`], []), (e: unknown) => {
    assert.ok(!(e instanceof ServerReplyError), `a transport failure, not ${e}`);
    return true;
  });
  await assert.rejects(driver.subscribe!(`${t.prefix}:c`, () => {}), /closed/);
  await driver.close();
});

for (const kind of KINDS) {
  Deno.test({
    name: `GlideDriver: a process that subscribed exits once its client is closed [${kind}]`,
    ignore: !available(kind),
    fn: async () => {
      // The driver is not closed: its subscriber must not keep the process alive by itself.
      const code = `
        import { connectGlide } from ${
        JSON.stringify(new URL("../_support/glide.ts", import.meta.url).href)
      };
        import { GlideDriver } from ${
        JSON.stringify(new URL("../../store/driver_glide.ts", import.meta.url).href)
      };
        const client = await connectGlide(${JSON.stringify(kind)});
        const driver = new GlideDriver(client);
        await driver.subscribe("exit-test", () => {});
        client.close();
        console.log("done");
      `;
      const env: Record<string, string> = {};
      for (const name of ["REDIS_URL", "REDIS_CLUSTER_NODES"]) {
        const v = Deno.env.get(name);
        if (v !== undefined) env[name] = v;
      }
      const child = new Deno.Command(Deno.execPath(), {
        args: ["eval", "--ext=ts", code],
        cwd: new URL("../../", import.meta.url),
        env,
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
      const out = await child.output();
      clearTimeout(timer);
      const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
      assert.equal(out.code, 0, text);
      assert.match(text, /done/);
    },
  });
}
