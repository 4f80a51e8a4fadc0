/**
 * The rate limiter's atomic operations (lua/ratelimit_*.lua) and their MemoryStore models: each
 * model loads the entity's state from the keyspace, runs the pure model (./_model.ts,
 * ./_hybrid_model.ts) and stores it back exactly as the Lua script leaves it. Each script's typed
 * operations (arguments encoded, reply decoded: here and only here) follow it.
 *
 * @module
 */
import type { MemoryDb } from "../store/memory_db.ts";
import {
  defineOperation,
  intReply,
  listReply,
  numberReply,
  unexpectedReply,
} from "../store/operation.ts";
import { defineScript } from "../store/script.ts";
import { ARGUMENT_REPLY, ScriptFailure } from "../store/script_failure.ts";
import type { Reply } from "../store/types.ts";
import {
  absoluteCheck,
  absoluteInc,
  block,
  evict,
  expiresAt,
  type ModelDecision,
  newSeries,
  refund,
  type Series,
  setIf,
  suppressedCheck,
  suppressedInc,
  suppressionFactor,
  type WindowConfig,
} from "./_model.ts";
import {
  hybridBlock,
  hybridExpiresAt,
  hybridRefund,
  hybridSet,
  type HybridState,
  hybridSync,
  newHybridState,
  type SyncReply,
  type SyncRequest,
} from "./_hybrid_model.ts";
import type { RateLimitDecision, RateLimitSetResult, SuppressedSnapshot } from "./types.ts";

const num = (s: string | null | undefined): number => s == null ? 0 : Number(s);
const str = (n: number): string => n.toFixed(0);

function unknownOp(op: string | undefined): never {
  throw new ScriptFailure(`${ARGUMENT_REPLY} Unknown rate-limit operation: ${op}`);
}

/**
 * The field of an entity's total: `T` (suppressed), or `T<capacity>` (absolute: its script's
 * hot path proves the capacity unchanged by incrementing that field).
 */
function totalField(suppressed: boolean, capacity: string | undefined): string {
  return suppressed ? "T" : `T${capacity}`;
}

/**
 * Loads an absolute or suppressed entity (one hash). The total of every bucket (observed, for
 * suppressed) is in {@linkcode totalField}, `t` is that of all but the newest, whose count is the
 * difference and has no field of its own; `e` is the hash's expiry (written by
 * {@linkcode store}).
 */
function load(db: MemoryDb, h: string, suppressed: boolean): Series {
  const s = newSeries();
  const all = db.hgetall(h);
  s.total = num(all.get(totalField(suppressed, all.get("c"))));
  s.capacity = num(all.get("c"));
  s.declinedTotal = suppressed ? num(all.get("d")) : 0;
  s.hard = suppressed ? num(all.get("h")) : s.capacity;
  s.origin = all.has("o") ? Number(all.get("o")) : NaN;
  s.blockedUntil = suppressed ? 0 : num(all.get("b"));
  const idx = [...all.keys()].filter((f) => /^-?\d+$/.test(f)).map(Number);
  const newest = all.has("n") ? Number(all.get("n")) : NaN;
  if (!Number.isNaN(newest)) idx.push(newest);
  idx.sort((a, b) => a - b);
  for (const i of idx) {
    s.idx.push(i);
    s.count.push(i === newest ? s.total - num(all.get("t")) : num(all.get(str(i))));
    s.declined.push(suppressed ? num(all.get(`x${str(i)}`)) : 0);
  }
  return s;
}

/**
 * Stores it back: gone when empty (but for a block, kept as `b` and `e` alone), else every field,
 * expiring with its newest bucket or its block, whichever is later.
 */
