/**
 * Call coalescing for `RedisStore`: calls of a script with a batch form (`script.batch`, see
 * ./batch_form.ts) made in the same turn of the event loop, on one slot for a cluster, are sent
 * as one EVALSHA of the batch form, which runs each call as the script would, in order, and
 * replies to each separately. Under load that saves Redis most of a script call's fixed cost and
 * the client most of a command's.
 *
 * Turns: calls wait in their group's outbox until the loop's next turn (`setImmediate`, after
 * the I/O callbacks of this one; a zero timeout where there is none), so calls made by separate
 * I/O callbacks (HTTP requests read in one poll) coalesce too. Each turn sends one script call
 * per group, the rest of a group's batches on the turns after (pacing). Sent all at once, a
 * tick's batches reached Redis in one read, which ran them all before writing any reply while
 * the client waited; then the client settled them all while Redis waited, the two sides taking
 * turns idling (measured, 256 callers on one counter hash: 0.38 M incs/s all at once, 0.60 M
 * paced; 64 callers 0.32 M and 0.46 M). Paced, Redis answers one batch while the client fills the
 * next. A lone caller is not held: while the calls come one at a time (the last turn that sent
 * queued calls sent one), a call made with nothing in flight is sent at once as itself, arming
 * nothing, and calls made while it is in flight collect behind it (held, a lone call cost ioredis
 * under Deno 5 to 15 µs more than the same call sent at once; with a turn armed by every call, a
 * sequential caller paid ~5 µs a call). A call without a batch form goes at once when nothing of
 * its group waits. The turn is armed only while calls wait, and `flush()` sends them at once (the
 * store's close).
 *
 * Size: a batch fills up to as many calls as are in flight, at least 32 and at most 256. With
 * many callers that settles into two batches taking turns, each half the callers: fewer, larger
 * script calls, whose fixed cost (a write and a read on each side: 13 to 18 µs of the client's
 * system time a batch on a 2-core VM) is shared by more calls, still alternating (measured, one
 * counter hash: 256 callers 0.70 M incs/s with batches of 32, 0.86 M sized by what is in flight;
 * 64 callers 0.52 M both ways, where batches of 64 gave 0.42 M).
 *
 * Order: the calls of one group (one slot on a cluster; every call on a standalone server) are
 * sent in the order made. A group's waiting batches form a queue; a call joins the last one when
 * it is of the same script and has room, and otherwise starts a new one behind it — a call of
 * another script, or one without a batch form, made while a batch waits takes its turn instead
 * of overtaking it. Since each call runs as it would alone, in the order made, a batch is
 * linearizable exactly as the same calls pipelined one by one are.
 *
 * @module
 */
import { BATCH_ERROR, encodeBatch } from "./batch_form.ts";
import type { Reply, Script } from "./types.ts";

/**
 * The fewest calls a batch may hold when it fills: bounded work per script call, and several
 * batches in flight when many callers wait (Redis runs one while the client settles the one
 * before and fills the next, where a single batch of everything would leave each side idle while
 * the other works).
 */
const BATCH_MIN = 32;
/**
 * The most calls one batch carries, however many are in flight: bounds the time a script call
 * holds Redis (256 counter increments: about 0.2 ms; instance-aware ones: about 1.3 ms).
 */
const BATCH_MAX = 256;
/** The most keys and arguments one batch carries (a larger call alone is sent as itself). */
const BATCH_MAX_ARGS = 8192;

/** One call waiting in a batch. */
interface Item {
  keys: readonly string[];
  argv: readonly (string | number)[];
  resolve: (r: Reply) => void;
  reject: (e: unknown) => void;
}

/** Calls of one script, sent together (one call: as itself). */
interface Batch {
  script: Script;
  items: Item[];
  /** Keys and arguments so far, with the batch form's two per item. */
  size: number;
  /** Whether more calls may join (the script has a batch form). */
  open: boolean;
}

/** The host's `setImmediate` / `clearImmediate` (Node, Deno, Bun), where it has them. */
const host = globalThis as {
  setImmediate?: (fn: () => void) => unknown;
  clearImmediate?: (handle: unknown) => void;
};
/** Runs `fn` on a later turn of the event loop (after I/O), not on a microtask. */
const nextTurn: (fn: () => void) => unknown = host.setImmediate !== undefined
  ? host.setImmediate.bind(globalThis)
  : (fn) => setTimeout(fn, 0);
/** Cancels what `nextTurn` armed. */
const cancelTurn: (handle: unknown) => void = host.clearImmediate !== undefined
  ? host.clearImmediate.bind(globalThis)
  : (h) => clearTimeout(h as number);

