/**
 * `defineScript`: pairs a `lua/<name>.lua` script with its TypeScript model.
 *
 * A handle carries the script's name and SHA-1, not its source: the Lua text
 * (`lua/_sources.ts`) is imported by `RedisStore` alone, so an application that only uses
 * `MemoryStore` (a browser bundle) carries none of it. The model is kept beside the handle in a
 * registry of this module (see {@linkcode modelOf}), out of the public {@linkcode Script} type.
 *
 * @module
 */
import { LUA_SHA1 } from "../lua/_index.ts";
import { batchModel } from "./batch_form.ts";
import type { MemoryDb } from "./memory_db.ts";
import type { Reply, Script } from "./types.ts";

/** What a model sees while it runs: the keyspace, the store's frozen clock and pub/sub. */
export interface ModelContext {
  /** The Redis-like keyspace. */
  readonly db: MemoryDb;
  /** Server time in whole milliseconds, frozen for the duration of one call (like `TIME`). */
  readonly nowMs: number;
  /** Sharded publish (`SPUBLISH`); delivered after the call returns. */
  publish(channel: string, message: string): void;
}

/**
 * The TypeScript model of a script: the same transition over the in-memory keyspace, returning
 * the same reply. Throw `ScriptFailure` where the Lua returns an error reply.
 */
export type ScriptModel = (
  ctx: ModelContext,
  keys: readonly string[],
  argv: readonly string[],
) => Reply;

const MODELS = new WeakMap<Script, ScriptModel>();

/**
 * Registers `model` as the executable specification of `script` (what `MemoryStore` runs).
 *
 * @param script the handle
 * @param model its model
 * @returns the handle, frozen
 *
 * @example
 * ```ts
 * import { modelOf, withModel } from "./script.ts";
 * const s = withModel({ name: "one", sha1: "" }, () => 1);
 * console.assert(modelOf(s) !== undefined);
 * ```
 */
export function withModel(script: Script, model: ScriptModel): Script {
  const frozen = Object.isFrozen(script) ? script : Object.freeze(script);
  MODELS.set(frozen, model);
  return frozen;
}

/**
 * The model of a script, for `MemoryStore`.
 *
 * @param script the handle
 * @returns its model, or undefined for a handle not made by {@linkcode defineScript}
 *
 * @example
 * ```ts
 * import { modelOf } from "./script.ts";
 * console.assert(modelOf({ name: "x", sha1: "" }) === undefined);
 * ```
 */
export function modelOf(script: Script): ScriptModel | undefined {
  return MODELS.get(script);
}

/**
 * Defines an atomic operation from `lua/<name>.lua` and its model. Free of side effects but for
 * its registry entry: call it as `/* @__PURE__ *\/ defineScript(...)`, so a bundler drops the
 * handles an application never uses.
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
  // The batch form is a script of its own, with its own model (./batch_form.ts).
  const batch = batchSha1 === undefined
    ? undefined
    : withModel({ name: batchName, sha1: batchSha1 }, batchModel(model));
  return withModel({ name, sha1, batch }, model);
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