function store(db: MemoryDb, h: string, s: Series, cfg: WindowConfig, suppressed: boolean): void {
  db.del(h);
  if (s.idx.length === 0) {
    if (s.blockedUntil > 0) {
      db.hset(h, "b", str(s.blockedUntil));
      db.hset(h, "e", str(s.blockedUntil));
      db.pexpireat(h, s.blockedUntil);
    }
    return;
  }
  const last = s.idx.length - 1;
  db.hset(h, "c", str(s.capacity));
  db.hset(h, "o", str(s.origin));
  db.hset(h, "n", str(s.idx[last]!));
  db.hset(h, totalField(suppressed, str(s.capacity)), str(s.total));
  db.hset(h, "t", str(s.total - s.count[last]!));
  if (suppressed) {
    db.hset(h, "d", str(s.declinedTotal));
    db.hset(h, "h", str(s.hard));
  }
  s.idx.forEach((i, k) => {
    if (k !== last) db.hset(h, str(i), str(s.count[k]!));
    // Declined counts only where nonzero (absent means 0).
    if (suppressed && s.declined[k]! > 0) db.hset(h, `x${str(i)}`, str(s.declined[k]!));
  });
  if (s.blockedUntil > 0) db.hset(h, "b", str(s.blockedUntil));
  // The expiry, also as a field: the scripts read the time as e - PTTL.
  const at = Math.max(expiresAt(s, cfg), s.blockedUntil);
  db.hset(h, "e", str(at));
  db.pexpireat(h, at);
}

function cfgOf(argv: readonly string[]): WindowConfig {
  return { windowMs: Number(argv[1]), groupMs: Number(argv[2]) };
}

/**
 * A decision as the scripts reply it: allowed `{remaining, resetMs}` (absolute inc: the limit is
 * the caller's) or `{remaining, resetMs, limit}`; `{"rejected", retryAfterMs,
 * remainingAfterWaiting, remaining, resetMs, limit, blockedMs}`; `{"suppressed", factor,
 * isAllowed (1|0), remaining, resetMs, limit}`.
 */
function decisionReply(d: ModelDecision, withLimit: boolean, blockedMs = 0): Reply {
  const nums = [str(d.remaining), str(d.resetMs)];
  if (d.kind === "allowed") return withLimit ? [...nums, str(d.limit)] : nums;
  if (d.kind === "rejected") {
    return [
      "rejected",
      str(d.retryAfterMs),
      str(d.remainingAfterWaiting),
      ...nums,
      str(d.limit),
      str(blockedMs),
    ];
  }
  return ["suppressed", String(d.suppressionFactor), d.isAllowed ? 1 : 0, ...nums, str(d.limit)];
}

/** An operation of the absolute script and its arguments (see lua/ratelimit_absolute.lua). */
export type AbsoluteOp =
  | { op: "inc"; cap: number; n: number }
  | { op: "check" | "get" }
  | { op: "refund"; n: number }
  | { op: "block"; ms: number }
  | { op: "set"; cap: number; n: number; cmp: string; operand: number };

/**
 * The absolute script's argv: the window and bucket size (ms, formatted once by the caller),
 * the capacity, then `n` and the operation only when they differ from 1 and "inc" (each
 * argument costs Redis about a fifth of a command).
 * @param w the window, ms
 * @param g the bucket size, ms
 * @param o the operation
 * @returns the argv
 */
export function absoluteArgv(w: string, g: string, o: AbsoluteOp): Array<string | number> {
  switch (o.op) {
    case "inc":
      return o.n === 1 ? [w, g, o.cap] : [w, g, o.cap, o.n];
    case "set":
      return [w, g, o.cap, o.n, "set", o.cmp, o.operand];
    case "refund":
      return [w, g, "", o.n, "refund"];
    case "block":
      return [w, g, "", o.ms, "block"];
    default:
      return [w, g, "", 1, o.op];
  }
}

/** See lua/ratelimit_absolute.lua (and {@linkcode absoluteArgv}). */
export const RL_ABSOLUTE = defineScript("ratelimit_absolute", ({ db, nowMs }, keys, argv) => {
  const h = keys[0]!;
  const cfg: WindowConfig = { windowMs: Number(argv[0]), groupMs: Number(argv[1]) };
  const cap = Number(argv[2]);
  const n = argv[3] === undefined ? 1 : Number(argv[3]);
  const s = load(db, h, false);
  const blockedMs = () => s.blockedUntil > nowMs ? s.blockedUntil - nowMs : 0;
  let reply: Reply;
  switch (argv[4] ?? "inc") {
    case "inc":
      reply = decisionReply(absoluteInc(s, nowMs, cfg, cap, n), false, blockedMs());
      break;
    case "check":
      reply = decisionReply(absoluteCheck(s, nowMs, cfg), true, blockedMs());
      break;
    case "get":
      evict(s, nowMs, cfg);
      reply = str(s.total);
      break;
    case "refund":
      reply = str(refund(s, nowMs, cfg, n));
      break;
    case "block":
      block(s, nowMs, cfg, n);
      reply = 1;
      break;
    case "set": {
      const o = setIf(s, nowMs, cfg, argv[5]!, Number(argv[6]), n, cap, cap);
      reply = [o.matched ? 1 : 0, str(o.previousTotal), str(o.total)];
      break;
    }
    default:
      unknownOp(argv[4]);
  }
  store(db, h, s, cfg, false);
  return reply;
});

