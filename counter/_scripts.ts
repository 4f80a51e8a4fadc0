/**
 * The plain counters' atomic operations: each a Lua script (lua/counter_*.lua), its model, and
 * its typed operation (arguments encoded and reply decoded here, and only here).
 *
 * @module
 */
import { compare } from "../core/comparator.ts";
import { MAX_SAFE_INTEGER as MAX } from "../core/limits.ts";
import type { ValidEntry } from "../core/entries.ts";
import type { Synced } from "../core/write_behind.ts";
import { defineOperation, intReply, listReply, unexpectedReply } from "../store/operation.ts";
import { defineScript } from "../store/script.ts";
import { OVERFLOW_REPLY, ScriptFailure } from "../store/script_failure.ts";
import type { Reply } from "../store/types.ts";

const num = (s: string | null | undefined): number => s == null ? 0 : Number(s);
const str = (n: number): string => n.toFixed(0);

/** See lua/counter_apply.lua. */
export const COUNTER_APPLY = defineScript("counter_apply", ({ db }, keys, argv) => {
  const hash = keys[0]!;
  const values = new Map<string, number>();
  const order: string[] = [];
  const reply: Reply[] = [];
  for (let i = 0; i < argv.length; i += 5) {
    const [op, field, cmp, operand, amount] = argv.slice(i, i + 5) as [
      string,
      string,
      string,
      string,
      string,
    ];
    const cur = values.get(field) ?? num(db.hget(hash, field));
    let value = cur;
    const matched = compare(cmp, Number(operand), cur);
    if (matched) {
      value = op === "inc" ? cur + Number(amount) : Number(amount);
      if (value > MAX || value < -MAX) {
        throw new ScriptFailure(
          `${OVERFLOW_REPLY} ${field}: ${str(cur)} + ${amount} leaves the safe-integer range`,
        );
      }
      if (!order.includes(field)) order.push(field);
    }
    values.set(field, value);
    reply.push(str(value), str(cur), matched ? 1 : 0);
  }
  for (const field of order) db.hset(hash, field, str(values.get(field)!));
  return reply;
});

/** See lua/counter_inc.lua. */
export const COUNTER_INC = defineScript("counter_inc", ({ db }, keys, argv) => {
  const value = num(db.hget(keys[0]!, argv[0]!)) + Number(argv[1]);
  if (value > MAX || value < -MAX) {
    throw new ScriptFailure(
      `${OVERFLOW_REPLY} ${argv[0]}: adding ${argv[1]} leaves the safe-integer range`,
    );
  }
  const s = str(value);
  db.hset(keys[0]!, argv[0]!, s);
  return s;
});

/** See lua/counter_get.lua. */
export const COUNTER_GET = defineScript(
  "counter_get",
  ({ db }, keys, argv) => argv.map((f) => db.hget(keys[0]!, f) ?? "0"),
);

/** See lua/counter_del.lua. */
export const COUNTER_DEL = defineScript("counter_del", ({ db }, keys, argv) => {
  const value = db.hget(keys[0]!, argv[0]!) ?? "0";
  db.hdel(keys[0]!, argv[0]!);
  return value;
});

/** See lua/counter_clear.lua. */
export const COUNTER_CLEAR = defineScript("counter_clear", ({ db }, keys) => {
  db.del(keys[0]!);
  return 1;
});

/** See lua/counter_sync.lua. */
export const COUNTER_SYNC = defineScript("counter_sync", ({ db }, keys, argv) => {
  const [hash, seqKey] = keys as [string, string];
  const seq = Number(argv[0]);
  const d = Number(argv[2]);
  let applied = 0;
  const skipped: string[] = [];
  if (seq > 0 && seq > num(db.get(seqKey))) {
    applied = 1;
    for (let i = 3; i < 3 + 2 * d; i += 2) {
      const field = argv[i]!;
      const delta = Number(argv[i + 1]);
      const value = num(db.hget(hash, field)) + delta;
      if (value > MAX || value < -MAX) skipped.push(field);
      else if (delta !== 0) db.hset(hash, field, str(value));
    }
    db.set(seqKey, argv[0]!, { px: Number(argv[1]) });
  }
  const values: string[] = [];
  for (let i = 3; i < 3 + 2 * d; i += 2) values.push(db.hget(hash, argv[i]!) ?? "0");
  for (let i = 3 + 2 * d; i < argv.length; i++) values.push(db.hget(hash, argv[i]!) ?? "0");
  return [applied, skipped, values];
});

