/**
 * A Store wrapper for tests: counts calls per script and can lose replies (the call runs, then
 * the caller gets a StoreError, as when a connection dies after Redis executed the command), fail
 * calls outright (as during an outage), or hold them unanswered until `release()` (a store that
 * does not answer; a read kept in flight at a chosen point).
 */
import { StoreError } from "../../core/errors.ts";
import type { Reply, Script, Store, Unsubscribe } from "../../store/types.ts";

/** What the spy does with the next calls. */
export type Fault = "none" | "lose-reply" | "fail" | "hang";

/** A counting, fault-injecting Store wrapper. */
export class SpyStore implements Store {
  readonly isDistkitStore = true as const;
  readonly calls = new Map<string, number>();
  /** Applied to every call of a script whose name matches `faultScript` (all when undefined). */
  fault: Fault = "none";
  faultScript: string | undefined = undefined;
  #held: Array<() => void> = [];
  constructor(readonly inner: Store) {}

  /** Calls made and not yet settled (held ones included). */
  pending = 0;
  /** How many calls the "hang" fault holds now. */
  get held(): number {
    return this.#held.length;
  }

  /** Lets every held call go on to the inner store (set `fault` first, or they hang again). */
  release(): void {
    for (const go of this.#held.splice(0)) go();
  }

  count(name?: string): number {
    if (name !== undefined) return this.calls.get(name) ?? 0;
    let n = 0;
    for (const v of this.calls.values()) n += v;
    return n;
  }

  async run(
    script: Script,
    keys: readonly string[],
    argv: readonly (string | number)[],
  ): Promise<Reply> {
    this.calls.set(script.name, (this.calls.get(script.name) ?? 0) + 1);
    const fault = this.faultScript === undefined || this.faultScript === script.name
      ? this.fault
      : "none";
    if (fault === "fail") throw new StoreError(`injected outage (${script.name})`);
    this.pending++;
    try {
      if (fault === "hang") await new Promise<void>((go) => this.#held.push(go));
      const reply = await this.inner.run(script, keys, argv);
      if (fault === "lose-reply") throw new StoreError(`injected lost reply (${script.name})`);
      return reply;
    } finally {
      this.pending--;
    }
  }

  subscribe(channel: string, listener: (message: string) => void): Promise<Unsubscribe> {
    return this.inner.subscribe(channel, listener);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