/**
 * Decodes a set reply `{matched (1|0), previous total, total}` (every rate-limit script's).
 * @param r the reply
 * @returns the result
 */
export function decodeSetReply(r: Reply): RateLimitSetResult {
  const a = listReply(RL_SET_REPLY, r, 3);
  return { matched: Number(a[0]) === 1, previousTotal: Number(a[1]), total: Number(a[2]) };
}

/** Names the scripts' shared set reply in errors. */
const RL_SET_REPLY = { name: "ratelimit set", sha1: "" };

/**
 * An operation of the suppressed script and its arguments (see lua/ratelimit_suppressed.lua):
 * `draw` is the caller's uniform random number in [0, 1), drawn before the call.
 */
export type SuppressedOp =
  | { op: "inc"; cap: number; hard: number; n: number; draw: number }
  | { op: "check"; draw: number }
  | { op: "get" | "factor" }
  | { op: "set"; cap: number; hard: number; n: number; cmp: string; operand: number };

/**
 * The suppressed script's argv: the operation, the window and bucket size (ms, formatted once by
 * the caller), then the soft and hard limit, `n`, the random draw and the comparator, as far as
 * the operation reads them (`check` pads the limits and `n` with 0, `set` the draw).
 * @param w the window, ms
 * @param g the bucket size, ms
 * @param o the operation
 * @returns the argv
 */
export function suppressedArgv(w: string, g: string, o: SuppressedOp): Array<string | number> {
  switch (o.op) {
    case "inc":
      return ["inc", w, g, o.cap, o.hard, o.n, o.draw];
    case "check":
      return ["check", w, g, 0, 0, 0, o.draw];
    case "set":
      return ["set", w, g, o.cap, o.hard, o.n, 0, o.cmp, o.operand];
    default:
      return [o.op, w, g];
  }
}

/** See lua/ratelimit_suppressed.lua (and {@linkcode suppressedArgv}). */
export const RL_SUPPRESSED = defineScript("ratelimit_suppressed", ({ db, nowMs }, keys, argv) => {
  const h = keys[0]!;
  const cfg = cfgOf(argv);
  const s = load(db, h, true);
  let reply: Reply;
  const soft = Number(argv[3]);
  const hard = Number(argv[4]);
  const n = Number(argv[5]);
  switch (argv[0]) {
    case "inc":
      reply = decisionReply(
        suppressedInc(s, nowMs, cfg, soft, hard, n, Number(argv[6])),
        true,
      );
      break;
    case "check":
      reply = decisionReply(suppressedCheck(s, nowMs, cfg, Number(argv[6])), true);
      break;
    case "get":
    case "factor": {
      const sf = String(suppressionFactor(s, nowMs, cfg));
      reply = argv[0] === "factor" ? sf : [str(s.total), str(s.declinedTotal), sf];
      break;
    }
    case "set": {
      const o = setIf(s, nowMs, cfg, argv[7]!, Number(argv[8]), n, soft, hard);
      reply = [o.matched ? 1 : 0, str(o.previousTotal), str(o.total)];
      break;
    }
    default:
      unknownOp(argv[0]);
  }
  store(db, h, s, cfg, true);
  return reply;
});

function loadHybrid(db: MemoryDb, h: string, z: string, rz: string): HybridState {
  const st = newHybridState();
  const s = st.s;
  s.total = num(db.hget(h, "t"));
  s.declinedTotal = num(db.hget(h, "d"));
  s.capacity = num(db.hget(h, "c"));
  s.hard = num(db.hget(h, "h"));
  for (const [m] of db.zrangeAll(z)) {
    s.idx.push(Number(m));
    s.count.push(num(db.hget(h, m)));
    s.declined.push(num(db.hget(h, `x${m}`)));
  }
  s.origin = s.idx[0] ?? NaN;
  st.reserved = num(db.hget(h, "R"));
  st.blockedUntil = num(db.hget(h, "b"));
  for (const [id, exp] of db.zrangeAll(rz)) {
    st.res.set(id, { r: num(db.hget(h, `r:${id}`)), exp });
  }
  for (const [f, v] of db.hgetall(h)) {
    if (f.startsWith("q:")) st.seq.set(f.slice(2), Number(v));
  }
  return st;
}

