/**
 * LaxInstanceAwareCounter.close() when the final flush cannot reach the store, leaving or not:
 * see tests/_support/lax_close.ts.
 */
import { LaxInstanceAwareCounter } from "../../icounter/lax.ts";
import { laxCloseSuite } from "../_support/lax_close.ts";

laxCloseSuite(
  "LaxInstanceAwareCounter",
  (store, prefix) =>
    new LaxInstanceAwareCounter({
      prefix,
      store,
      allowedLagMs: 60_000,
      flushIntervalMs: 60_000,
      closeTimeoutMs: 300,
    }),
  [true, false].map((leave) => ({
    name: `close({ leave: ${leave} })`,
    close: (c: LaxInstanceAwareCounter) => c.close({ leave }),
  })),
);
