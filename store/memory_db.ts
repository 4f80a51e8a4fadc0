/**
 * A small Redis-like keyspace (strings, hashes, sets, sorted sets, expiry) that the script models
 * run against. Method names and semantics follow the Redis commands they stand for, so a model
 * reads like its Lua script. Time comes from the caller (`ctx.nowMs`), never from the clock.
 *
 * @module
 */
import { ScriptFailure } from "./script_failure.ts";

type Value =
  | { t: "string"; v: string }
  | { t: "hash"; v: Map<string, string> }
  | { t: "set"; v: Set<string> }
  | { t: "zset"; v: Map<string, number> };

interface Entry {
  value: Value;
  /** Absolute expiry in ms, or undefined for none. */
  expireAt: number | undefined;
}

/** A key's contents, as {@linkcode MemoryDb.dump} reports them (sorted, for comparison). */
export type DumpedValue =
  | { type: "string"; value: string }
  | { type: "hash"; value: Record<string, string> }
  | { type: "set"; value: string[] }
  | { type: "zset"; value: Array<[string, number]> };

const WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value";

/** Formats a number the way the Lua scripts do (`string.format("%.0f")` for integers). */
function fmt(n: number): string {
  return Number.isInteger(n) ? n.toFixed(0) : String(n);
}

/**
 * The in-memory keyspace behind {@linkcode MemoryStore}.
 *
 * @example
 * ```ts
 * import { MemoryDb } from "./memory_db.ts";
 * const db = new MemoryDb();
 * db.now = 1000;
 * db.hincrby("h", "a", 2);
 * console.assert(db.hget("h", "a") === "2");
 * ```
 */
export class MemoryDb {
  #data = new Map<string, Entry>();
  /** The time used for expiry checks; the store sets it before each call. */
  now = 0;