function storeHybrid(
  db: MemoryDb,
  keys: readonly [string, string, string],
  st: HybridState,
  cfg: WindowConfig,
): void {
  const [h, z, rz] = keys;
  db.del(h, z, rz);
  if (st.s.idx.length === 0 && st.res.size === 0 && st.blockedUntil === 0) return;
  if (st.blockedUntil > 0) db.hset(h, "b", str(st.blockedUntil));
  db.hset(h, "t", str(st.s.total));
  db.hset(h, "d", str(st.s.declinedTotal));
  db.hset(h, "c", str(st.s.capacity));
  db.hset(h, "h", str(st.s.hard));
  db.hset(h, "R", str(st.reserved));
  for (const [id, v] of st.res) {
    db.hset(h, `r:${id}`, str(v.r));
    db.zadd(rz, v.exp, id);
  }
  for (const [id, q] of st.seq) db.hset(h, `q:${id}`, str(q));
  st.s.idx.forEach((i, k) => {
    db.hset(h, str(i), str(st.s.count[k]!));
    if (st.s.declined[k]! > 0) db.hset(h, `x${str(i)}`, str(st.s.declined[k]!));
    db.zadd(z, i, str(i));
  });
  const at = hybridExpiresAt(st, cfg);
  for (const k of keys) db.pexpireat(k, at);
}

/**
 * An operation of the hybrid script and its arguments (see lua/ratelimit_hybrid.lua): a sync
 * carries a {@linkcode SyncRequest}.
 */
export type HybridOp =
  | ({ op: "sync" } & SyncRequest)
  | { op: "set"; cap: number; hard: number; n: number; cmp: string; operand: number }
  | { op: "refund"; n: number }
  | { op: "block"; ms: number };

/**
 * The hybrid script's argv: the operation, the window and bucket size (ms, formatted once by the
 * caller), then the operation's arguments in the order the script reads them.
 * @param w the window, ms
 * @param g the bucket size, ms
 * @param o the operation
 * @returns the argv
 */
export function hybridArgv(w: string, g: string, o: HybridOp): Array<string | number> {
  if (o.op === "set") return ["set", w, g, o.cap, o.hard, o.n, o.cmp, o.operand];
  if (o.op === "refund") return ["refund", w, g, o.n];
  if (o.op === "block") return ["block", w, g, o.ms];
  const { id, seq, used, extra, declined, want, ttlMs, cap, hard, hintN } = o;
  return ["sync", w, g, id, seq, used, extra, declined, want, ttlMs, cap, hard, hintN];
}

/**
 * Decodes a sync reply `{applied, r, observed, declined, reserved, cap, hard, retryAfterMs,
 * remaining, resetMs, blockedMs}` (numbers as strings, `applied` 1|0).
 * @param r the reply
 * @returns the reply's fields
 */
export function decodeSyncReply(r: Reply): SyncReply {
  const a = listReply(RL_HYBRID, r, 11).map(Number);
  return {
    applied: a[0] === 1,
    r: a[1]!,
    observed: a[2]!,
    declined: a[3]!,
    reserved: a[4]!,
    cap: a[5]!,
    hard: a[6]!,
    retryAfterMs: a[7]!,
    remainingAfterWaiting: a[8]!,
    resetMs: a[9]!,
    blockedMs: a[10]!,
  };
}

