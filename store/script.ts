/**
 * `defineScript`: pairs a `lua/<name>.lua` script with its TypeScript model.
 *
 * @module
 */
import { LUA } from "../lua/_sources.ts";
import type { Script, ScriptModel } from "./types.ts";

/**
 * Defines an atomic operation from `lua/<name>.lua` and its model.
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
  const lua = LUA[name];
  if (lua === undefined) throw new Error(`No Lua script named '${name}': run 'deno task lua'`);
  const batch = LUA[`${name}.batch`];
  return Object.freeze({ name, source: lua.source, sha1: lua.sha1, model, batch });
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
