/**
 * The instance-aware counters' atomic operations: lua/icounter_*.lua and their models (the
 * executable specification; see the Lua header for the layout and the invariant).
 *
 * @module
 */
import { compare } from "../core/comparator.ts";
import { DROP_SLICES, MAX_SAFE_INTEGER as MAX, REAP_MEMBERS, REAP_SLICES } from "../core/limits.ts";
import type { MemoryDb } from "../store/memory_db.ts";
import { defineOperation, intReply, unexpectedReply } from "../store/operation.ts";
import { defineScript } from "../store/script.ts";
import { OVERFLOW_REPLY, ScriptFailure } from "../store/script_failure.ts";
import type { Reply } from "../store/types.ts";
import type { Entry, EntryResult } from "./_core.ts";

const fmt = (n: number): string => n.toFixed(0);

/**
 * The field of `member`'s slice of `key` in the slices hash and the owned index (as
 * lua/icounter_apply.lua builds it): `<member>:<key>`. A member name holds no `:` (see
 * `memberName`), so the field splits at its first `:` whatever the key holds.
 */
export function sliceField(member: string, key: string): string {
  return `${member}:${key}`;
}

/** Splits a {@linkcode sliceField} back into its member and key. */
export function splitSliceField(field: string): [member: string, key: string] {
  const i = field.indexOf(":");
  return [field.slice(0, i), field.slice(i + 1)];
}

/** Splits a stored slice record `"<epoch>:<value>"`. */
export function parseSlice(rec: string): [epoch: string, value: number] {
  const i = rec.indexOf(":");
  return [rec.slice(0, i), Number(rec.slice(i + 1))];
}

function dropSlices(
  db: MemoryDb,
  keys: readonly string[],
  m: string,
  budget: number,
  floor: string,
) {
  const [, , kTotal, kEpoch, kSlices, kOwned] = keys as [
    string,
    string,
    string,
    string,
    string,
    string,
  ];
  // Every field from "<m>:" up to (excluding) "<m>;" starts with "<m>:", and m holds no ":".
  const fields = db.zrangeByLex(kOwned, `[${m}:`, `(${m};`, budget);
  for (const field of fields) {
    const key = field.slice(m.length + 1);
    const rec = db.hget(kSlices, field);
    if (rec !== null) {
      const [e, v] = parseSlice(rec);
      if (e === (db.hget(kEpoch, key) ?? floor)) {
        const total = Number(db.hget(kTotal, key) ?? "0") - v;
        if (total === 0) db.hdel(kTotal, key);
        else db.hset(kTotal, key, fmt(total));
      }
      db.hdel(kSlices, field);
    }
    db.zrem(kOwned, field);
  }
  return fields.length;
}

