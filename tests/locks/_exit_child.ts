/**
 * A child process for exit_test.ts: takes a contended Mutex and RwLock lock (so the store opens
 * its subscriber connection), releases them, closes its own client the way argv[1] says, and
 * prints "closed". It must then exit by itself.
 *
 *   deno run -A tests/locks/_exit_child.ts <redis url> <close|quit|destroy>
 */
import { createClient } from "redis";
import { Mutex, RwLock } from "../../mod.ts";

const [url, how] = Deno.args as [string, "close" | "quit" | "destroy"];
const client = await createClient({ url }).on("error", () => {}).connect();
const key = `exit-${Deno.pid}`;

const holder = await new Mutex({ key, store: client }).lock();
const waiting = new Mutex({ key, store: client, retryIntervalMs: 5 }).lock({ timeoutMs: 5000 });
await new Promise((resolve) => setTimeout(resolve, 100)); // it waits, subscribed
await holder.release();
const g = await waiting;
if (g.onAttempt === 0) throw new Error("the lock was not contended");
await g.release();

const writer = await new RwLock({ key, store: client }).write();
const reading = new RwLock({ key, store: client }).read({ timeoutMs: 5000 });
await new Promise((resolve) => setTimeout(resolve, 100));
await writer.release();
await (await reading).release();

if (how === "destroy") client.destroy();
else await client[how]();
console.log("closed");
