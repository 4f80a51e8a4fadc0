/**
 * Call coalescing for `RedisStore`: calls of a script with a batch form (`script.batch`, see
 * ./batch_form.ts) made in the same tick, on one slot for a cluster, are sent as one EVALSHA of
 * the batch form, which runs each call as the script would, in order, and replies to each
 * separately. Under load that saves Redis most of a script call's fixed cost and the client most
 * of a command's; a lone call waits a few microtask hops at most (no timer, no extra loop turn:
 * node-redis writes what a tick queued in one go anyway) and is sent as itself. When the last
 * tick carried one call (a lone caller), the next call is not held at all: it is sent at once and
 * the calls made after it in its tick collect behind it (held, a lone call cost ioredis under
 * Deno 5 to 15 µs more than the same call sent at once).
 *
 * Pacing: batches are sent on the event loop's next turn (after I/O: `setImmediate`, or a zero
 * timeout where there is none), one per group and turn, the rest of a group's batches on the
 * turns after. Sent in the tick that made them, a tick's batches reach Redis in one read, which
 * runs them all before it writes any reply, while the client waits; then the client settles
 * them all while Redis waits, and the two sides take turns idling (measured: 256 callers on one
 * counter hash, 0.38 M incs/s sent in the tick, 0.60 M paced; 64 callers 0.32 M and 0.46 M).
 * Paced, Redis answers one batch while the client fills the next. A lone call (or one without a
 * batch form) with nothing of its group waiting is still sent at once; the turn is armed only
 * while batches wait, and `flush()` sends them at once (the store's close).
 *
 * Order: the calls of one group (one slot on a cluster; every call on a standalone server) are
 * sent in the order made. A group's open batches form a queue; a call joins the last one when it
 * is of the same script and has room, and otherwise starts a new one behind it — a call of
 * another script, or one without a batch form, made while a batch is open waits its turn instead
 * of overtaking it. With nothing open in its group, a call without a batch form is sent at once.
 * Since each call runs as it would alone, in the order made, a batch is linearizable exactly as
 * the same calls pipelined one by one are.
 *
 * @module
 */
import { BATCH_ERROR, encodeBatch } from "./batch_form.ts";
import type { Reply, Script } from "./types.ts";

/** How many microtask hops a group stays open for more calls of the same tick. */
const OPEN_HOPS = 8;
/**
 * The most calls one batch carries: bounded work per script call, and several batches in flight
 * when many callers wait (Redis runs one while the client settles the one before and fills the
 * next, where a single batch of everything would leave each side idle while the other works).
 */
const BATCH_MAX = 32;
/** The most keys and arguments one batch carries (a larger call alone is sent as itself). */
const BATCH_MAX_ARGS = 8192;

/** A group's batches not sent yet, in order, and how many calls its tick has had. */
type Queue = Batch[] & { calls: number };

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
 * Collects calls per group (slot) and script, and sends each group's batches in order when its
 * tick's calls are in.
 *
 * @example
 * ```ts ignore
 * const batcher = new Batcher(sender);
 * const reply = await batcher.add(script, ["{e}:ra"], "slot", ["10000", "100", "5"]);
 * ```
 */
export class Batcher {
  readonly #sender: BatchSender;
  /** Per group, its batches not sent yet, in order. */
  readonly #open = new Map<string, Queue>();
  /** Whether the last tick that closed had one call: then the next call goes at once. */
  #lone = false;
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
    let queue = this.#open.get(group);
    const batchable = script.batch !== undefined;
    if (queue === undefined) {
      const direct = !this.#outbox.has(group); // nothing of its group waits for a later turn
      if (!batchable && direct) return this.#sender.single(script, keys, argv);
      queue = Object.assign([], { calls: 1 });
      this.#open.set(group, queue);
      this.#sendAfter(OPEN_HOPS, group, queue);
      // Sent first, so before anything the group collects behind it.
      if (this.#lone && direct) return this.#sender.single(script, keys, argv);
    } else {
      queue.calls++;
    }
    const p = new Promise<Reply>(executor);
    const item: Item = { keys, argv, resolve: resolveNext, reject: rejectNext };
    const size = sizeOf(keys, argv);
    const last = queue[queue.length - 1];
    if (
      last !== undefined && last.open && last.script === script &&
      last.items.length < BATCH_MAX && last.size + size <= BATCH_MAX_ARGS
    ) {
      last.items.push(item);
      last.size += size;
    } else {
      if (last !== undefined) last.open = false;
      queue.push({ script, items: [item], size, open: batchable });
    }
    return p;
  }

  /** Sends the batches that can take no more calls, and after `hops` hops, all of them. */
  #sendAfter(hops: number, group: string, queue: Queue): void {
    queueMicrotask(() => {
      if (hops > 1) {
        // Batches that can take no more calls go now (in order): the server starts on them.
        while (queue.length > 1 || (queue.length === 1 && this.#sealed(queue[0]!))) {
          this.#send(group, queue.shift()!);
        }
        return this.#sendAfter(hops - 1, group, queue);
      }
      if (this.#open.get(group) === queue) this.#open.delete(group);
      this.#lone = queue.calls === 1;
      for (const b of queue) this.#send(group, b);
      queue.length = 0;
    });
  }

  /** Whether no call can join `b` any more (full, or a script without a batch form). */
  #sealed(b: Batch): boolean {
    return !b.open || b.items.length >= BATCH_MAX;
  }

  /** Queues `b` in its group's outbox, for the next turn (pacing). */
  #send(group: string, b: Batch): void {
    const waiting = this.#outbox.get(group);
    if (waiting !== undefined) waiting.push(b);
    else this.#outbox.set(group, [b]);
    this.#turn ??= nextTurn(this.#onTurn);
  }

  /** A new turn: each group with batches waiting sends its next one. */
  readonly #onTurn = (): void => {
    this.#turn = undefined;
    for (const [group, waiting] of this.#outbox) {
      const b = waiting.shift()!;
      if (waiting.length === 0) this.#outbox.delete(group);
      this.#dispatch(b);
    }
    if (this.#outbox.size > 0) this.#turn = nextTurn(this.#onTurn);
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

  #dispatch(b: Batch): void {
    const { script, items } = b;
    const s = this.#sender;
    if (items.length === 1) {
      const it = items[0]!;
      let p: Promise<Reply>;
      try {
        p = s.single(script, it.keys, it.argv);
      } catch (e) {
        p = Promise.reject(e);
      }
      p.then(it.resolve, it.reject);
      return;
    }
    const { keys, argv } = encodeBatch(items);
    let p: Promise<Reply>;
    try {
      p = s.batch(script, keys, argv);
    } catch (e) {
      p = Promise.reject(e);
    }
    p.then((replies) => this.#settle(script, items, replies), (e) => {
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