/** See lua/icounter_apply.lua. */
export const ICOUNTER_APPLY = defineScript("icounter_apply", ({ db, nowMs }, keys, argv) => {
  const [kInst, kReap, kTotal, kEpoch, kSlices, kOwned, kMeta, kApplied] = keys as string[] as [
    string,
    string,
    string,
    string,
    string,
    string,
    string,
    string,
  ];
  const [member, ttlS, register, base, seqS, lenientS, mode, unregister] = argv as string[] as [
    string,
    string,
    string,
    string,
    string,
    string,
    string,
    string,
  ];
  const seq = Number(seqS);
  const lenient = lenientS === "1";

  // 1. registration and heartbeat
  if (db.zscore(kInst, member) === null) {
    if (register !== "1" || db.zscore(kReap, member) !== null) return [0];
  }
  db.zadd(kInst, nowMs + Number(ttlS), member);
  let floor = db.hget(kMeta, "floor");
  if (floor === null) {
    floor = base;
    db.hset(kMeta, "seq", floor);
    db.hset(kMeta, "floor", floor);
  }
  const fl = floor;
  const epochOf = (key: string): string => db.hget(kEpoch, key) ?? fl;

  // 2. reaping, bounded
  for (const [m] of db.zrangeByScore(kInst, -Infinity, nowMs, REAP_MEMBERS)) {
    db.zrem(kInst, m);
    db.zadd(kReap, 0, m);
    db.hdel(kApplied, m);
  }
  let budget = REAP_SLICES;
  for (const [m] of db.zrangeAll(kReap).slice(0, REAP_MEMBERS)) {
    const n = dropSlices(db, keys, m, budget, fl);
    if (n < budget) db.zrem(kReap, m);
    budget -= n;
    if (budget <= 0) break;
  }

  // 3a. drop my slices
  if (mode === "drop") {
    const more = dropSlices(db, keys, member, DROP_SLICES, fl) === DROP_SLICES;
    if (!more && unregister === "1") {
      db.zrem(kInst, member);
      db.hdel(kApplied, member);
    }
    return [1, more ? 1 : 0];
  }

  // 3b. the entries
  let applied = 1;
  if (seq > 0) {
    const last = Number(db.hget(kApplied, member) ?? "0");
    if (seq <= last) applied = 0;
    else db.hset(kApplied, member, fmt(seq));
  }
  const T = new Map<string, number>();
  const E = new Map<string, string>();
  const S = new Map<string, number>();
  const dirty = new Set<string>();
  const bumped = new Set<string>();
  const order: string[] = [];
  let drawn = 0;
  const load = (key: string) => {
    if (T.has(key)) return;
    T.set(key, Number(db.hget(kTotal, key) ?? "0"));
    E.set(key, epochOf(key));
    let s = 0;
    const rec = db.hget(kSlices, sliceField(member, key));
    if (rec !== null) {
      const [e, v] = parseSlice(rec);
      if (e === E.get(key)) s = v;
    }
    S.set(key, s);
    order.push(key);
  };
  const reply: Reply[] = [1, applied];
  for (let i = 8; i < argv.length; i += 5) {
    let op = argv[i]!;
    const key = argv[i + 1]!;
    const cmp = argv[i + 2]!;
    const operand = Number(argv[i + 3]);
    const amount = Number(argv[i + 4]);
    if (applied === 0 && (op === "inc" || op === "seti")) op = "get";
    load(key);
    const t0 = T.get(key)!;
    const s0 = S.get(key)!;
    let matched = 1;
    if (op === "inc" || op === "set") {
      if (!compare(cmp, operand, t0)) matched = 0;
    } else if (op === "seti") {
      if (!compare(cmp, operand, s0)) matched = 0;
    }
    if (matched === 1) {
      let t1 = t0;
      let s1 = s0;
      if (op === "inc") [t1, s1] = [t0 + amount, s0 + amount];
      else if (op === "set") [t1, s1] = [amount, amount];
      else if (op === "seti") [t1, s1] = [t0 - s0 + amount, amount];
      else if (op === "delo") [t1, s1] = [t0 - s0, 0];
      else if (op === "del") [t1, s1] = [0, 0];
      else if (op === "rst") {
        if (fmt(operand) === E.get(key)) [t1, s1] = [t0 - s0 + amount, amount];
        else matched = 0;
      }
      if (t1 > MAX || t1 < -MAX || s1 > MAX || s1 < -MAX) {
        if (!lenient) {
          throw new ScriptFailure(
            `${OVERFLOW_REPLY} ${key}: ${fmt(t0)} -> ${fmt(t1)} leaves the safe-integer range`,
          );
        }
        [matched, t1, s1] = [0, t0, s0];
      }
      if (op === "set" || op === "del") {
        drawn++;
        bumped.add(key);
        E.set(key, fmt(Number(db.hget(kMeta, "seq")) + drawn));
      }
      if (op !== "get" && matched === 1) dirty.add(key);
      T.set(key, t1);
      S.set(key, s1);
    }
    if (op === "del") reply.push("0", "0");
    else reply.push(fmt(T.get(key)!), fmt(S.get(key)!));
    reply.push(fmt(t0), fmt(s0), matched, E.get(key)!);
  }
  if (drawn > 0) db.hincrby(kMeta, "seq", drawn);
  for (const key of order) {
    if (!dirty.has(key)) continue;
    const t = T.get(key)!;
    const s = S.get(key)!;
    if (t === 0) db.hdel(kTotal, key);
    else db.hset(kTotal, key, fmt(t));
    if (bumped.has(key)) db.hset(kEpoch, key, E.get(key)!);
    const field = sliceField(member, key);
    if (s === 0) {
      db.hdel(kSlices, field);
      db.zrem(kOwned, field);
    } else {
      db.hset(kSlices, field, `${E.get(key)!}:${fmt(s)}`);
      db.zadd(kOwned, 0, field);
    }
  }
  return reply;
});

