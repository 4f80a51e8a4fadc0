/**
 * Call batching for `RedisStore`: calls of a batchable single-key script made in the same tick
 * (on one slot, for a cluster) are sent as one EVALSHA of the script's batch form, which runs
 * each call as the script would, in order, and replies to each separately. Under load that saves
 * Redis most of a script call's fixed cost and the client most of a command's; a lone call waits a
 * few microtask hops at most (no timer, no extra loop turn: node-redis writes what a tick queued
 * in one go anyway).
 *
 * @module
 */
import type { Reply, Script } from "./types.ts";

/** How many microtask hops a batch stays open for more calls of the same tick. */
const OPEN_HOPS = 8;
/** The most calls one batch carries (bounded work per script call). */
const BATCH_MAX = 128;

/** One call waiting in a batch. */
interface Item {
  key: string;
  argv: readonly (string | number)[];
  resolve: (r: Reply) => void;
  reject: (e: unknown) => void;
}

/** Sends a batch, or a lone call, and settles its items. */
export interface BatchSender {
  /** A lone call: the script itself. */
  single(script: Script, key: string, argv: readonly (string | number)[]): Promise<Reply>;
  /** Several calls: the batch form, one reply per item ({"!err", message} for a failed one). */
  batch(script: Script, keys: string[], argv: string[]): Promise<Reply>;
  /** The error a failed item rejects with. */
  itemError(message: string, script: Script): unknown;
  /**
   * Whether a failed batch should be sent again call by call (a server that refuses keys of
   * several slots in one call, as a sharding proxy does).
   */
  split(error: unknown): boolean;
}

let resolveNext: (r: Reply) => void = () => {};
let rejectNext: (e: unknown) => void = () => {};
function executor(resolve: (r: Reply) => void, reject: (e: unknown) => void): void {
  resolveNext = resolve;
  rejectNext = reject;
}

/**
 * Collects calls per script and route and sends each group when its tick's calls are in.
 *
 * @example
 * ```ts ignore
 * const batcher = new Batcher(sender);
 * const reply = await batcher.add(script, "entity-key", "route", ["10000", "100", "5"]);
 * ```
 */
export class Batcher {
  readonly #sender: BatchSender;
  readonly #open = new Map<string, Item[]>();

  /** @param sender sends what the batcher collected */
  constructor(sender: BatchSender) {
    this.#sender = sender;
  }

  /**
   * Adds a call to the open batch of its script and route.
   * @param script a script with a batch form
   * @param key its one key
   * @param route the group (the script's name, and the key's slot on a cluster)
   * @param argv its arguments
   * @returns its reply
   */
  add(
    script: Script,
    key: string,
    route: string,
    argv: readonly (string | number)[],
  ): Promise<Reply> {
    const p = new Promise<Reply>(executor);
    const item: Item = { key, argv, resolve: resolveNext, reject: rejectNext };
    let items = this.#open.get(route);
    if (items === undefined || items.length >= BATCH_MAX) {
      items = [item];
      this.#open.set(route, items);
      this.#sendAfter(OPEN_HOPS, script, route, items);
    } else {
      items.push(item);
    }
    return p;
  }

  #sendAfter(hops: number, script: Script, route: string, items: Item[]): void {
    queueMicrotask(() => {
      if (hops > 1 && items.length < BATCH_MAX) {
        return this.#sendAfter(hops - 1, script, route, items);
      }
      if (this.#open.get(route) === items) this.#open.delete(route);
      this.#send(script, items);
    });
  }

  #send(script: Script, items: Item[]): void {
    const s = this.#sender;
    if (items.length === 1) {
      const it = items[0]!;
      let p: Promise<Reply>;
      try {
        p = s.single(script, it.key, it.argv);
      } catch (e) {
        p = Promise.reject(e);
      }
      p.then(it.resolve, it.reject);
      return;
    }
    const keys: string[] = [];
    const argv: string[] = [];
    for (const it of items) {
      keys.push(it.key);
      argv.push(String(it.argv.length));
      for (const a of it.argv) argv.push(typeof a === "string" ? a : String(a));
    }
    let p: Promise<Reply>;
    try {
      p = s.batch(script, keys, argv);
    } catch (e) {
      p = Promise.reject(e);
    }
    p.then((replies) => this.#settle(script, items, replies), (e) => {
      if (s.split(e)) {
        for (const it of items) this.#send(script, [it]);
        return;
      }
      for (const it of items) it.reject(e);
    });
  }

  /** Hands each item its reply from the batch form's (a failed item its error). */
  #settle(script: Script, items: Item[], replies: Reply): void {
    const s = this.#sender;
    if (!Array.isArray(replies) || replies.length !== items.length) {
      const e = s.itemError(`unexpected batch reply for '${script.name}'`, script);
      for (const it of items) it.reject(e);
      return;
    }
    for (let i = 0; i < items.length; i++) {
      const r = replies[i] as Reply;
      if (Array.isArray(r) && r[0] === "!err") {
        items[i]!.reject(s.itemError(String(r[1]), script));
      } else {
        items[i]!.resolve(r);
      }
    }
  }
}
