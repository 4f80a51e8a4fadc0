/**
 * Watches the global timers from now until `restore()`: how many were armed and cleared, and
 * which are still pending (armed, neither fired nor cleared). Tests only.
 */
export interface TimerWatch {
  readonly arms: number;
  readonly clears: number;
  readonly pending: ReadonlySet<unknown>;
  restore(): void;
}

/** Starts watching `setTimeout` / `clearTimeout`; call `restore()` in a `finally`. */
export function watchTimers(): TimerWatch {
  const { setTimeout: realSet, clearTimeout: realClear } = globalThis;
  const pending = new Set<unknown>();
  const watch = { arms: 0, clears: 0, pending, restore };
  globalThis.setTimeout = ((fn: () => void, ms?: number) => {
    watch.arms++;
    const id = realSet(() => {
      pending.delete(id);
      fn();
    }, ms);
    pending.add(id);
    return id;
  }) as typeof setTimeout;
  globalThis.clearTimeout = ((id?: number) => {
    watch.clears++;
    pending.delete(id);
    realClear(id);
  }) as typeof clearTimeout;
  function restore(): void {
    globalThis.setTimeout = realSet;
    globalThis.clearTimeout = realClear;
  }
  return watch;
}
