/**
 * Key layout and shell functions over the lock scripts: build KEYS/ARGV, run, decode.
 *
 * @module
 */
import { encodeKeyPart } from "../core/keys.ts";
import type { Reply, Script, Store } from "../store/types.ts";
import { grantChannel, LOCK_ACQUIRE, LOCK_RELEASE, LOCK_RENEW } from "./_scripts.ts";

export { grantChannel };

/** Write mode (Mutex, RwLock write) or read mode (RwLock read). */
export type Mode = "write" | "read";

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
 * What one acquisition attempt found: the fence, or a hint of when to try again (and, for a
 * queued writer, its queue entry's ticket).
 */
export type AttemptResult =
  | { ok: true; fence: number }
  | { ok: false; hintMs: number; ticket?: string | undefined };

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
  return run(store, LOCK_ACQUIRE, k.all, [mode, token, ttlMs, queueMs]).then(decodeAttempt);
}

/** `store.run`, with a synchronous throw (a Store breaking its contract) as a rejection. */
function run(
  store: Store,
  script: Script,
  keys: readonly string[],
  argv: readonly (string | number)[],
): Promise<Reply> {
  try {
    return store.run(script, keys, argv);
  } catch (e) {
    return Promise.reject(e);
  }
}

/** The fence (an integer reply) on success, else `[0, hint]` or `[0, hint, ticket]`. */
function decodeAttempt(reply: Reply): AttemptResult {
  if (typeof reply === "number") return { ok: true, fence: reply };
  const [, hint, ticket] = reply as Reply[];
  return { ok: false, hintMs: Number(hint), ticket: ticket == null ? undefined : String(ticket) };
}

/**
 * Extends a held lease by `ttlMs`.
 * @returns whether the token still held it
 */
export async function renewOnce(
  store: Store,
  k: LockKeys,
  mode: Mode,
  token: string,
  ttlMs: number,
): Promise<boolean> {
  return Number(await store.run(LOCK_RENEW, [k.lease, k.readers], [mode, token, ttlMs])) === 1;
}

/** What a release did. */
export interface ReleaseResult {
  /** Whether the token held the lease (or was a live reader). */
  held: boolean;
  /** The grant it made to the first queued writer: the message it published to the grantee. */
  grant?: string | undefined;
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
  return run(store, LOCK_RELEASE, k.all, [mode, token, k.channel]).then(decodeRelease);
}

/** `1 | 0`, or `[1 | 0, grant message]`. */
function decodeRelease(reply: Reply): ReleaseResult {
  if (!Array.isArray(reply)) return { held: Number(reply) === 1 };
  return { held: Number(reply[0]) === 1, grant: String(reply[1]) };
}