  #entry(key: string): Entry | undefined {
    const e = this.#data.get(key);
    if (e === undefined) return undefined;
    if (e.expireAt !== undefined && this.now >= e.expireAt) {
      this.#data.delete(key);
      return undefined;
    }
    return e;
  }

  #typed<T extends Value["t"]>(key: string, t: T): Extract<Value, { t: T }> | undefined {
    const e = this.#entry(key);
    if (e === undefined) return undefined;
    if (e.value.t !== t) throw new ScriptFailure(WRONGTYPE);
    return e.value as Extract<Value, { t: T }>;
  }

  #create<T extends Value["t"]>(key: string, t: T): Extract<Value, { t: T }> {
    const existing = this.#typed(key, t);
    if (existing !== undefined) return existing;
    const value =
      (t === "string"
        ? { t, v: "" }
        : t === "set"
        ? { t, v: new Set<string>() }
        : { t, v: new Map() }) as Extract<Value, { t: T }>;
    this.#data.set(key, { value, expireAt: undefined });
    return value;
  }

  /** Drops an emptied container, as Redis does. */
  #gc(key: string): void {
    const e = this.#data.get(key);
    if (e !== undefined && e.value.t !== "string" && e.value.v.size === 0) this.#data.delete(key);
  }

  // ---- keys ----
  /** `EXISTS key` @param key the key @returns 1 or 0 */
  exists(key: string): number {
    return this.#entry(key) === undefined ? 0 : 1;
  }
  /** `DEL key...` @param keys the keys @returns how many existed */
  del(...keys: string[]): number {
    let n = 0;
    for (const k of keys) if (this.#entry(k) !== undefined && this.#data.delete(k)) n++;
    return n;
  }
  /** `PEXPIRE key ms` @param key the key @param ms time to live @returns 1 if the key exists */
  pexpire(key: string, ms: number): number {
    const e = this.#entry(key);
    if (e === undefined) return 0;
    if (ms <= 0) {
      this.#data.delete(key);
      return 1;
    }
    e.expireAt = this.now + ms;
    return 1;
  }
  /** `PEXPIREAT key at` @param key the key @param at absolute ms @returns 1 if the key exists */
  pexpireat(key: string, at: number): number {
    return this.pexpire(key, at - this.now);
  }
  /** `PERSIST key` @param key the key @returns 1 if a TTL was removed */
  persist(key: string): number {
    const e = this.#entry(key);
    if (e === undefined || e.expireAt === undefined) return 0;
    e.expireAt = undefined;
    return 1;
  }
  /** `PTTL key` @param key the key @returns ms left, -1 without expiry, -2 when missing */
  pttl(key: string): number {
    const e = this.#entry(key);
    if (e === undefined) return -2;
    return e.expireAt === undefined ? -1 : e.expireAt - this.now;
  }
  /** `TYPE key` @param key the key @returns the type name or "none" */
  type(key: string): string {
    return this.#entry(key)?.value.t ?? "none";
  }

  // ---- strings ----
  /** `GET key` @param key the key @returns the value or null */
  get(key: string): string | null {
    return this.#typed(key, "string")?.v ?? null;
  }
  /**
   * `SET key value [PX ms] [NX|XX]`
   * @param key the key
   * @param value the value
   * @param opts `px` time to live, `nx` only if missing, `xx` only if present, `keepTtl`
   * @returns whether it was written
   */
  set(
    key: string,
    value: string | number,
    opts: {
      px?: number | undefined;
      nx?: boolean | undefined;
      xx?: boolean | undefined;
      keepTtl?: boolean | undefined;
    } = {},
  ): boolean {
    const e = this.#entry(key);
    if (opts.nx && e !== undefined) return false;
    if (opts.xx && e === undefined) return false;
    const expireAt = opts.px !== undefined
      ? this.now + opts.px
      : opts.keepTtl
      ? e?.expireAt
      : undefined;
    this.#data.set(key, {
      value: { t: "string", v: typeof value === "number" ? fmt(value) : value },
      expireAt,
    });
    return true;
  }
  /** `INCRBY key n` @param key the key @param n the increment @returns the new value */
  incrby(key: string, n: number): number {
    const cur = this.get(key);
    const next = (cur === null ? 0 : parseIntStrict(cur)) + n;
    const e = this.#entry(key);
    this.#data.set(key, { value: { t: "string", v: fmt(next) }, expireAt: e?.expireAt });
    return next;
  }

  // ---- hashes ----
  /** `HGET key field` @param key the key @param field the field @returns the value or null */
  hget(key: string, field: string): string | null {
    return this.#typed(key, "hash")?.v.get(field) ?? null;
  }
  /** `HMGET key field...` @param key the key @param fields the fields @returns values or nulls */
  hmget(key: string, fields: readonly string[]): Array<string | null> {
    const h = this.#typed(key, "hash")?.v;
    return fields.map((f) => h?.get(f) ?? null);
  }
  /** `HSET key field value` @param key the key @param field the field @param value the value @returns 1 if new */
  hset(key: string, field: string, value: string | number): number {
    const h = this.#create(key, "hash").v;
    const isNew = !h.has(field);
    h.set(field, typeof value === "number" ? fmt(value) : value);
    return isNew ? 1 : 0;
  }
  /** `HDEL key field...` @param key the key @param fields the fields @returns how many existed */
  hdel(key: string, ...fields: string[]): number {
    const h = this.#typed(key, "hash")?.v;
    if (h === undefined) return 0;
    let n = 0;
    for (const f of fields) if (h.delete(f)) n++;
    this.#gc(key);
    return n;
  }
  /** `HINCRBY key field n` @param key the key @param field the field @param n the increment @returns the new value */
  hincrby(key: string, field: string, n: number): number {
    const h = this.#create(key, "hash").v;
    const cur = h.get(field);
    const next = (cur === undefined ? 0 : parseIntStrict(cur)) + n;
    h.set(field, fmt(next));
    return next;
  }
  /** `HGETALL key` @param key the key @returns a copy of the hash, in insertion order */
  hgetall(key: string): Map<string, string> {
    return new Map(this.#typed(key, "hash")?.v ?? []);
  }
  /** `HLEN key` @param key the key @returns the number of fields */
  hlen(key: string): number {
    return this.#typed(key, "hash")?.v.size ?? 0;
  }
  /** `HEXISTS key field` @param key the key @param field the field @returns 1 or 0 */
  hexists(key: string, field: string): number {
    return this.#typed(key, "hash")?.v.has(field) ? 1 : 0;
  }

  // ---- sets ----
  /** `SADD key member...` @param key the key @param members the members @returns how many were new */
  sadd(key: string, ...members: string[]): number {
    const s = this.#create(key, "set").v;
    let n = 0;
    for (const m of members) {
      if (!s.has(m)) {
        s.add(m);
        n++;
      }
    }
    return n;
  }
  /** `SREM key member...` @param key the key @param members the members @returns how many existed */
  srem(key: string, ...members: string[]): number {
    const s = this.#typed(key, "set")?.v;
    if (s === undefined) return 0;
    let n = 0;
    for (const m of members) if (s.delete(m)) n++;
    this.#gc(key);
    return n;
  }
  /** `SISMEMBER key member` @param key the key @param member the member @returns 1 or 0 */
  sismember(key: string, member: string): number {
    return this.#typed(key, "set")?.v.has(member) ? 1 : 0;
  }
  /** `SMEMBERS key` @param key the key @returns the members */
  smembers(key: string): string[] {
    return [...(this.#typed(key, "set")?.v ?? [])];
  }
  /** `SCARD key` @param key the key @returns the number of members */
  scard(key: string): number {
    return this.#typed(key, "set")?.v.size ?? 0;
  }

  // ---- sorted sets ----
  /**
   * `ZADD key [NX|XX] [GT|LT] score member`
   * @param key the key
   * @param score the score
   * @param member the member
   * @param opts `nx`, `xx`, `gt`, `lt` as in Redis
   * @returns 1 if the member was added
   */
  zadd(
    key: string,
    score: number,
    member: string,
    opts: {
      nx?: boolean | undefined;
      xx?: boolean | undefined;
      gt?: boolean | undefined;
      lt?: boolean | undefined;
    } = {},
  ): number {
    const existing = this.#typed(key, "zset")?.v.get(member);
    if (opts.nx && existing !== undefined) return 0;
    if (opts.xx && existing === undefined) return 0;
    if (existing !== undefined && opts.gt && !(score > existing)) return 0;
    if (existing !== undefined && opts.lt && !(score < existing)) return 0;
    this.#create(key, "zset").v.set(member, score);
    return existing === undefined ? 1 : 0;
  }
  /** `ZSCORE key member` @param key the key @param member the member @returns the score or null */
  zscore(key: string, member: string): number | null {
    return this.#typed(key, "zset")?.v.get(member) ?? null;
  }
  /** `ZREM key member...` @param key the key @param members the members @returns how many existed */
  zrem(key: string, ...members: string[]): number {
    const z = this.#typed(key, "zset")?.v;
    if (z === undefined) return 0;
    let n = 0;
    for (const m of members) if (z.delete(m)) n++;
    this.#gc(key);
    return n;
  }
  /** `ZCARD key` @param key the key @returns the number of members */
  zcard(key: string): number {
    return this.#typed(key, "zset")?.v.size ?? 0;
  }
  /**
   * Members ordered by (score, member), as `ZRANGE key 0 -1 WITHSCORES`.
   * @param key the key
   * @returns `[member, score]` pairs
   */
  zrangeAll(key: string): Array<[string, number]> {
    const z = this.#typed(key, "zset")?.v;
    if (z === undefined) return [];
    return [...z].sort((a, b) => a[1] - b[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  }
  /**
   * `ZRANGE key min max BYSCORE [LIMIT 0 count]` (inclusive bounds; use ±Infinity for open ones).
   * @param key the key
   * @param min the lowest score
   * @param max the highest score
   * @param count at most this many, when given
   * @returns `[member, score]` pairs, ordered
   */
  zrangeByScore(key: string, min: number, max: number, count?: number): Array<[string, number]> {
    const out = this.zrangeAll(key).filter(([, s]) => s >= min && s <= max);
    return count === undefined ? out : out.slice(0, count);
  }
  /**
   * `ZREMRANGEBYSCORE key min max` (inclusive).
   * @param key the key
   * @param min the lowest score
   * @param max the highest score
   * @returns how many were removed
   */
  zremRangeByScore(key: string, min: number, max: number): number {
    const doomed = this.zrangeByScore(key, min, max).map(([m]) => m);
    return doomed.length === 0 ? 0 : this.zrem(key, ...doomed);
  }
  /**
   * `ZRANGE key min max BYLEX [LIMIT 0 count]` over a sorted set whose members all have the same
   * score. Bounds use Redis syntax: `[x` inclusive, `(x` exclusive, `-` and `+` open; members
   * compare by their UTF-8 bytes, as in Redis.
   * @param key the key
   * @param min the lower bound
   * @param max the upper bound
   * @param count at most this many, when given
   * @returns the members, ordered
   */
  zrangeByLex(key: string, min: string, max: string, count?: number): string[] {
    const z = this.#typed(key, "zset")?.v;
    if (z === undefined) return [];
    const enc = new TextEncoder();
    const cmp = (a: Uint8Array, b: Uint8Array): number => {
      const n = Math.min(a.length, b.length);
      for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
      return a.length - b.length;
    };
    const bound = (s: string, low: boolean): (m: Uint8Array) => boolean => {
      if (s === "-") return () => low;
      if (s === "+") return () => !low;
      const b = enc.encode(s.slice(1));
      const incl = s[0] === "[";
      return low
        ? (m) => (incl ? cmp(m, b) >= 0 : cmp(m, b) > 0)
        : (m) => (incl ? cmp(m, b) <= 0 : cmp(m, b) < 0);
    };
    const lo = bound(min, true);
    const hi = bound(max, false);
    const out = [...z.keys()].map((m) => [m, enc.encode(m)] as const)
      .filter(([, b]) => lo(b) && hi(b))
      .sort((a, b) => cmp(a[1], b[1]))
      .map(([m]) => m);
    return count === undefined ? out : out.slice(0, count);
  }

  // ---- inspection ----
  /**
   * Every live key with its contents and TTL, sorted by key: what tests compare with a Redis
   * snapshot.
   * @param prefix only keys starting with this
   * @returns the snapshot
   */
  dump(prefix = ""): Array<{ key: string; ttl: number; data: DumpedValue }> {
    const out: Array<{ key: string; ttl: number; data: DumpedValue }> = [];
    for (const key of [...this.#data.keys()].sort()) {
      if (!key.startsWith(prefix)) continue;
      const e = this.#entry(key);
      if (e === undefined) continue;
      out.push({ key, ttl: this.pttl(key), data: dumpValue(e.value) });
    }
    return out;
  }
}

function dumpValue(v: Value): DumpedValue {
  switch (v.t) {
    case "string":
      return { type: "string", value: v.v };
    case "hash":
      return {
        type: "hash",
        value: Object.fromEntries([...v.v].sort(([a], [b]) => a < b ? -1 : 1)),
      };
    case "set":
      return { type: "set", value: [...v.v].sort() };
    case "zset":
      return {
        type: "zset",
        value: [...v.v].sort((a, b) => a[1] - b[1] || (a[0] < b[0] ? -1 : 1)),
      };
  }
}

function parseIntStrict(s: string): number {
  const n = Number(s);
  if (!Number.isSafeInteger(n) || s.trim() === "") {
    throw new ScriptFailure("ERR value is not an integer or out of range");
  }
  return n;
}
