/**
 * Redis Cluster hash slots (CRC16/XMODEM of the hash tag, mod 16384) and per-slot batching:
 * a batch whose keys span several slots is split into one call per slot, run in parallel.
 *
 * @module
 */

const TABLE = /* @__PURE__ */ (() => {
  const t = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i << 8;
    for (let j = 0; j < 8; j++) c = c & 0x8000 ? (c << 1) ^ 0x1021 : c << 1;
    t[i] = c & 0xffff;
  }
  return t;
})();

const ENCODER = new TextEncoder();

/**
 * The cluster slot of a key, honouring `{hash tags}` as Redis does.
 *
 * @param key a Redis key
 * @returns its slot, 0–16383
 *
 * @example
 * ```ts
 * import { slotOf } from "./slot.ts";
 * console.assert(slotOf("{user1000}.following") === slotOf("{user1000}.followers"));
 * console.assert(slotOf("123456789") === 12739);
 * ```
 */
export function slotOf(key: string): number {
  const open = key.indexOf("{");
  if (open !== -1) {
    const close = key.indexOf("}", open + 1);
    if (close > open + 1) key = key.slice(open + 1, close);
  }
  let crc = 0;
  for (const b of ENCODER.encode(key)) {
    crc = ((crc << 8) ^ TABLE[((crc >> 8) ^ b) & 0xff]!) & 0xffff;
  }
  return crc % 16384;
}

/**
 * Groups items by the slot of their key, keeping input order within each group.
 *
 * @param items the items
 * @param keyOf the Redis key that decides an item's slot
 * @returns one array per slot
 *
 * @example Split a multi-entity flush into one call per slot
 * ```ts
 * import { groupBySlot } from "./slot.ts";
 * const groups = groupBySlot(["{a}:x", "{b}:x", "{a}:y"], (k) => k);
 * console.assert(groups.flat().length === 3);
 * ```
 */
export function groupBySlot<T>(items: readonly T[], keyOf: (item: T) => string): T[][] {
  const groups = new Map<number, T[]>();
  for (const item of items) {
    const slot = slotOf(keyOf(item));
    const g = groups.get(slot);
    if (g === undefined) groups.set(slot, [item]);
    else g.push(item);
  }
  return [...groups.values()];
}

/**
 * Runs a batch as one call per slot, the calls in parallel, and returns the results in input
 * order. `runGroup` gets the items of one slot and must return one result per item, in order.
 *
 * @param items the batch
 * @param keyOf the Redis key that decides an item's slot
 * @param runGroup runs one slot's items (one script call)
 * @returns one result per item, in input order
 *
 * @example
 * ```ts
 * import { runPerSlot } from "./slot.ts";
 * const out = await runPerSlot(["{a}:1", "{b}:1"], (k) => k, (g) => Promise.resolve(g.map((k) => k.length)));
 * console.assert(out.join() === "5,5");
 * ```
 */
export async function runPerSlot<T, R>(
  items: readonly T[],
  keyOf: (item: T) => string,
  runGroup: (group: T[]) => Promise<R[]>,
): Promise<R[]> {
  const indexed = items.map((item, i) => ({ item, i }));
  const groups = groupBySlot(indexed, (x) => keyOf(x.item));
  const out = new Array<R>(items.length);
  await Promise.all(groups.map(async (g) => {
    const results = await runGroup(g.map((x) => x.item));
    g.forEach((x, j) => (out[x.i] = results[j]!));
  }));
  return out;
}
