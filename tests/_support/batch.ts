/**
 * Helpers for testing coalesced calls: a node-redis client that records the script commands a
 * `RedisStore` sends, and a differential harness that runs one tick's calls through a batching
 * `RedisStore` (the Lua batch forms) and through `MemoryStore` running the batch forms' models
 * (store/batch_form.ts), grouped as the batcher groups them.
 */
import assert from "node:assert/strict";
import { BATCH_ERROR, encodeBatch } from "../../store/batch_form.ts";
import { RedisStore } from "../../store/redis_store.ts";
import { mapScriptError } from "../../store/script_failure.ts";
import type { MemoryStore } from "../../store/memory_store.ts";
import type { Reply, Script, Store } from "../../store/types.ts";
import type { RawClient } from "./stores.ts";

/** One call of a script. */
export interface Call {
  script: Script;
  keys: readonly string[];
  argv: ReadonlyArray<string | number>;
}

/** A call's outcome: its reply, or `error <code>[ <message>]` (message unless a StoreError). */
export type Outcome = Reply | string;

/**
 * A failed call's outcome, as the differential tests compare it: the code and the message, less
 * the position Redis appends to an error raised inside a script (`script: <sha>, on
 * @user_script:<line>.`), which a batch form, running the script's body elsewhere or under
 * `pcall`, cannot have.
 * @param e the error
 * @returns `error <code> <message>`
 */
export function failure(e: unknown): string {
  const err = e as { code?: string; message?: string };
  const message = String(err.message).replace(/ script: [0-9a-f]{40}, on @user_script:\d+\.$/, "");
  return `error ${err.code} ${message}`;
}

/**
 * `raw` (a node-redis client or cluster) with every script command sent through it recorded.
 * @param raw the client
 * @returns the recording client and what it sent (EVALSHA/EVAL argument lists)
 */
export function recording(raw: RawClient): { client: RawClient; sent: string[][] } {
  const cluster = "masters" in raw;
  const sent: string[][] = [];
  const client = {
    evalSha: (sha: string, o: unknown) => raw.evalSha(sha, o),
    eval: (src: string, o: unknown) => raw.eval(src, o),
    sSubscribe: (...a: unknown[]) => raw.sSubscribe(...a),
    sUnsubscribe: (...a: unknown[]) => raw.sUnsubscribe(...a),
    duplicate: () => raw.duplicate(),
    on: (...a: unknown[]) => raw.on(...a),
    off: (...a: unknown[]) => raw.off(...a),
    sendCommand: (...a: unknown[]) => {
      const args = (cluster ? a[2] : a[0]) as string[];
      if (args[0] === "EVALSHA" || args[0] === "EVAL") sent.push(args);
      return raw.sendCommand(...a);
    },
    ...(cluster ? { masters: raw.masters } : {}),
  };
  return { client, sent };
}

/** The groups the batcher makes of one tick's calls on one slot: runs of one batchable script. */
export function batchGroups(calls: readonly Call[]): Call[][] {
  const out: Call[][] = [];
  for (const c of calls) {
    const last = out[out.length - 1];
    if (last !== undefined && c.script.batch !== undefined && last[0]!.script === c.script) {
      last.push(c);
    } else out.push([c]);
  }
  return out;
}

/**
 * What `memory` answers to one tick's calls sent as the batcher sends them: each group of two or
 * more calls as one call of the batch form (its model), a lone call as itself.
 */
export async function memoryBatched(memory: MemoryStore, calls: readonly Call[]) {
  const out: Outcome[] = [];
  for (const g of batchGroups(calls)) {
    if (g.length === 1) {
      out.push(await memory.run(g[0]!.script, g[0]!.keys, g[0]!.argv).catch(failure));
      continue;
    }
    const { keys, argv } = encodeBatch(g);
    const replies = await memory.run(g[0]!.script.batch!, keys, argv) as Reply[];
    assert.equal(replies.length, g.length, "one reply per item");
    for (const r of replies) {
      out.push(
        Array.isArray(r) && r[0] === BATCH_ERROR ? failure(mapScriptError(String(r[1]))) : r,
      );
    }
  }
  return out;
}

/**
 * What a batching `RedisStore` on `raw` answers to `calls` made in one tick, and checks that it
 * sent one script call per group (the batch form for a group of two or more).
 */
export async function redisBatched(raw: RawClient, calls: readonly Call[]): Promise<Outcome[]> {
  const { client, sent } = recording(raw);
  const store: Store = new RedisStore(client);
  try {
    const out = await Promise.all(
      calls.map((c) => store.run(c.script, c.keys, c.argv).catch(failure)),
    );
    const groups = batchGroups(calls);
    assert.deepEqual(
      sent.map((a) => a[1]),
      groups.map((g) => g.length === 1 ? g[0]!.script.sha1 : g[0]!.script.batch!.sha1),
      "one script call per group, in order (scripts loaded beforehand)",
    );
    return out;
  } finally {
    await store.close();
  }
}

/**
 * Loads `scripts` and their batch forms on `raw` (standalone), so no NOSCRIPT shows in `sent`.
 */
export async function loadScripts(raw: RawClient, scripts: readonly Script[]): Promise<void> {
  const { luaSource } = await import("../../store/_lua.ts");
  for (const s of scripts) {
    await raw.sendCommand(["SCRIPT", "LOAD", await luaSource(s)]);
    if (s.batch) await raw.sendCommand(["SCRIPT", "LOAD", await luaSource(s.batch)]);
  }
}

/**
 * The calls one recorded EVALSHA/EVAL carried: 1 for a script sent as itself, else the number of
 * items of its batch form (one header each: see store/batch_form.ts).
 */
export function itemsOf(args: readonly string[], batchSha1s?: ReadonlySet<string>): number {
  const numKeys = Number(args[2]);
  const argv = args.slice(3 + numKeys);
  if (batchSha1s !== undefined && !batchSha1s.has(args[1]!)) return 1;
  let n = 0;
  for (let a = 0; a < argv.length; n++) a += 1 + Number(argv[a]!.split(":")[0]);
  return n;
}