/** Sends a batch, or a lone call, and settles its items. */
export interface BatchSender {
  /** A lone call: the script itself. */
  single(
    script: Script,
    keys: readonly string[],
    argv: readonly (string | number)[],
  ): Promise<Reply>;
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

function sizeOf(keys: readonly string[], argv: readonly unknown[]): number {
  return keys.length + argv.length + 2;
}

/**
 * Collects calls per group (slot) and script, and sends each group's batches in order, one per
 * turn of the event loop.
 *
 * @example
 * ```ts ignore
 * const batcher = new Batcher(sender);
 * const reply = await batcher.add(script, ["{e}:ra"], "slot", ["10000", "100", "5"]);
 * ```
 */
export class Batcher {
  readonly #sender: BatchSender;
  /**
   * Whether calls come one at a time: the last turn that sent queued calls sent one, and none was
   * queued since (a call made with this set and nothing in flight goes at once).
   */
  #lone = false;
  /** Calls sent and not yet answered (a batch counts its items). */
  #inflight = 0;
  /** Per group, batches waiting for a later turn (pacing), in order. */
  readonly #outbox = new Map<string, Batch[]>();
  /** The armed next turn (undefined: none). */
  #turn: unknown;

  /** @param sender sends what the batcher collected */
  constructor(sender: BatchSender) {
    this.#sender = sender;
  }

  /**
   * Adds a call behind the calls of its group made before it.
   * @param script the script (with a batch form, or without: then it is only kept in order)
   * @param keys its keys (one hash tag)
   * @param group the order group: the keys' slot on a cluster, one for every call otherwise
   * @param argv its arguments
   * @returns its reply
   */
  add(
    script: Script,
    keys: readonly string[],
    group: string,
    argv: readonly (string | number)[],
  ): Promise<Reply> {
    let waiting = this.#outbox.get(group);
    if (waiting === undefined) {
      // Nothing of its group waits: a call without a batch form goes at once, and so does a lone
      // caller's (nothing in flight: it would wait for nobody).
      if (script.batch === undefined || (this.#lone && this.#inflight === 0)) {
        return this.#sendNow(script, keys, argv);
      }
      waiting = [];
      this.#outbox.set(group, waiting);
    }
    this.#turn ??= nextTurn(this.#onTurn);
    const p = new Promise<Reply>(executor);
    const item: Item = { keys, argv, resolve: resolveNext, reject: rejectNext };
    const size = sizeOf(keys, argv);
    const last = waiting[waiting.length - 1];
    if (
      last !== undefined && last.open && last.script === script &&
      last.items.length < this.#room() && last.size + size <= BATCH_MAX_ARGS
    ) {
      last.items.push(item);
      last.size += size;
    } else {
      if (last !== undefined) last.open = false;
      waiting.push({ script, items: [item], size, open: script.batch !== undefined });
    }
    return p;
  }

  /** A new turn: each group with batches waiting sends its next one. */
  readonly #onTurn = (): void => {
    this.#turn = undefined;
    let calls = 0;
    for (const [group, waiting] of this.#outbox) {
      const b = waiting.shift()!;
      if (waiting.length === 0) this.#outbox.delete(group);
      calls += b.items.length;
      this.#dispatch(b);
    }
    this.#lone = calls === 1 && this.#outbox.size === 0;
    if (this.#outbox.size > 0) this.#turn ??= nextTurn(this.#onTurn);
  };

  /**
   * Sends every batch waiting for a later turn now, in order, and disarms the turn (a closing
   * store: nothing is left behind).
   */
  flush(): void {
    if (this.#turn !== undefined) cancelTurn(this.#turn);
    this.#turn = undefined;
    const all = [...this.#outbox.values()];
    this.#outbox.clear();
    for (const waiting of all) for (const b of waiting) this.#dispatch(b);
  }

  /** A call sent as itself, now; counted in flight until answered. */
  #sendNow(
    script: Script,
    keys: readonly string[],
    argv: readonly (string | number)[],
  ): Promise<Reply> {
    const p = this.#sender.single(script, keys, argv);
    this.#inflight++;
    p.then(this.#landed, this.#landed); // beside the caller's reaction, not in front of it
    return p;
  }

  readonly #landed = (): void => {
    this.#inflight--;
  };

  /**
   * How many calls a batch may hold: as many as are in flight (so that, with many callers, two
   * batches take turns, Redis running one while the client settles the other and fills the
   * next), within [BATCH_MIN, BATCH_MAX].
   */
  #room(): number {
    const n = this.#inflight;
    return n <= BATCH_MIN ? BATCH_MIN : n >= BATCH_MAX ? BATCH_MAX : n;
  }

  #dispatch(b: Batch): void {
    const { script, items } = b;
    const s = this.#sender;
    if (items.length === 1) {
      const it = items[0]!;
      let p: Promise<Reply>;
      try {
        p = this.#sendNow(script, it.keys, it.argv);
      } catch (e) {
        p = Promise.reject(e);
      }
      p.then(it.resolve, it.reject);
      return;
    }
    const { keys, argv } = encodeBatch(items);
    let p: Promise<Reply>;
    const n = items.length;
    this.#inflight += n;
    try {
      p = s.batch(script, keys, argv);
    } catch (e) {
      p = Promise.reject(e);
    }
    p.then((replies) => {
      this.#inflight -= n;
      this.#settle(script, items, replies);
    }, (e) => {
      this.#inflight -= n;
      if (s.split(e)) {
        for (const it of items) this.#dispatch({ script, items: [it], size: 0, open: false });
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
      if (Array.isArray(r) && r[0] === BATCH_ERROR) {
        items[i]!.reject(s.itemError(String(r[1]), script));
      } else {
        items[i]!.resolve(r);
      }
    }
  }
}
