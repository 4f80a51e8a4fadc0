/**
 * What both hybrid strategies' classes share: an engine of their own, the local limiter of the
 * "local" outage policy, the key count and close. The strategies are shells over the engine.
 *
 * @module
 */
import type { StoreError } from "../core/errors.ts";
import { HybridEngine } from "./_hybrid_engine.ts";
import type { StoreContext } from "./redis.ts";

/** Told about background sync failures. @internal */
export type OnSyncError = (e: StoreError) => void;

/** The base of `HybridAbsoluteRateLimiter` and `HybridSuppressedRateLimiter`. @internal */
export abstract class HybridShell<Fallback> {
  /** The engine: entries, syncs, the timer. @internal */
  protected readonly engine: HybridEngine;
  /** The local limiter the "local" policy uses during an outage. @internal */
  protected readonly fallback: Fallback;

  /**
   * Built by the strategies' constructors.
   * @param ctx the limiter's shared context
   * @param kind the key suffix of the strategy
   * @param fallback the local limiter the "local" policy uses during an outage
   * @param onError told about background sync failures
   * @param instanceId the engine's id in the store (a fresh one by default)
   */
  constructor(
    ctx: StoreContext,
    kind: string,
    fallback: Fallback,
    onError: OnSyncError,
    instanceId?: string,
  ) {
    this.engine = new HybridEngine(ctx, kind, onError, instanceId);
    this.fallback = fallback;
  }

  /** Number of keys held in memory. */
  get size(): number {
    return this.engine.entries.size;
  }

  /** Commits, releases and forgets every key; stops the timer. @internal */
  close(): Promise<void> {
    return this.engine.close();
  }
}