/** See lua/ratelimit_hybrid.lua (and {@linkcode hybridArgv}). */
export const RL_HYBRID = defineScript("ratelimit_hybrid", ({ db, nowMs }, keys, argv) => {
  const k = keys as [string, string, string];
  const cfg = cfgOf(argv);
  const st = loadHybrid(db, ...k);
  let reply: Reply;
  if (argv[0] === "sync") {
    const a = argv.slice(3).map(Number);
    const r = hybridSync(st, nowMs, cfg, {
      id: argv[3]!,
      seq: a[1]!,
      used: a[2]!,
      extra: a[3]!,
      declined: a[4]!,
      want: a[5]!,
      ttlMs: a[6]!,
      cap: a[7]!,
      hard: a[8]!,
      hintN: a[9]!,
    });
    reply = [
      r.applied ? 1 : 0,
      ...[r.r, r.observed, r.declined, r.reserved, r.cap, r.hard].map(str),
      str(r.retryAfterMs),
      str(r.remainingAfterWaiting),
      str(r.resetMs),
      str(r.blockedMs),
    ];
  } else if (argv[0] === "set") {
    const o = hybridSet(
      st,
      nowMs,
      cfg,
      argv[6]!,
      Number(argv[7]),
      Number(argv[5]),
      Number(argv[3]),
      Number(argv[4]),
    );
    reply = [o.matched ? 1 : 0, str(o.previousTotal), str(o.total)];
  } else if (argv[0] === "refund") {
    reply = str(hybridRefund(st, nowMs, cfg, Number(argv[3])));
  } else if (argv[0] === "block") {
    hybridBlock(st, nowMs, cfg, Number(argv[3]));
    reply = 1;
  } else {
    unknownOp(argv[0]);
  }
  storeHybrid(db, k, st, cfg);
  return reply;
});

/** A limiter's window, formatted once: the window and bucket size in ms, the window in seconds. */
export interface RlWindow {
  readonly w: string;
  readonly g: string;
  readonly seconds: number;
}

/** An operation's arguments: the limiter's window and the operation. */
export interface RlArgs<O> {
  win: RlWindow;
  o: O;
}

/**
 * How long a rejection says its key stays blocked, ms (the store-backed shell answers that key
 * from memory meanwhile). Kept out of the public decision.
 */
export const BLOCKED_MS: WeakMap<RateLimitDecision, number> = new WeakMap();

/**
 * Decodes a decision reply (see `decisionReply`).
 * @param r the reply
 * @param windowSizeSeconds the window
 * @param limit the limit when the reply leaves it out (the caller's capacity)
 * @returns the decision
 */
export function decodeDecision(r: Reply, windowSizeSeconds: number, limit = 0): RateLimitDecision {
  const a = listReply(RL_DECISION, r);
  if (a[0] === "rejected" && a.length === 7) {
    const d: RateLimitDecision = {
      kind: "rejected",
      retryAfterMs: Number(a[1]),
      remainingAfterWaiting: Number(a[2]),
      windowSizeSeconds,
      limit: Number(a[5]),
      remaining: Number(a[3]),
      resetMs: Number(a[4]),
    };
    const blockedMs = Number(a[6]);
    if (blockedMs > 0) BLOCKED_MS.set(d, blockedMs);
    return d;
  }
  if (a[0] === "suppressed" && a.length === 6) {
    return {
      kind: "suppressed",
      suppressionFactor: Number(a[1]),
      isAllowed: Number(a[2]) === 1,
      limit: Number(a[5]),
      remaining: Number(a[3]),
      resetMs: Number(a[4]),
    };
  }
  if (a.length === 2 || a.length === 3) {
    return {
      kind: "allowed",
      limit: a.length === 3 ? Number(a[2]) : limit,
      remaining: Number(a[0]),
      resetMs: Number(a[1]),
    };
  }
  throw unexpectedReply(RL_DECISION, r);
}

/** Names the scripts' shared decision reply in errors. */
const RL_DECISION = { name: "ratelimit decision", sha1: "" };

type Of<U, K> = Extract<U, { op: K }>;

/** Absolute: admit `n` when it fits (inc), or whether one more would (check). */
export const ABSOLUTE_DECIDE = /* @__PURE__ */ defineOperation({
  script: RL_ABSOLUTE,
  encode: (a: RlArgs<Of<AbsoluteOp, "inc"> | { op: "check" }>) =>
    absoluteArgv(a.win.w, a.win.g, a.o),
  decode: (r, a) => decodeDecision(r, a.win.seconds, a.o.op === "inc" ? a.o.cap : 0),
});

/** Absolute: give back `n` of the most recent usage; the live total after. */
export const ABSOLUTE_REFUND = /* @__PURE__ */ defineOperation({
  script: RL_ABSOLUTE,
  encode: (a: RlArgs<Of<AbsoluteOp, "refund">>) => absoluteArgv(a.win.w, a.win.g, a.o),
  decode: (r): number => intReply(RL_ABSOLUTE, r),
});

