/** The Lua directives (scripts/lua_directives.ts) and what the embedded Lua holds after them. */
import assert from "node:assert/strict";
import * as LIMITS from "../core/limits.ts";
import { LUA } from "../lua/_sources.ts";
import { expandLua, type LuaParts } from "./lua_directives.ts";

const PARTS: LuaParts = {
  fragments: { two: "-- two lines\nlocal function two() return 2 end\n" },
  constants: { A: 8, B: -3, F: 1.5, S: "x", BIG: 2 ** 53 },
};
const expand = (source: string) => expandLua("t.lua", source, PARTS);

Deno.test("expandLua() replaces an include by the fragment, indented as the directive", () => {
  const r = expand("local x = 1\nif x then\n  -- distkit:include two\n  x = two()\nend\n");
  assert.equal(
    r.source,
    "local x = 1\nif x then\n  -- two lines\n  local function two() return 2 end\n  x = two()\nend\n",
  );
  assert.deepEqual([...r.fragments], ["two"]);
  assert.deepEqual([...r.constants], []);
});

Deno.test("expandLua() declares the named constants as locals with their values", () => {
  const r = expand("-- distkit:const A\n  -- distkit:const B  \nreturn A + B");
  assert.equal(
    r.source,
    "local A = 8 -- core/limits.ts\n  local B = -3 -- core/limits.ts\nreturn A + B",
  );
  assert.equal(expand("-- distkit:const B A").source, "local B, A = -3, 8 -- core/limits.ts");
  assert.deepEqual([...expand("-- distkit:const B A").constants], ["B", "A"]);
});

Deno.test("expandLua() keeps other lines, the batch marker among them, as they are", () => {
  const text = "-- distkit:batch (see gen_lua.ts)\n-- a comment\nreturn 1 -- distkit\n";
  assert.equal(expand(text).source, text);
});

Deno.test("expandLua() fails on a directive it cannot expand, naming the file and line", () => {
  const cases: Array<[string, string]> = [
    ["-- distkit:include nope", "t.lua:1: no fragment lua/_nope.lua"],
    ["x\n-- distkit:include", "t.lua:2: 'distkit:include' takes one fragment name"],
    ["-- distkit:include two two", "t.lua:1: 'distkit:include' takes one fragment name"],
    ["-- distkit:const", "t.lua:1: 'distkit:const' takes one or more constant names"],
    ["-- distkit:const C", "t.lua:1: no constant C in core/limits.ts"],
    ["-- distkit:const toString", "t.lua:1: no constant toString in core/limits.ts"],
    ["-- distkit:const F", "t.lua:1: core/limits.ts's F is not a safe integer"],
    ["-- distkit:const S", "t.lua:1: core/limits.ts's S is not a safe integer"],
    ["-- distkit:const BIG", "t.lua:1: core/limits.ts's BIG is not a safe integer"],
    ["-- distkit:const A\n-- distkit:const A", "t.lua:2: A is declared twice"],
    ["-- distkit:inclde two", "t.lua:1: unknown directive 'distkit:inclde'"],
    ["local x = 1 -- distkit:const A", "t.lua:1: a directive must be a line of its own"],
  ];
  for (const [source, message] of cases) {
    assert.throws(() => expand(source), (e: Error) => e.message.startsWith(message), source);
  }
  const nested = { ...PARTS, fragments: { bad: "-- distkit:const A\n" } };
  assert.throws(
    () => expandLua("t.lua", "-- distkit:include bad", nested),
    { message: "lua/_bad.lua: a fragment holds no directives (they do not nest)" },
  );
});

/** The scripts' own files (not the fragments), by name. */
async function scriptFiles(): Promise<Map<string, string>> {
  const dir = new URL("../lua/", import.meta.url);
  const files = new Map<string, string>();
  for await (const e of Deno.readDir(dir)) {
    if (e.isFile && e.name.endsWith(".lua") && !e.name.startsWith("_")) {
      files.set(e.name, await Deno.readTextFile(new URL(e.name, dir)));
    }
  }
  return files;
}

Deno.test("every Lua script takes the shared functions and numbers from their one file", async () => {
  const files = await scriptFiles();
  assert.ok(files.size >= 14, `${files.size} scripts`);
  for (const [name, text] of files) {
    for (const fn of ["matches", "fmt", "serverMs"]) {
      assert.doesNotMatch(text, new RegExp(`local function ${fn}\\b`), `${name} defines ${fn}`);
    }
    assert.doesNotMatch(text, /9007199254740991/, `${name} spells out 2^53 - 1`);
    for (const constant of Object.keys(LIMITS)) {
      assert.doesNotMatch(text, new RegExp(`^\\s*local\\b[^=]*\\b${constant}\\b`, "m"), name);
    }
  }
});

Deno.test("the embedded Lua holds no directive, and core/limits.ts's values", () => {
  const declared = new Set<string>();
  for (const [name, { source }] of Object.entries(LUA)) {
    assert.doesNotMatch(source, /^\s*-- distkit:(include|const)\b/m, name);
    for (
      const [, names = "", values = ""] of source.matchAll(/local (.*) = (.*) -- core\/limits/g)
    ) {
      const pairs = names.split(", ").map((n, i) => [n, values.split(", ")[i]] as const);
      for (const [constant, value] of pairs) {
        assert.equal(
          value,
          String(LIMITS[constant as keyof typeof LIMITS]),
          `${name}: ${constant}`,
        );
        declared.add(constant);
      }
    }
  }
  assert.deepEqual([...declared].sort(), Object.keys(LIMITS).sort());
  assert.match(LUA.ratelimit_absolute!.source, /^local HINT_BUCKETS, EVICT_CHUNK = 64, 500 --/m);
  assert.match(LUA.icounter_apply!.source, /= 9007199254740991, 8, 256, 1000 --/);
});
