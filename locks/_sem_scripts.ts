/**
 * The semaphore's atomic operations: each a Lua script (lua/sem_*.lua, helpers in lua/_sem.lua),
 * its TypeScript model (the executable specification of the same transition) and its typed
 * operation (arguments encoded and reply decoded here, and only here).
 *
 * @module
 */
import { InvalidArgumentError } from "../core/errors.ts";
import { QUEUE_SWEEP } from "../core/limits.ts";
import type { MemoryDb } from "../store/memory_db.ts";
import { defineOperation, intReply, listReply } from "../store/operation.ts";
import { defineScript } from "../store/script.ts";
import type { AttemptResult, ReleaseResult } from "./_scripts.ts";
import { grantChannel, tokenRoute, tokenTtl } from "./_scripts.ts";

const str = (n: number): string => n.toFixed(0);

/** holders, queue, queue expiries, fence, state. */
type Five = [string, string, string, string, string];

/** The permits a token asks for (`<id>*<n>/<ttl>/<route>/<owner>`), or undefined. */
export function tokenWeight(token: string): number | undefined {
  const m = /^[^/]*\*(\d+)\//.exec(token);
  return m === null ? undefined : Number(m[1]);
}

/** One call's view of a semaphore (lua/_sem.lua's `S`). */
interface View {
  db: MemoryDb;
  holders: string;
  queue: string;
  qexp: string;
  fence: string;
  state: string;
  now: number;
  limit: number;
  used: number;
}

function view(db: MemoryDb, keys: readonly string[], now: number): View {
  const [holders, queue, qexp, fence, state] = keys as Five;
  return { db, holders, queue, qexp, fence, state, now, limit: 0, used: 0 };
}

/** lua/_sem.lua's semLoad. */
function load(S: View, permits: number): void {
  const [limit, used] = S.db.hmget(S.state, ["permits", "used"]);
  if (limit !== null && used !== null) {
    S.limit = Number(limit);
    S.used = Number(used);
    return;
  }
  S.limit = permits;
  S.used = 0;
  for (const [m] of S.db.zrangeAll(S.holders)) S.used += tokenWeight(m) ?? 0;
}

/** lua/_sem.lua's semSweep. */
function sweep(S: View): void {
  const { db } = S;
  let dead = db.zrangeByScore(S.holders, -Infinity, S.now, QUEUE_SWEEP).map(([m]) => m);
  if (dead.length > 0) {
    db.zrem(S.holders, ...dead);
    db.hdel(S.state, ...dead);
    for (const m of dead) S.used -= tokenWeight(m) ?? 0;
    if (S.used < 0) S.used = 0;
  }
  dead = db.zrangeByScore(S.qexp, -Infinity, S.now, QUEUE_SWEEP).map(([m]) => m);
  if (dead.length > 0) {
    db.zrem(S.queue, ...dead);
    db.zrem(S.qexp, ...dead);
  }
}

/** lua/_sem.lua's semGrant. */
function grant(S: View, token: string, ttl: number): number {
  const n = S.db.incrby(S.fence, 1);
  S.db.zadd(S.holders, S.now + ttl, token);
  S.db.hset(S.state, token, n);
  S.used += tokenWeight(token)!;
  return n;
}

/** lua/_sem.lua's semServe. */
function serve(
  S: View,
  self: string | undefined,
  channel: string,
  publish: (channel: string, message: string) => void,
): { mine: number | undefined; sent: string[] } {
  let mine: number | undefined;
  const sent: string[] = [];
  for (;;) {
    const first = S.db.zrangeAll(S.queue)[0];
    if (first === undefined) break;
    const [front, ticket] = first;
    const w = tokenWeight(front);
    const ttl = tokenTtl(front);
    const valid = w !== undefined && ttl !== undefined && w >= 1 && w <= S.limit;
    if (valid && S.used + w > S.limit) break;
    S.db.zrem(S.queue, front);
    S.db.zrem(S.qexp, front);
    if (!valid) continue;
    const n = grant(S, front, ttl);
    if (front === self) {
      mine = n;
      continue;
    }
    const route = tokenRoute(front);
    const message = `g ${str(n)} ${str(ticket)} ${front}`;
    publish(route === undefined ? channel : grantChannel(channel, route), message);
    sent.push(message);
  }
  return { mine, sent };
}