/** See lua/icounter_clear.lua. */
export const ICOUNTER_CLEAR = defineScript("icounter_clear", ({ db }, keys, argv) => {
  const [, , kTotal, kEpoch, kSlices, kOwned, kMeta] = keys as string[] as [
    string,
    string,
    string,
    string,
    string,
    string,
    string,
  ];
  db.del(kTotal, kEpoch, kSlices, kOwned);
  if (db.hget(kMeta, "floor") === null) {
    db.hset(kMeta, "seq", argv[0]!);
    db.hset(kMeta, "floor", argv[0]!);
  }
  const floor = db.hincrby(kMeta, "seq", 1);
  db.hset(kMeta, "floor", fmt(floor));
  return 1;
});

/** What every `icounter_apply` call carries (see lua/icounter_apply.lua for ARGV). */
interface ApplyBase {
  member: string;
  thresholdMs: number;
  /** Register the member when it is missing. */
  register: boolean;
  /** The random epoch base for a missing meta. */
  base: string;
  /** The flush sequence (0: none). */
  seq: number;
  /** An entry that would overflow is skipped (matched false) instead of failing the call. */
  lenient: boolean;
}

/** An `icounter_apply` call: entries run atomically, or one bounded step of dropping slices. */
export type ApplyCall =
  | ApplyBase & { mode: "ops"; entries: readonly Entry[] }
  | ApplyBase & { mode: "drop"; unregister: boolean };

/**
 * What an `icounter_apply` call did: refused (`registered: false`: the member is not registered
 * and did not ask to be), or ran: `applied` (ops: the flush sequence was new), `more` (drop:
 * slices remain) and one result per entry.
 */
export type ApplyOutcome =
  | { registered: false }
  | { registered: true; applied: boolean; more: boolean; results: EntryResult[] };

/** Runs entries atomically, or one step of dropping this member's slices. */
export const APPLY_ENTRIES = /* @__PURE__ */ defineOperation({
  script: ICOUNTER_APPLY,
  encode(c: ApplyCall) {
    const argv: Array<string | number> = [
      c.member,
      c.thresholdMs,
      c.register ? 1 : 0,
      c.base,
      c.seq,
      c.lenient ? 1 : 0,
      c.mode,
    ];
    if (c.mode === "drop") {
      argv.push(c.unregister ? 1 : 0);
      return argv;
    }
    argv.push(0);
    for (const e of c.entries) {
      const operand = e.op === "rst" ? e.epoch! : e.cmp?.operand ?? 0;
      argv.push(e.op, e.key, e.cmp?.op ?? "always", operand, e.amount);
    }
    return argv;
  },
  // `{0}`, or `{1, x}` followed by 6 values per entry. Anything else (a client that handed over
  // another command's reply after a dropped connection) is a failed call, never a source of NaN.
  decode(reply, c): ApplyOutcome {
    const entries = c.mode === "ops" ? c.entries : [];
    if (Array.isArray(reply)) {
      if (reply.length === 1 && Number(reply[0]) === 0) return { registered: false };
      if (reply.length === 2 + 6 * entries.length && Number(reply[0]) === 1) {
        const flag = Number(reply[1]) === 1;
        return {
          registered: true,
          applied: c.mode === "ops" && flag,
          more: c.mode === "drop" && flag,
          results: entries.map((e, i) => {
            const at = 2 + 6 * i;
            return {
              key: e.key,
              total: Number(reply[at]),
              mine: Number(reply[at + 1]),
              previousTotal: Number(reply[at + 2]),
              previousMine: Number(reply[at + 3]),
              matched: Number(reply[at + 4]) === 1,
              epoch: String(reply[at + 5]),
            };
          }),
        };
      }
    }
    throw unexpectedReply(ICOUNTER_APPLY, reply);
  },
});

/** Clears the whole prefix for every instance (`base`: the random epoch base for a new meta). */
export const CLEAR_ALL = /* @__PURE__ */ defineOperation({
  script: ICOUNTER_CLEAR,
  encode: (base: string) => [base],
  decode: (r): void => void intReply(ICOUNTER_CLEAR, r),
});
