/**
 * `defineScript`: pairs a `lua/<name>.lua` script with its TypeScript model.
 *
 * A handle carries the script's name, SHA-1 and model, not its source: the Lua text
 * (`lua/_sources.ts`) is imported by `RedisStore` alone, so an application that only uses
 * `MemoryStore` (a browser bundle) carries none of it.
 *
 * @module
 */
import { LUA_SHA1 } from "../lua/_index.ts";
import type { Script, ScriptModel } from "./types.ts";

/**
 * Defines an atomic operation from `lua/<name>.lua` and its model. Free of side effects: call it
 * as `/* @__PURE__ *\/ defineScript(...)`, so a bundler drops the handles an application never
 * uses.
 *
 * @param name the Lua file name without `.lua`
 * @param model the TypeScript model of the same transition
 * @returns the script handle to pass to `Store.run`
 * @throws {Error} if no such Lua file was embedded (run `deno task lua`)
 *
 * @example
 * ```ts ignore
 * import { defineScript } from "./script.ts";
 * export const COUNTER_GET = defineScript("counter_get", (ctx, keys, argv) => ...);
 * ```
 */
export function defineScript(name: string, model: ScriptModel): Script {
  const sha1 = LUA_SHA1[name];
  if (sha1 === undefined) throw new Error(`No Lua script named '${name}': run 'deno task lua'`);
  const batchName = `${name}.batch`;
  const batchSha1 = LUA_SHA1[batchName];
  const batch = batchSha1 === undefined ? undefined : { name: batchName, sha1: batchSha1 };
  return Object.freeze({ name, sha1, model, batch });
}

/**
 * Formats a script argument: integers without exponent, as the Lua side expects.
 *
 * @param v a string or number
 * @returns the argument string
 *
 * @example
 * ```ts
 * import { toArg } from "./script.ts";
 * console.assert(toArg(9007199254740991) === "9007199254740991");
 * ```
 */
export function toArg(v: string | number): string {
  if (typeof v === "string") return v;
  return String(v);
}
