/**
 * A driver's subscriptions: the listeners of each channel, one server-side subscription per
 * channel however many listen, and each channel's subscribe and unsubscribe commands sent in the
 * order they were asked for (a channel left and joined again at once ends up subscribed).
 *
 * @module
 */

/** How a driver subscribes its connection to one channel, and unsubscribes it. */
export interface ChannelCommands {
  /** Subscribes to `channel`; resolves once the subscription is active. */
  subscribe(channel: string): Promise<unknown>;
  /** Unsubscribes from `channel`. */
  unsubscribe(channel: string): Promise<unknown>;
}

/** One channel's listeners and the chain of its commands. */
interface Channel {
  listeners: Set<(message: string) => void>;
  /** Whether the server-side subscription is (being) made. */
  active: boolean;
  /** The last command queued for this channel. */
  tail: Promise<void>;
}

/**
 * The listeners of a driver's channels.
 *
 * @example
 * ```ts
 * import { Subscriptions } from "./_subscriptions.ts";
 * const sent: string[] = [];
 * const subs = new Subscriptions({
 *   subscribe: async (c) => sent.push(`+${c}`),
 *   unsubscribe: async (c) => sent.push(`-${c}`),
 * });
 * const got: string[] = [];
 * const off = await subs.add("ch", (m) => got.push(m));
 * subs.dispatch("ch", "hi");
 * await off();
 * console.assert(got.join() === "hi" && sent.join() === "+ch,-ch");
 * ```
 */
export class Subscriptions {
  #commands: ChannelCommands;
  #channels = new Map<string, Channel>();

  /** @param commands how the driver (un)subscribes a channel */
  constructor(commands: ChannelCommands) {
    this.#commands = commands;
  }

  /** How many channels have listeners or commands in flight. */
  get size(): number {
    return this.#channels.size;
  }

  /**
   * Adds `listener` to `channel`, subscribing if it is the first.
   * @param channel the channel
   * @param listener called with each message
   * @returns once the subscription is active: a function that removes the listener (the last one
   *   out unsubscribes); rejects (the listener removed) when subscribing fails
   */
  async add(channel: string, listener: (message: string) => void): Promise<() => Promise<void>> {
    const wrapped = (m: string) => listener(m);
    let ch = this.#channels.get(channel);
    if (ch === undefined) {
      ch = { listeners: new Set(), active: false, tail: Promise.resolve() };
      this.#channels.set(channel, ch);
    }
    ch.listeners.add(wrapped);
    const c = ch;
    try {
      await this.#queue(c, channel, true);
    } catch (e) {
      await this.#remove(c, channel, wrapped);
      throw e;
    }
    return () => this.#remove(c, channel, wrapped);
  }

  /**
   * Hands `message` to every listener of `channel`.
   * @param channel the channel it came on
   * @param message the message
   */
  dispatch(channel: string, message: string): void {
    const ch = this.#channels.get(channel);
    if (ch === undefined) return;
    for (const l of [...ch.listeners]) l(message);
  }

  /** The channels subscribed (or being subscribed) on the server, e.g. to restore them. */
  active(): string[] {
    return [...this.#channels].flatMap(([name, ch]) => ch.active ? [name] : []);
  }

  /** Drops every listener (the connection is closed: nothing to unsubscribe). */
  clear(): void {
    for (const ch of this.#channels.values()) {
      ch.listeners.clear();
      ch.active = false;
    }
    this.#channels.clear();
  }

  /**
   * Removes a listener; the last one out unsubscribes. The channel stays in the map until then,
   * so that a new listener's subscription is queued after that unsubscription.
   */
  #remove(ch: Channel, channel: string, listener: (m: string) => void): Promise<void> {
    if (!ch.listeners.delete(listener) || ch.listeners.size > 0) return Promise.resolve();
    return this.#queue(ch, channel, false).catch(() => {
      // The connection is gone: nothing left to unsubscribe.
    }).finally(() => {
      if (ch.listeners.size === 0 && this.#channels.get(channel) === ch) {
        this.#channels.delete(channel);
      }
    });
  }

  /** Queues a subscribe (`on`) or an unsubscribe; each does nothing if already in that state. */
  #queue(ch: Channel, channel: string, on: boolean): Promise<void> {
    const run = async () => {
      const wanted = on ? ch.listeners.size > 0 : ch.listeners.size === 0;
      if (!wanted || ch.active === on) return;
      ch.active = on;
      if (!on) return void await this.#commands.unsubscribe(channel);
      try {
        await this.#commands.subscribe(channel);
      } catch (e) {
        ch.active = false;
        throw e;
      }
    };
    const p = ch.tail.then(run, run);
    ch.tail = p.catch(() => {});
    return p;
  }
}
