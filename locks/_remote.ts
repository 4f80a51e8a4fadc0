/**
 * Key layout and shell functions over the lock scripts: build KEYS/ARGV, run, decode.
 *
 * @module
 */
import { encodeKeyPart } from "../core/keys.ts";
import type { Store } from "../store/types.ts";
import {
  ACQUIRE,
  type AttemptResult,
  grantChannel,
  type Mode,
  RELEASE,
  type ReleaseResult,
  RENEW,
} from "./_scripts.ts";

export { grantChannel };
export type { AttemptResult, Mode, ReleaseResult };

/**
 * Every Redis name one lock uses; all share the hash tag `{<namespace>:<key>}`, both parts encoded
 * (see `encodeKeyPart`).
 */
export interface LockKeys {
  /** The writer's lease (a string holding its token). */
  readonly lease: string;
  /** Live readers: zset token → expiry (server ms). */
  readonly readers: string;
  /** Waiting writers in FIFO order: zset token → ticket. */
  readonly queue: string;
  /** Waiting writers' expiries: zset token → expiry (server ms). */
  readonly queueExp: string;
  /** The fencing-token counter (never expires: one small key per lock). */
  readonly fence: string;
  /** A marker that readers are waiting (so a release publishes a wake-up), with an expiry. */
  readonly waiters: string;
  /** The sharded pub/sub channel a release publishes wake-ups on. */
  readonly channel: string;
  /** The six keys in the order acquire and release take them (one array, built once). */
  readonly all: readonly string[];
}

/**
 * The names of lock `key` of `kind` under `namespace`. Encoded, neither part holds `:`, `{` or
 * `}`: the tag is the library's own, and parses back to exactly one (namespace, key) pair.
 * @param namespace a validated namespace
 * @param key a validated key
 * @param kind "mutex" or "rw"
 * @returns the names
 */
export function lockKeys(namespace: string, key: string, kind: "mutex" | "rw"): LockKeys {
  const base = `{${encodeKeyPart(namespace)}:${encodeKeyPart(key)}}:${kind}`;
  const names = {
    lease: `${base}:lease`,
    readers: `${base}:readers`,
    queue: `${base}:queue`,
    queueExp: `${base}:queue-exp`,
    fence: `${base}:fence`,
    waiters: `${base}:read-waiters`,
    channel: `${base}:wake`,
  };
  const { lease, readers, queue, queueExp, fence, waiters } = names;
  return { ...names, all: Object.freeze([lease, readers, queue, queueExp, fence, waiters]) };
}

/** Every Redis name one semaphore uses; all share the hash tag `{<namespace>:<key>}`. */
export interface SemaphoreKeys {
  /** Live holders: zset token → expiry (server ms); a token carries its permit count. */
  readonly holders: string;
  /** Waiting acquisitions in FIFO order: zset token → ticket. */
  readonly queue: string;
  /** Waiting acquisitions' expiries: zset token → expiry (server ms). */
  readonly queueExp: string;
  /** The fencing-token counter (never expires: one small key per semaphore). */
  readonly fence: string;
  /** Hash: the semaphore's permits, the permits held, and each holder's fencing token. */
  readonly state: string;
  /** The sharded pub/sub channel (grants go to `<channel>:<route>`). */
  readonly channel: string;
  /** The five keys in the order acquire and release take them. */
  readonly all: readonly string[];
}

/**
 * The names of semaphore `key` under `namespace` (the same tag as a lock of that key, another
 * kind: `{<namespace>:<key>}:sem:...`).
 * @param namespace a validated namespace
 * @param key a validated key
 * @returns the names
 */
export function semaphoreKeys(namespace: string, key: string): SemaphoreKeys {
  const base = `{${encodeKeyPart(namespace)}:${encodeKeyPart(key)}}:sem`;
  const names = {
    holders: `${base}:holders`,
    queue: `${base}:queue`,
    queueExp: `${base}:queue-exp`,
    fence: `${base}:fence`,
    state: `${base}:state`,
    channel: `${base}:wake`,
  };
  const { holders, queue, queueExp, fence, state } = names;
  return { ...names, all: Object.freeze([holders, queue, queueExp, fence, state]) };
}

/**
 * A new acquisition token: `<uuid>/<ttl ms>/<route>/<owner id>`. A release that hands the lease
 * to a queued writer reads the writer's ttl from it, and publishes the grant on the writer's
 * route channel ({@linkcode grantChannel}), which only its process listens to.
 */
export function newToken(id: string, ttlMs: number, route: string, ownerId: string): string {
  return `${id}/${ttlMs}/${route}/${ownerId}`;
}

/**
 * A wake-up message: a grant of the lease to `token` (whose queue entry had `ticket`) with
 * fencing token `fence`, or "free".
 */
export type Wake = { grant: true; fence: number; ticket: string; token: string } | {
  grant: false;
};

/** Parses a message of lua/lock_release.lua: `g <fence> <ticket> <token>` or `f`. */
export function parseWake(message: string): Wake {
  if (!message.startsWith("g ")) return { grant: false };
  const a = message.indexOf(" ", 2);
  const b = message.indexOf(" ", a + 1);
  return {
    grant: true,
    fence: Number(message.slice(2, a)),
    ticket: message.slice(a + 1, b),
    token: message.slice(b + 1),
  };
}

/**
 * One acquisition attempt.
 * @param store the store
 * @param k the lock's names
 * @param mode write or read
 * @param token this acquisition's token
 * @param ttlMs the lease length
 * @param queueMs how long a failed writer stays queued (0: not queued)
 * @returns the fencing token, or a hint of when to try again
 */
export function acquireOnce(
  store: Store,
  k: LockKeys,
  mode: Mode,
  token: string,
  ttlMs: number,
  queueMs: number,
): Promise<AttemptResult> {
  return ACQUIRE.run(store, k.all, { mode, token, ttlMs, queueMs });
}

/**
 * Extends a held lease by `ttlMs`.
 * @returns whether the token still held it
 */
export function renewOnce(
  store: Store,
  k: LockKeys,
  mode: Mode,
  token: string,
  ttlMs: number,
): Promise<boolean> {
  return RENEW.run(store, [k.lease, k.readers], { mode, token, ttlMs });
}

/**
 * The owner-checked release; also removes the token from the writers' queue, and hands a freed
 * lease to the first queued writer.
 * @returns whether the token held the lease, and the grant it made
 */
export function releaseOnce(
  store: Store,
  k: LockKeys,
  mode: Mode,
  token: string,
): Promise<ReleaseResult> {
  return RELEASE.run(store, k.all, { mode, token, channel: k.channel });
}
