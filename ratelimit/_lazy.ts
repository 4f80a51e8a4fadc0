/**
 * A provider whose code is loaded on first use: `rl.redis` and `rl.hybrid` are facades whose
 * methods, until then, queue the call and load the implementation with a dynamic `import()`, so
 * an application that only uses `rl.local` (a browser, say) never loads the store-backed code. Once
 * loaded, each facade method is the implementation's own method, bound: a call goes straight to
 * it (no forwarding frame, no extra await).
 *
 * @module
 */
import { StoreError } from "../core/errors.ts";

/** The names of `T`'s methods. @internal */
export type MethodName<T> =
  & { [K in keyof T]-?: T[K] extends (...args: never[]) => unknown ? K : never }[keyof T]
  & string;

/** What a facade has before its methods: `T`'s other properties (getters included). @internal */
export type FacadeBase<T> = Omit<T, MethodName<T>>;

type Fn = (...args: unknown[]) => unknown;

/** A call made before the implementation was loaded. */
interface Pending {
  side: 0 | 1;
  name: string;
  args: unknown[];
  /** Whether the limiter was open when the call was made. */
  open: boolean;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
}

/**
 * The two strategies of a provider, loaded together on first use: facades typed `A` and `S`
 * over implementations typed `IA` and `IS` (which may have more, `close` say).
 *
 * @example
 * ```ts ignore
 * const p = new LazyProvider(load, [{ inc: true }, { inc: true }], [{}, {}], () => closed);
 * await p.provider.absolute.inc("k", 10);
 * ```
 * @internal
 */
export class LazyProvider<A extends object, S extends object, IA extends A = A, IS extends S = S> {
  /** `{ absolute, suppressed }`, frozen: what `rl.redis` / `rl.hybrid` return. */
  readonly provider: { readonly absolute: A; readonly suppressed: S };
  readonly #facades: readonly [Record<string, unknown>, Record<string, unknown>];
  readonly #methods: readonly [readonly string[], readonly string[]];
  readonly #loadedOnly: readonly [readonly string[], readonly string[]];
  readonly #load: () => Promise<readonly [IA, IS]>;
  readonly #closed: () => boolean;
  #impl: readonly [IA, IS] | undefined;
  #loading: Promise<void> | undefined;
  #queue: Pending[] = [];
  #replaying = false;

  /**
   * @param load imports and builds the two implementations
   * @param methods the methods of each strategy (all of them: the type checks it)
   * @param bases each facade's other properties (a getter may read {@linkcode impl})
   * @param closed whether the limiter is closed
   * @param loadedOnly internal methods a facade gets once loaded (callers check for them)
   */
  constructor(
    load: () => Promise<readonly [IA, IS]>,
    methods: readonly [Record<MethodName<A>, true>, Record<MethodName<S>, true>],
    bases: readonly [FacadeBase<A>, FacadeBase<S>],
    closed: () => boolean,
    loadedOnly: readonly [readonly MethodName<IA>[], readonly MethodName<IS>[]] = [[], []],
  ) {
    this.#load = load;
    this.#methods = [Object.keys(methods[0]), Object.keys(methods[1])];
    this.#loadedOnly = loadedOnly;
    this.#closed = closed;
    // Copied onto fresh objects: V8 keeps an object literal with a getter in dictionary mode
    // (slow property loads), one built property by property in fast mode.
    const facades: [Record<string, unknown>, Record<string, unknown>] = [{}, {}];
    for (const side of [0, 1] as const) {
      Object.defineProperties(facades[side], Object.getOwnPropertyDescriptors(bases[side]));
      for (const name of this.#methods[side]) {
        Object.defineProperty(facades[side], name, {
          value: (...args: unknown[]) => this.#later(side, name, args),
          enumerable: true,
          configurable: true,
          writable: true,
        });
      }
    }
    this.#facades = facades;
    this.provider = Object.freeze({
      absolute: facades[0] as unknown as A,
      suppressed: facades[1] as unknown as S,
    });
  }

  /** The implementations, once loaded. */
  get impl(): readonly [IA, IS] | undefined {
    return this.#impl;
  }

  /**
   * Whether the calls made before loading are being replayed, those made while the limiter was
   * open: they run as they would have when made, so a `close()` that came meanwhile does not
   * refuse them (it waits for the load, and closes after them).
   */
  get replayingOpenCalls(): boolean {
    return this.#replaying;
  }

  /**
   * The implementations once a load in progress has ended (undefined if none was loaded).
   * @returns them, or undefined
   */
  async settled(): Promise<readonly [IA, IS] | undefined> {
    await this.#loading;
    return this.#impl;
  }

  #later(side: 0 | 1, name: string, args: unknown[]): Promise<unknown> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ side, name, args, open: !this.#closed(), resolve, reject });
      this.#loading ??= this.#load().then((impl) => this.#install(impl), (e) => this.#fail(e));
    });
  }

  /** Makes each facade method the implementation's own, then replays the queued calls. */
  #install(impl: readonly [IA, IS]): void {
    this.#impl = impl;
    for (const side of [0, 1] as const) {
      const target = impl[side] as unknown as Record<string, Fn>;
      for (const name of [...this.#methods[side], ...this.#loadedOnly[side]]) {
        Object.defineProperty(this.#facades[side], name, {
          value: target[name]!.bind(target),
          enumerable: true,
        });
      }
      Object.freeze(this.#facades[side]);
    }
    const queue = this.#queue;
    this.#queue = [];
    for (const c of queue) {
      const target = impl[c.side] as unknown as Record<string, Fn>;
      this.#replaying = c.open;
      try {
        c.resolve(target[c.name]!.apply(target, c.args));
      } catch (e) {
        c.reject(e);
      } finally {
        this.#replaying = false;
      }
    }
  }

  /** The code could not be loaded: the queued calls fail, and the next call tries again. */
  #fail(e: unknown): void {
    this.#loading = undefined;
    const queue = this.#queue;
    this.#queue = [];
    const error = new StoreError(
      `Cannot load the rate limiter's store-backed code: ${e instanceof Error ? e.message : e}`,
      e,
    );
    for (const c of queue) c.reject(error);
  }
}
