/**
 * The locks' atomic operations: each a Lua script (lua/lock_*.lua), its TypeScript model (the
 * executable specification of the same transition) and its typed operation (arguments encoded
 * and reply decoded here, and only here).
 *
 * @module
 */
import { QUEUE_SWEEP } from "../core/limits.ts";
import type { MemoryDb } from "../store/memory_db.ts";
import { defineOperation, intReply, listReply } from "../store/operation.ts";
import { defineScript } from "../store/script.ts";

const str = (n: number): string => n.toFixed(0);

/** lease, readers, queue, queue expiries, fence, read waiters marker. */
type Six = [string, string, string, string, string, string];

/** `PEXPIRE key ms` unless the key already lives at least that long. */
function extend(db: MemoryDb, key: string, ms: number): void {
  if (db.pttl(key) < ms) db.pexpire(key, ms);
}

/** The ms until every blocking holder's lease runs out, or -1 (see lua/lock_acquire.lua). */
function hint(db: MemoryDb, lease: string, readers: string, holder: string | null, now: number) {
  let h = -1;
  if (holder !== null) h = db.pttl(lease);
  const all = db.zrangeAll(readers);
  const last = all[all.length - 1];
  if (last !== undefined && last[1] - now > h) h = last[1] - now;
  return h;
}

/** See lua/lock_acquire.lua. */
export const LOCK_ACQUIRE = defineScript("lock_acquire", ({ db, nowMs: now }, keys, argv) => {
  const [lease, readers, queue, qexp, fence, waiters] = keys as Six;
  const [mode, token] = argv as [string, string];
  const ttl = Number(argv[2]);
  const wait = Number(argv[3]);
  if (mode === "write" && db.exists(lease) + db.exists(readers) + db.exists(qexp) === 0) {
    const n = db.incrby(fence, 1);
    db.set(lease, token, { px: ttl });
    return n;
  }
  const holder = db.get(lease);
  if (holder === token) return Number(db.get(fence) ?? "0");

  db.zremRangeByScore(readers, -Infinity, now);
  const dead = db.zrangeByScore(qexp, -Infinity, now, QUEUE_SWEEP).map(([m]) => m);
  if (dead.length > 0) {
    db.zrem(queue, ...dead);
    db.zrem(qexp, ...dead);
  }
  const front = db.zrangeAll(queue)[0]?.[0];

  if (mode === "read") {
    if (holder !== null || front !== undefined) {
      if (wait > 0 && db.pttl(waiters) < wait) db.set(waiters, "1", { px: wait });
      return [0, hint(db, lease, readers, holder, now)];
    }
    db.zadd(readers, now + ttl, token);
    extend(db, readers, ttl);
    return 0;
  }

  if (holder !== null || (front !== undefined && front !== token) || db.zcard(readers) > 0) {
    if (wait > 0) {
      let ticket = db.zscore(queue, token);
      if (ticket === null) {
        ticket = db.incrby(fence, 1);
        db.zadd(queue, ticket, token);
      }
      db.zadd(qexp, now + wait, token);
      extend(db, queue, wait);
      extend(db, qexp, wait);
      return [0, hint(db, lease, readers, holder, now), str(ticket)];
    }
    return [0, hint(db, lease, readers, holder, now)];
  }

  const n = db.incrby(fence, 1);
  db.set(lease, token, { px: ttl });
  if (front !== undefined) {
    db.zrem(queue, token);
    db.zrem(qexp, token);
  }
  return n;
});

/** See lua/lock_renew.lua. */
export const LOCK_RENEW = defineScript("lock_renew", ({ db, nowMs: now }, keys, argv) => {
  const [lease, readers] = keys as [string, string];
  const [mode, token] = argv as [string, string];
  const ttl = Number(argv[2]);
  if (mode === "write") {
    if (db.get(lease) !== token) return 0;
    db.pexpire(lease, ttl);
    return 1;
  }
  db.zremRangeByScore(readers, -Infinity, now);
  if (db.zscore(readers, token) === null) return 0;
  db.zadd(readers, now + ttl, token);
  extend(db, readers, ttl);
  return 1;
});

/** The ttl a writer's token carries (`<uuid>/<ttl ms>/<route>/<owner id>`), or undefined. */
export function tokenTtl(token: string): number | undefined {
  const m = /^[^/]*\/(\d+)\//.exec(token);
  const ttl = m === null ? NaN : Number(m[1]);
  return ttl > 0 ? ttl : undefined;
}

/**
 * The channel grants to tokens of `route` are published on: the lock's channel plus the route
 * (same hash tag, so the same cluster slot).
 */
export function grantChannel(channel: string, route: string): string {
  return `${channel}:${route}`;
}

/** The route a token carries, or undefined (a token without one is granted on the lock's channel). */
export function tokenRoute(token: string): string | undefined {
  return /^[^/]*\/\d+\/([^/]+)\//.exec(token)?.[1];
}

