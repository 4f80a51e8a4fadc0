/** Where the test runner finds its extra server variants (scripts/redis/variants.mjs). */
import assert from "node:assert/strict";
import { EXPECTED, findVariants } from "./variants.mjs";

/** A fake server binary: a shell script that prints `--version` as a real one does. */
async function fakeBinary(file: string, version: string): Promise<void> {
  await Deno.writeTextFile(file, `#!/bin/sh\necho "${version} sha=00000000:1 bits=64"\n`);
  await Deno.chmod(file, 0o755);
}

/** `<tmp>/repo` (not a git checkout) beside `<tmp>/shared/servers/`. */
async function layout(): Promise<{ tmp: string; root: string; servers: string }> {
  const tmp = await Deno.makeTempDir({ prefix: "distkit-variants-" });
  const root = `${tmp}/repo`;
  const servers = `${tmp}/shared/servers`;
  await Deno.mkdir(root, { recursive: true });
  await Deno.mkdir(`${servers}/valkey`, { recursive: true });
  await Deno.mkdir(`${servers}/empty`, { recursive: true });
  await Deno.mkdir(`${servers}/default`, { recursive: true });
  // A Valkey install copied without its symlinks: redis-server is a text file, not a binary.
  await fakeBinary(`${servers}/valkey/valkey-server`, "Valkey server v=8.0.1");
  await fakeBinary(`${servers}/valkey/valkey-cli`, "valkey-cli 8.0.1");
  await Deno.writeTextFile(`${servers}/valkey/redis-server`, "valkey-server");
  await fakeBinary(`${servers}/default/redis-server`, "Redis server v=7.0.15");
  await fakeBinary(`${servers}/default/redis-cli`, "redis-cli 7.0.15");
  return { tmp, root, servers };
}

Deno.test("server variants: found in ../shared/servers by --version; the missing and the default's reported as skipped", async () => {
  const { tmp, root, servers } = await layout();
  try {
    const found = findVariants({
      root,
      env: {},
      defaultServer: `${servers}/default/redis-server`,
    });
    assert.deepEqual(found.variants, [{
      name: "valkey-8.0",
      version: "8.0.1",
      redisServer: `${servers}/valkey/valkey-server`,
      redisCli: `${servers}/valkey/valkey-cli`,
      dir: `${servers}/valkey`,
    }]);
    const skipped = Object.fromEntries(found.skipped.map((s) => [s.name, s.why]));
    assert.match(skipped["redis-7.0"]!, /same version as the default server/);
    assert.match(skipped["empty"]!, /no executable redis-server or valkey-server/);
    assert.match(
      skipped["redis-7.4"]!,
      /not found: looked in .*shared\/servers; set DISTKIT_SERVERS/,
    );
    assert.ok(EXPECTED.includes("redis-7.4") && EXPECTED.includes("valkey-8.0"));
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("server variants: DISTKIT_SERVERS lists the directories (empty: none), replacing ../shared/servers", async () => {
  const { tmp, root, servers } = await layout();
  try {
    const none = findVariants({ root, env: { DISTKIT_SERVERS: "" } });
    assert.deepEqual(none.variants, []);
    assert.deepEqual(none.skipped.map((s) => s.name).sort(), [...EXPECTED].sort());
    const given = findVariants({
      root,
      env: { DISTKIT_SERVERS: ` ${servers}/default , ${servers}/valkey` },
    });
    assert.deepEqual(given.variants.map((v) => v.name), ["redis-7.0", "valkey-8.0"]);
    assert.equal(given.variants[0]!.redisCli, `${servers}/default/redis-cli`);
    assert.deepEqual(given.skipped.map((s) => s.name), ["redis-7.4"]);
    assert.match(given.skipped[0]!.why, /not in DISTKIT_SERVERS=/);
    assert.match(none.skipped[0]!.why, /DISTKIT_SERVERS is empty/);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
