/**
 * The Lua sources, loaded on demand: `RedisStore` needs a script's text only when Redis answers
 * NOSCRIPT (its first call on a fresh server, or after `SCRIPT FLUSH`), and script handles carry
 * only the SHA-1. `lua/_sources.ts` is imported dynamically here and nowhere statically, so a
 * bundler puts the Lua text in a chunk of its own that an application loads only when it runs
 * scripts on Redis (never in a browser that uses `MemoryStore`).
 *
 * @module
 */

let sources: Promise<Readonly<Record<string, { source: string; sha1: string }>>> | undefined;

/**
 * The Lua source of a script (or of its batch form: pass `script.batch`).
 *
 * @param script a script handle, or its batch form
 * @returns the source, whose SHA-1 is `script.sha1`
 * @throws {Error} if no such Lua file was embedded (run `deno task lua`)
 *
 * @example
 * ```ts
 * import { RL_ABSOLUTE } from "../ratelimit/_scripts.ts";
 * import { luaSource } from "./_lua.ts";
 * console.assert((await luaSource(RL_ABSOLUTE)).includes("redis.call"));
 * ```
 */
export async function luaSource(script: { readonly name: string }): Promise<string> {
  sources ??= import("../lua/_sources.ts").then((m) => m.LUA);
  const lua = (await sources)[script.name];
  if (lua === undefined) {
    throw new Error(`No Lua script named '${script.name}': run 'deno task lua'`);
  }
  return lua.source;
}