/** lua/_sem.lua's semStore. */
function store(S: View): void {
  const { db } = S;
  let last = 0;
  const h = db.zrangeAll(S.holders).at(-1);
  if (h !== undefined) last = h[1];
  const q = db.zrangeAll(S.qexp).at(-1);
  if (q !== undefined && q[1] > last) last = q[1];
  if (last <= S.now) {
    db.del(S.holders, S.queue, S.qexp, S.state);
    return;
  }
  db.hset(S.state, "permits", str(S.limit));
  db.hset(S.state, "used", str(S.used));
  for (const k of [S.holders, S.queue, S.qexp, S.state]) db.pexpire(k, last - S.now);
}

/** See lua/sem_acquire.lua. */
export const SEM_ACQUIRE = defineScript("sem_acquire", ({ db, nowMs, publish }, keys, argv) => {
  const [token] = argv as [string];
  const n = Number(argv[1]);
  const ttl = Number(argv[2]);
  const permits = Number(argv[3]);
  const wait = Number(argv[4]);
  const channel = argv[5]!;
  const S = view(db, keys, nowMs);
  // The uncontended path.
  const [l, u] = db.hmget(S.state, ["permits", "used"]);
  let limit = l === null ? undefined : Number(l);
  let used = u === null ? undefined : Number(u);
  let idle = false;
  if (limit !== undefined) {
    if (db.exists(S.queue) !== 0) limit = undefined;
  } else if (db.exists(S.holders) + db.exists(S.queue) === 0) {
    [limit, used, idle] = [permits, 0, true];
  }
  if (limit === permits && used !== undefined && used + n <= limit) {
    const held = db.zscore(S.holders, token);
    if (held === null) {
      db.zadd(S.holders, S.now + ttl, token);
      const f = db.incrby(S.fence, 1);
      db.hset(S.state, "permits", argv[3]!);
      db.hset(S.state, "used", str(used + n));
      db.hset(S.state, token, f);
      if (idle || db.pttl(S.state) < ttl) {
        db.pexpire(S.holders, ttl);
        db.pexpire(S.state, ttl);
      }
      return f;
    }
    if (held > S.now) {
      db.zadd(S.holders, S.now + ttl, token);
      if (db.pttl(S.state) < ttl) {
        db.pexpire(S.holders, ttl);
        db.pexpire(S.state, ttl);
      }
      return Number(db.hget(S.state, token) ?? db.get(S.fence) ?? "0");
    }
  }
  load(S, permits);
  sweep(S);
  if (db.zscore(S.holders, token) !== null) {
    store(S);
    return Number(db.hget(S.state, token) ?? db.get(S.fence) ?? "0");
  }
  if (db.exists(S.holders) + db.exists(S.queue) === 0) {
    S.limit = permits;
    S.used = 0;
  } else if (S.limit !== permits) {
    store(S);
    return [-1, S.limit];
  }
  let mine = serve(S, token, channel, publish).mine;
  if (
    mine === undefined && db.zrangeAll(S.queue)[0] === undefined && S.used + n <= S.limit
  ) {
    mine = grant(S, token, ttl);
  }
  if (mine !== undefined) {
    store(S);
    return mine;
  }
  let hint = -1;
  const first = db.zrangeAll(S.holders)[0];
  if (first !== undefined) hint = first[1] - S.now;
  if (wait > 0) {
    let ticket = db.zscore(S.queue, token);
    if (ticket === null) {
      ticket = db.incrby(S.fence, 1);
      db.zadd(S.queue, ticket, token);
    }
    db.zadd(S.qexp, S.now + wait, token);
    store(S);
    return [0, hint, str(ticket)];
  }
  store(S);
  return [0, hint];
});

/** See lua/sem_release.lua. */
export const SEM_RELEASE = defineScript("sem_release", ({ db, nowMs, publish }, keys, argv) => {
  const [token] = argv as [string];
  const permits = Number(argv[1]);
  const channel = argv[2]!;
  const S = view(db, keys, nowMs);
  const score = db.zscore(S.holders, token);
  const queued = db.exists(S.queue) === 1;
  if (score === null && !queued) return 0;
  // The uncontended path.
  if (
    score !== null && !queued && score > S.now
  ) {
    const used = db.hincrby(S.state, "used", -(tokenWeight(token) ?? 0));
    if (used <= 0) db.del(S.holders, S.state);
    else {
      db.zrem(S.holders, token);
      db.hdel(S.state, token);
    }
    return 1;
  }
  load(S, permits);
  let held = 0;
  if (score !== null) {
    db.zrem(S.holders, token);
    db.hdel(S.state, token);
    S.used -= tokenWeight(token) ?? 0;
    if (S.used < 0) S.used = 0;
    if (score > S.now) held = 1;
  } else {
    db.zrem(S.queue, token);
    db.zrem(S.qexp, token);
  }
  sweep(S);
  const { sent } = serve(S, undefined, channel, publish);
  store(S);
  return sent.length === 0 ? held : [held, ...sent];
});

