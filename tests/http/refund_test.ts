/**
 * `refundFailed` on every adapter: responses with status ≥ 400 and requests whose handler threw
 * give their cost back, so only successful requests count.
 */
import assert from "node:assert/strict";
import { waitFor } from "../_support/wait.ts";
import { ADAPTERS, get, startServer } from "./_servers.ts";

for (const adapter of ADAPTERS) {
  Deno.test(`${adapter}: refundFailed gives back failed and thrown requests`, async () => {
    await using server = await startServer(adapter, {
      limit: 2,
      windowMs: 60_000,
      refundFailed: true,
    });
    const local = server.middleware.limiter.local.absolute;
    for (let i = 0; i < 3; i++) assert.equal((await get(`${server.v4}/fail`)).status, 500);
    for (let i = 0; i < 2; i++) assert.equal((await get(`${server.v4}/throw`)).status, 500);
    await waitFor(() => local.get("127.0.0.1") === 0, { timeoutMs: 2000, message: "refunds" });
    assert.equal((await get(`${server.v4}/`)).status, 200);
    assert.equal((await get(`${server.v4}/`)).status, 200);
    assert.equal((await get(`${server.v4}/`)).status, 429);
    assert.equal(local.get("127.0.0.1"), 2);
  });

  Deno.test(`${adapter}: without refundFailed, failed requests count`, async () => {
    await using server = await startServer(adapter, { limit: 2, windowMs: 60_000 });
    assert.equal((await get(`${server.v4}/fail`)).status, 500);
    assert.equal((await get(`${server.v4}/throw`)).status, 500);
    assert.equal((await get(`${server.v4}/`)).status, 429);
  });
}
