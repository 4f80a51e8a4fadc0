/**
 * A child process for exit.test.mjs (Node or Bun): takes a contended Mutex and RwLock lock with
 * a raw node-redis client as `store` (so the library opens a subscriber connection from it),
 * releases them, closes its own client the way argv says, and prints "closed". It must then
 * exit by itself. Imports the built package (npm/mod.js) by path.
 *
 *   node tests/npm/_exit_child.mjs <redis url> <close|quit|destroy>
 */
const [url, how] = process.argv.slice(2);
const { Mutex, RwLock } = await import(new URL("../../npm/mod.js", import.meta.url).href);
const { createClient } = await import("redis");
const client = await createClient({ url }).on("error", () => {}).connect();
const key = `exit-${process.pid}`;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const holder = await new Mutex({ key, store: client }).lock();
const waiting = new Mutex({ key, store: client, retryIntervalMs: 5 }).lock({ timeoutMs: 5000 });
await sleep(100); // it waits, subscribed
await holder.release();
const g = await waiting;
if (g.onAttempt === 0) throw new Error("the lock was not contended");
await g.release();

const writer = await new RwLock({ key, store: client }).write();
const reading = new RwLock({ key, store: client }).read({ timeoutMs: 5000 });
await sleep(100);
await writer.release();
await (await reading).release();

if (how === "destroy") client.destroy();
else await client[how]();
console.log("closed");
