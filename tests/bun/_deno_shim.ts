/**
 * The part of Deno's API the conformance files use, for running them under `bun test`:
 * `Deno.test` (every form they call, `ignore`, `t.step` run in line; sanitizer switches are
 * accepted and ignored: Bun has none), `Deno.env.get`, `Deno.pid`. Import it before the
 * conformance files (tests/bun/conformance.test.ts does); it does nothing under Deno.
 *
 * @module
 */
import process from "node:process";
import { test } from "node:test";

/** What a test body gets: `step` runs a named case at once. */
interface ShimContext {
  name: string;
  step(name: string, fn: (t: ShimContext) => unknown): Promise<boolean>;
}

interface ShimTestDefinition {
  name: string;
  fn: (t: ShimContext) => unknown;
  ignore?: boolean;
  only?: boolean;
  sanitizeOps?: boolean;
  sanitizeResources?: boolean;
  sanitizeExit?: boolean;
}

/** Per-test timeout, ms: Bun's default (5 s) is shorter than some lock and fault tests take. */
const TIMEOUT_MS = 60_000;

function context(name: string): ShimContext {
  return {
    name,
    async step(stepName, fn) {
      await fn(context(`${name} > ${stepName}`));
      return true;
    },
  };
}

function register(def: ShimTestDefinition): void {
  test(def.name, { skip: def.ignore === true, timeout: TIMEOUT_MS }, async () => {
    await def.fn(context(def.name));
  });
}

/** `Deno.test(name, fn)`, `(name, options, fn)`, `(definition)`, `(fn)`, `(options, fn)`. */
function denoTest(...args: unknown[]): void {
  const [a, b, c] = args;
  if (typeof a === "string") {
    if (typeof b === "function") return register({ name: a, fn: b as ShimTestDefinition["fn"] });
    return register({ ...(b as object), name: a, fn: c as ShimTestDefinition["fn"] });
  }
  if (typeof a === "function") return register({ name: a.name, fn: a as ShimTestDefinition["fn"] });
  if (typeof b === "function") {
    const options = a as Partial<ShimTestDefinition>;
    return register({
      ...options,
      name: options.name ?? b.name,
      fn: b as ShimTestDefinition["fn"],
    });
  }
  register(a as ShimTestDefinition);
}

const g = globalThis as { Deno?: unknown; Bun?: unknown };
if (g.Deno === undefined && g.Bun !== undefined) {
  g.Deno = {
    test: denoTest,
    env: {
      get: (name: string): string | undefined => process.env[name],
      toObject: (): Record<string, string> => ({ ...process.env }) as Record<string, string>,
    },
    pid: process.pid,
  };
}
