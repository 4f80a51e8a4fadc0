/** LaxCounter.close() when the final flush cannot reach the store: see tests/_support/lax_close.ts. */
import { LaxCounter } from "../../counter/lax_counter.ts";
import { laxCloseSuite } from "../_support/lax_close.ts";

laxCloseSuite(
  "LaxCounter",
  (store, prefix) => new LaxCounter({ prefix, store, allowedLagMs: 60_000, closeTimeoutMs: 300 }),
  [{ name: "close()", close: (c) => c.close() }],
);