/** Absolute: block the key for `ms`. */
export const ABSOLUTE_BLOCK = /* @__PURE__ */ defineOperation({
  script: RL_ABSOLUTE,
  encode: (a: RlArgs<Of<AbsoluteOp, "block">>) => absoluteArgv(a.win.w, a.win.g, a.o),
  decode: (r): void => void intReply(RL_ABSOLUTE, r),
});

/** Absolute: the live total. */
export const ABSOLUTE_TOTAL = /* @__PURE__ */ defineOperation({
  script: RL_ABSOLUTE,
  encode: (win: RlWindow) => absoluteArgv(win.w, win.g, { op: "get" }),
  decode: (r): number => intReply(RL_ABSOLUTE, r),
});

/** Absolute: replace the window with one bucket of `n` when the comparator matches. */
export const ABSOLUTE_SET = /* @__PURE__ */ defineOperation({
  script: RL_ABSOLUTE,
  encode: (a: RlArgs<Of<AbsoluteOp, "set">>) => absoluteArgv(a.win.w, a.win.g, a.o),
  decode: decodeSetReply,
});

/** Suppressed: record `n` and decide (inc), or the verdict a unit call would get (check). */
export const SUPPRESSED_DECIDE = /* @__PURE__ */ defineOperation({
  script: RL_SUPPRESSED,
  encode: (a: RlArgs<Of<SuppressedOp, "inc" | "check">>) => suppressedArgv(a.win.w, a.win.g, a.o),
  decode: (r, a) => decodeDecision(r, a.win.seconds),
});

/** Suppressed: observed and declined usage and the current factor. */
export const SUPPRESSED_SNAPSHOT = /* @__PURE__ */ defineOperation({
  script: RL_SUPPRESSED,
  encode: (win: RlWindow) => suppressedArgv(win.w, win.g, { op: "get" }),
  decode(r): SuppressedSnapshot {
    const a = listReply(RL_SUPPRESSED, r, 3);
    return { total: Number(a[0]), declined: Number(a[1]), suppressionFactor: Number(a[2]) };
  },
});

/** Suppressed: the factor a unit call would be suppressed with now. */
export const SUPPRESSED_FACTOR = /* @__PURE__ */ defineOperation({
  script: RL_SUPPRESSED,
  encode: (win: RlWindow) => suppressedArgv(win.w, win.g, { op: "factor" }),
  decode: (r): number => numberReply(RL_SUPPRESSED, r),
});

/** Suppressed: replace the window with one bucket of `n` when the comparator matches. */
export const SUPPRESSED_SET = /* @__PURE__ */ defineOperation({
  script: RL_SUPPRESSED,
  encode: (a: RlArgs<Of<SuppressedOp, "set">>) => suppressedArgv(a.win.w, a.win.g, a.o),
  decode: decodeSetReply,
});

/** Hybrid: commit usage and renew (or release) this instance's reservation. */
export const HYBRID_SYNC = /* @__PURE__ */ defineOperation({
  script: RL_HYBRID,
  encode: (a: RlArgs<Of<HybridOp, "sync">>) => hybridArgv(a.win.w, a.win.g, a.o),
  decode: decodeSyncReply,
});

/** Hybrid: give back `n` of the committed window's most recent usage; the observed total after. */
export const HYBRID_REFUND = /* @__PURE__ */ defineOperation({
  script: RL_HYBRID,
  encode: (a: RlArgs<Of<HybridOp, "refund">>) => hybridArgv(a.win.w, a.win.g, a.o),
  decode: (r): number => intReply(RL_HYBRID, r),
});

/** Hybrid: block the key for `ms`. */
export const HYBRID_BLOCK = /* @__PURE__ */ defineOperation({
  script: RL_HYBRID,
  encode: (a: RlArgs<Of<HybridOp, "block">>) => hybridArgv(a.win.w, a.win.g, a.o),
  decode: (r): void => void intReply(RL_HYBRID, r),
});

/** Hybrid: replace the window with one bucket of `n` when the comparator matches. */
export const HYBRID_SET = /* @__PURE__ */ defineOperation({
  script: RL_HYBRID,
  encode: (a: RlArgs<Of<HybridOp, "set">>) => hybridArgv(a.win.w, a.win.g, a.o),
  decode: decodeSetReply,
});