/** See lua/sem_renew.lua. */
export const SEM_RENEW = defineScript("sem_renew", ({ db, nowMs: now }, keys, argv) => {
  const [token] = argv as [string];
  const ttl = Number(argv[1]);
  const holders = keys[0]!;
  const score = db.zscore(holders, token);
  if (score === null || score <= now) return 0;
  db.zadd(holders, now + ttl, token);
  if (db.pttl(holders) < ttl) { for (const k of keys.slice(0, 4)) db.pexpire(k, ttl); }
  return 1;
});

/** See lua/sem_peek.lua. */
export const SEM_PEEK = defineScript("sem_peek", ({ db, nowMs: now }, keys) => {
  const [holders, qexp, state] = keys as [string, string, string];
  let used = 0;
  for (const [m] of db.zrangeByScore(holders, now + 1, Infinity)) used += tokenWeight(m) ?? 0;
  const waiting = db.zrangeByScore(qexp, now + 1, Infinity).length;
  let limit = Number(db.hget(state, "permits") ?? "-1");
  if (used === 0 && waiting === 0) limit = -1;
  return [used, waiting, limit];
});

/** One attempt's arguments. */
export interface SemAttempt {
  token: string;
  n: number;
  ttlMs: number;
  permits: number;
  queueMs: number;
  channel: string;
  /** The semaphore's key, for the refusal's message. */
  key: string;
}

/**
 * One acquisition attempt (keys: holders, queue, queue expiries, fence, state). The reply is the
 * fence (an integer) on success, else `[0, hint]`, `[0, hint, ticket]`, or `[-1, permits]` when
 * the semaphore is in use with another count of permits (decoded as a refusal).
 */
export const SEM_ACQUIRE_OP = /* @__PURE__ */ defineOperation({
  script: SEM_ACQUIRE,
  encode: (a: SemAttempt) => [a.token, a.n, a.ttlMs, a.permits, a.queueMs, a.channel],
  decode(reply, a): AttemptResult {
    if (typeof reply === "number") return { ok: true, fence: reply };
    const [code, hint, ticket] = listReply(SEM_ACQUIRE, reply);
    if (Number(code) === -1) {
      return {
        ok: false,
        hintMs: -1,
        refused: new InvalidArgumentError(
          `Semaphore '${a.key}' is in use with ${hint} permits; this Semaphore object has ${a.permits}` +
            " (every process must agree on 'permits'; a new count applies once the semaphore is idle)",
        ),
      };
    }
    return { ok: false, hintMs: Number(hint), ticket: ticket == null ? undefined : String(ticket) };
  },
});

/** Extends a holder's lease (keys: holders, queue, queue expiries, state). */
export const SEM_RENEW_OP = /* @__PURE__ */ defineOperation({
  script: SEM_RENEW,
  encode: (a: { token: string; ttlMs: number }) => [a.token, a.ttlMs],
  decode: (reply): boolean => intReply(SEM_RENEW, reply) === 1,
});

/** The owner-checked release (keys: the five). The reply is `1 | 0` or `[1 | 0, grants...]`. */
export const SEM_RELEASE_OP = /* @__PURE__ */ defineOperation({
  script: SEM_RELEASE,
  encode: (a: { token: string; permits: number; channel: string }) => [
    a.token,
    a.permits,
    a.channel,
  ],
  decode(reply): ReleaseResult {
    if (!Array.isArray(reply)) return { held: intReply(SEM_RELEASE, reply) === 1, grants: [] };
    return { held: Number(reply[0]) === 1, grants: reply.slice(1).map(String) };
  },
});

/** What {@linkcode SEM_PEEK_OP} sees. */
export interface SemPeek {
  /** Permits held by live holders. */
  used: number;
  /** Live queued waiters. */
  waiting: number;
  /** The permits of the semaphore in use, or undefined when idle. */
  limit: number | undefined;
}

/** A read-only look (keys: holders, queue expiries, state). */
export const SEM_PEEK_OP = /* @__PURE__ */ defineOperation({
  script: SEM_PEEK,
  encode: (_: void) => [],
  decode(reply): SemPeek {
    const [used, waiting, limit] = listReply(SEM_PEEK, reply, 3).map(Number) as [
      number,
      number,
      number,
    ];
    return { used, waiting, limit: limit < 0 ? undefined : limit };
  },
});
