/**
 * The `-- distkit:` directives of `lua/*.lua` (documented in scripts/gen_lua.ts's header): how one
 * script's text becomes the Lua that is embedded and run. Pure, so it is tested without files.
 *
 * @module
 */

/** What a directive may refer to. */
export interface LuaParts {
  /** Fragment sources by name: `lua/_<name>.lua` is the fragment `<name>`. */
  readonly fragments: Readonly<Record<string, string>>;
  /** The constants (core/limits.ts's exports), by name. */
  readonly constants: Readonly<Record<string, unknown>>;
}

/** What one expansion produced, and what it used (so unused fragments and constants show). */
export interface Expanded {
  /** The Lua to embed. */
  readonly source: string;
  /** The fragments it included. */
  readonly fragments: ReadonlySet<string>;
  /** The constants it declared. */
  readonly constants: ReadonlySet<string>;
}

/** Where the constants live, named in each generated declaration. */
export const CONSTANTS_FILE = "core/limits.ts";

const DIRECTIVE = /^([ \t]*)-- distkit:([a-z]+)\b(.*)$/;
const ANY_DIRECTIVE = /distkit:(include|const)\b/;

/**
 * Expands one script's directives: each `-- distkit:include <name>` line becomes the fragment
 * `lua/_<name>.lua`, indented as the line is; each `-- distkit:const A B ...` line becomes
 * `local A, B = <value>, <value> -- core/limits.ts`. Every other line is kept as it is.
 *
 * @param file the script's file name, for error messages
 * @param source the script's text
 * @param parts the fragments and constants the directives may name
 * @returns the expanded Lua, and the fragments and constants it used
 * @throws {Error} on an unknown directive, fragment or constant, a constant that is not a safe
 * integer, a constant declared twice, or a directive in a fragment (fragments do not nest)
 *
 * @example
 * ```ts
 * import { expandLua } from "./lua_directives.ts";
 * const { source } = expandLua("x.lua", "-- distkit:const N\nreturn N", {
 *   fragments: {},
 *   constants: { N: 3 },
 * });
 * console.assert(source === "local N = 3 -- core/limits.ts\nreturn N");
 * ```
 */
export function expandLua(file: string, source: string, parts: LuaParts): Expanded {
  const fragments = new Set<string>();
  const constants = new Set<string>();
  const lines = source.split("\n").map((line, i) => {
    const at = `${file}:${i + 1}`;
    const m = DIRECTIVE.exec(line);
    if (m === null) {
      if (ANY_DIRECTIVE.test(line)) {
        throw new Error(`${at}: a directive must be a line of its own: ${line.trim()}`);
      }
      return line;
    }
    const [, indent = "", kind, rest = ""] = m;
    const args = rest.trim() === "" ? [] : rest.trim().split(/\s+/);
    if (kind === "batch") return line; // a header marker, read by gen_lua.ts
    if (kind === "include") {
      const name = args[0];
      if (args.length !== 1 || name === undefined) {
        throw new Error(`${at}: 'distkit:include' takes one fragment name: ${line.trim()}`);
      }
      const text = parts.fragments[name];
      if (text === undefined) throw new Error(`${at}: no fragment lua/_${name}.lua`);
      if (/^\s*-- distkit:/m.test(text)) {
        throw new Error(`lua/_${name}.lua: a fragment holds no directives (they do not nest)`);
      }
      fragments.add(name);
      return text.trimEnd().split("\n").map((l) => l === "" ? l : indent + l).join("\n");
    }
    if (kind === "const") {
      if (args.length === 0) {
        throw new Error(`${at}: 'distkit:const' takes one or more constant names`);
      }
      const values = args.map((name) => {
        if (!Object.hasOwn(parts.constants, name)) {
          throw new Error(`${at}: no constant ${name} in ${CONSTANTS_FILE}`);
        }
        const value = parts.constants[name];
        if (typeof value !== "number" || !Number.isSafeInteger(value)) {
          throw new Error(`${at}: ${CONSTANTS_FILE}'s ${name} is not a safe integer`);
        }
        if (constants.has(name)) throw new Error(`${at}: ${name} is declared twice`);
        constants.add(name);
        return String(value);
      });
      return `${indent}local ${args.join(", ")} = ${values.join(", ")} -- ${CONSTANTS_FILE}`;
    }
    throw new Error(`${at}: unknown directive 'distkit:${kind}' (include, const, batch)`);
  });
  return { source: lines.join("\n"), fragments, constants };
}