/** One validated write. */
export type Write = ValidEntry<"inc" | "set">;

/** A write's outcome, in the order of the writes. */
export interface WriteResult {
  key: string;
  value: number;
  previous: number;
  matched: boolean;
}

/** Writes applied atomically, in order: 5 arguments and 3 reply values a write. */
export const APPLY_WRITES = /* @__PURE__ */ defineOperation({
  script: COUNTER_APPLY,
  encode(writes: readonly Write[]) {
    const argv: Array<string | number> = [];
    for (const w of writes) argv.push(w.op, w.key, w.cmp.op, w.cmp.operand, w.amount);
    return argv;
  },
  decode(reply, writes): WriteResult[] {
    const a = listReply(COUNTER_APPLY, reply, 3 * writes.length);
    return writes.map((w, i) => ({
      key: w.key,
      value: Number(a[3 * i]),
      previous: Number(a[3 * i + 1]),
      matched: Number(a[3 * i + 2]) === 1,
    }));
  },
});

/** Adds `n` to one counter; its new value. */
export const INC_VALUE = /* @__PURE__ */ defineOperation({
  script: COUNTER_INC,
  encode: ({ key, n }: { key: string; n: number }) => [key, n],
  decode: (reply): number => intReply(COUNTER_INC, reply),
});

/** Reads counters; one value a key. */
export const READ_VALUES = /* @__PURE__ */ defineOperation({
  script: COUNTER_GET,
  encode: (keys: readonly string[]) => [...keys],
  decode: (reply, keys): number[] => listReply(COUNTER_GET, reply, keys.length).map(Number),
});

/** Deletes one counter; its value before. */
export const DELETE_VALUE = /* @__PURE__ */ defineOperation({
  script: COUNTER_DEL,
  encode: (key: string) => [key],
  decode: (reply): number => intReply(COUNTER_DEL, reply),
});

/** Deletes every counter of the hash. */
export const CLEAR_VALUES = /* @__PURE__ */ defineOperation({
  script: COUNTER_CLEAR,
  encode: (_: void) => [],
  decode: (r): void => void intReply(COUNTER_CLEAR, r),
});

/** One lax flush: a batch of deltas under its sequence number (0: none), and keys to read. */
export interface SyncBatch {
  seq: number;
  writes: ReadonlyArray<readonly [string, number]>;
  reads: readonly string[];
}

/** How long the store remembers a lax writer's last applied batch, in ms (24 h). */
const SEQ_TTL_MS = 86_400_000;

/**
 * Applies a batch once per sequence number, then reads the batch's keys and `reads`: one outcome
 * a key, the batch's first. Keys: the hash and the writer's sequence key.
 */
export const SYNC_BATCH = /* @__PURE__ */ defineOperation({
  script: COUNTER_SYNC,
  encode({ seq, writes, reads }: SyncBatch) {
    const argv: Array<string | number> = [seq, SEQ_TTL_MS, writes.length];
    for (const [k, delta] of writes) argv.push(k, delta);
    argv.push(...reads);
    return argv;
  },
  decode(reply, { writes, reads }): Array<Synced<number>> {
    const a = listReply(COUNTER_SYNC, reply);
    if (
      !Array.isArray(a[1]) || !Array.isArray(a[2]) || a[2].length !== writes.length + reads.length
    ) {
      throw unexpectedReply(COUNTER_SYNC, reply);
    }
    const dropped = new Set(a[1].map(String));
    return a[2].map((v, i) => ({
      value: Number(v),
      dropped: i < writes.length && dropped.has(writes[i]![0]),
    }));
  },
});
