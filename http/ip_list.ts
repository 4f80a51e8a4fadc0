/**
 * `IpList`: a set of IP addresses and CIDR ranges, for allow and deny lists.
 *
 * @module
 */
import { InvalidArgumentError } from "../core/errors.ts";
import { maskBytes, type ParsedIp, parseIp, unmapIp } from "./ip.ts";

interface Range {
  version: 4 | 6;
  bits: number;
  net: Uint8Array;
}

function parseEntry(entry: unknown, option: string): Range {
  if (typeof entry !== "string") {
    throw new InvalidArgumentError(
      `'${option}' must hold IP addresses or CIDR ranges: found a ${typeof entry}`,
    );
  }
  const slash = entry.indexOf("/");
  const ip = parseIp(slash < 0 ? entry : entry.slice(0, slash));
  const bad = () =>
    new InvalidArgumentError(
      `'${option}' must hold IP addresses or CIDR ranges: current value ${
        JSON.stringify(entry.slice(0, 100))
      } is neither`,
    );
  if (ip === undefined) throw bad();
  const max = ip.version === 4 ? 32 : 128;
  let bits = max;
  if (slash >= 0) {
    const text = entry.slice(slash + 1);
    if (!/^\d{1,3}$/.test(text) || Number(text) > max) throw bad();
    bits = Number(text);
  }
  // "::ffff:10.0.0.0/104" is the IPv4 range 10.0.0.0/8.
  const unmapped = unmapIp(ip);
  if (unmapped.version === 4 && ip.version === 6) {
    if (bits < 96) return { version: 6, bits, net: maskBytes(ip.bytes, bits) };
    bits -= 96;
  }
  return { version: unmapped.version, bits, net: maskBytes(unmapped.bytes, bits) };
}

function within(ip: ParsedIp, r: Range): boolean {
  if (ip.version !== r.version) return false;
  const full = r.bits >> 3;
  const b = ip.bytes;
  for (let i = 0; i < full; i++) if (b[i] !== r.net[i]) return false;
  const rest = r.bits & 7;
  if (rest === 0) return true;
  return (b[full]! & (0xff << (8 - rest)) & 0xff) === r.net[full];
}

/**
 * A list of IP addresses and CIDR ranges (`"203.0.113.7"`, `"10.0.0.0/8"`, `"2001:db8::/32"`).
 * IPv4-mapped IPv6 addresses, in the list or looked up, count as IPv4.
 *
 * @example
 * ```ts
 * import { IpList } from "./ip_list.ts";
 * const office = new IpList(["10.0.0.0/8", "2001:db8::/32"], "allowList");
 * console.assert(office.has("::ffff:10.1.2.3"));
 * console.assert(!office.has("192.0.2.1"));
 * ```
 */
export class IpList {
  #ranges: Range[];

  /**
   * Parses every entry.
   * @param entries addresses and CIDR ranges
   * @param option the option's name, for messages
   * @throws {InvalidArgumentError} naming the option and the entry that is neither
   */
  constructor(entries: readonly string[], option = "entries") {
    if (!Array.isArray(entries)) {
      throw new InvalidArgumentError(
        `'${option}' must be an array of IP addresses or CIDR ranges: current type is ${typeof entries}`,
      );
    }
    this.#ranges = entries.map((e) => parseEntry(e, option));
  }

  /**
   * Number of entries.
   * @example
   * ```ts
   * import { IpList } from "./ip_list.ts";
   * console.assert(new IpList(["::1"]).size === 1);
   * ```
   */
  get size(): number {
    return this.#ranges.length;
  }

  /**
   * Whether an address is in the list (an address that does not parse is not).
   * @param address an IP address
   * @returns whether a range holds it
   * @example
   * ```ts
   * import { IpList } from "./ip_list.ts";
   * console.assert(new IpList(["127.0.0.0/8"]).has("127.0.0.1"));
   * ```
   */
  has(address: string): boolean {
    const parsed = parseIp(address);
    if (parsed === undefined) return false;
    const ip = unmapIp(parsed);
    for (const r of this.#ranges) if (within(ip, r)) return true;
    return false;
  }
}