/** See lua/lock_release.lua. */
export const LOCK_RELEASE = defineScript(
  "lock_release",
  ({ db, nowMs: now, publish }, keys, argv) => {
    const [lease, readers, queue, qexp, fence, waiters] = keys as Six;
    const [mode, token, channel] = argv as [string, string, string];
    /** The grant message, or undefined. */
    const handOff = (): string | undefined => {
      if (db.exists(queue) === 0) return undefined;
      db.zremRangeByScore(readers, -Infinity, now);
      if (db.zcard(readers) > 0) return undefined;
      const dead = db.zrangeByScore(qexp, -Infinity, now, QUEUE_SWEEP).map(([m]) => m);
      if (dead.length > 0) {
        db.zrem(queue, ...dead);
        db.zrem(qexp, ...dead);
      }
      const [front, ticket] = db.zrangeAll(queue)[0] ?? [];
      if (front === undefined) return undefined;
      const ttl = tokenTtl(front);
      if (ttl === undefined) return undefined;
      const n = db.incrby(fence, 1);
      db.set(lease, front, { px: ttl });
      db.zrem(queue, front);
      db.zrem(qexp, front);
      const route = tokenRoute(front);
      const message = `g ${str(n)} ${str(ticket!)} ${front}`;
      publish(route === undefined ? channel : grantChannel(channel, route), message);
      return message;
    };
    if (mode === "write") {
      if (db.get(lease) === token) {
        db.del(lease);
        if (db.exists(queue) + db.exists(waiters) > 0) {
          const grant = handOff();
          if (grant !== undefined) return [1, grant];
          publish(channel, "f");
        }
        return 1;
      }
      const queued = db.zrem(queue, token);
      db.zrem(qexp, token);
      if (queued === 1 && db.exists(lease) === 0) {
        const grant = handOff();
        if (grant !== undefined) return [0, grant];
        publish(channel, "f");
      }
      return 0;
    }
    db.zremRangeByScore(readers, -Infinity, now);
    const held = db.zrem(readers, token);
    if (held === 1 && db.zcard(readers) === 0 && db.exists(lease) === 0) {
      const grant = handOff();
      if (grant !== undefined) return [held, grant];
    }
    return held;
  },
);

/** Write mode (Mutex, RwLock write) or read mode (RwLock read). */
export type Mode = "write" | "read";

/**
 * What one acquisition attempt found: the fence, or a hint of when to try again (and, for a
 * queued writer, its queue entry's ticket).
 */
export type AttemptResult =
  | { ok: true; fence: number }
  | {
    ok: false;
    hintMs: number;
    ticket?: string | undefined;
    /** The store refused the request for good (waiting cannot help): the error to give up with. */
    refused?: Error | undefined;
  };

/** What a release did. */
export interface ReleaseResult {
  /** Whether the token held the lease (or was a live reader). */
  held: boolean;
  /** The grants it made to queued waiters: the messages it published to the grantees. */
  grants: readonly string[];
}

/**
 * One acquisition attempt (keys: the lock's six, in `LockKeys.all` order; `queueMs` 0: a failed
 * writer is not queued). The reply is the fence (an integer) on success, else `[0, hint]` or
 * `[0, hint, ticket]`.
 */
export const ACQUIRE = /* @__PURE__ */ defineOperation({
  script: LOCK_ACQUIRE,
  encode: (a: { mode: Mode; token: string; ttlMs: number; queueMs: number }) => [
    a.mode,
    a.token,
    a.ttlMs,
    a.queueMs,
  ],
  decode(reply): AttemptResult {
    if (typeof reply === "number") return { ok: true, fence: reply };
    const [, hint, ticket] = listReply(LOCK_ACQUIRE, reply);
    return { ok: false, hintMs: Number(hint), ticket: ticket == null ? undefined : String(ticket) };
  },
});

/** Extends a held lease by `ttlMs` (keys: lease, readers); whether the token still held it. */
export const RENEW = /* @__PURE__ */ defineOperation({
  script: LOCK_RENEW,
  encode: (a: { mode: Mode; token: string; ttlMs: number }) => [a.mode, a.token, a.ttlMs],
  decode: (reply): boolean => intReply(LOCK_RENEW, reply) === 1,
});

/**
 * The owner-checked release (keys: the lock's six); `channel` is where wake-ups go. The reply is
 * `1 | 0`, or `[1 | 0, grant message]`.
 */
export const RELEASE = /* @__PURE__ */ defineOperation({
  script: LOCK_RELEASE,
  encode: (a: { mode: Mode; token: string; channel: string }) => [a.mode, a.token, a.channel],
  decode(reply): ReleaseResult {
    if (!Array.isArray(reply)) return { held: intReply(LOCK_RELEASE, reply) === 1, grants: [] };
    return { held: Number(reply[0]) === 1, grants: [String(reply[1])] };
  },
});
