/**
 * IP addresses as rate-limit keys: parsing (IPv4, IPv6 in every compression form, IPv4-mapped
 * IPv6, zone ids, brackets), normalisation and IPv6 subnet grouping. Web-standard, no `node:`
 * import.
 *
 * @module
 */
import { InvalidArgumentError } from "../core/errors.ts";
import { intInRange } from "../core/int.ts";

/** A parsed address: 4 bytes (IPv4) or 16 bytes (IPv6), network order. */
export interface ParsedIp {
  /** The family. */
  readonly version: 4 | 6;
  /** The address bytes. */
  readonly bytes: Uint8Array;
}

const V4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;
const HEX_GROUP = /^[0-9a-fA-F]{1,4}$/;

function octet(text: string): number {
  // A leading zero reads as octal in some parsers ("010" = 8): ambiguous, so refused.
  if (text.length > 1 && text[0] === "0") return -1;
  const n = Number(text);
  return n <= 255 ? n : -1;
}

function parseV4(text: string, into: Uint8Array, at: number): boolean {
  const m = V4.exec(text);
  if (m === null) return false;
  for (let i = 0; i < 4; i++) {
    const n = octet(m[i + 1]!);
    if (n < 0) return false;
    into[at + i] = n;
  }
  return true;
}

function parseGroups(text: string, out: number[]): boolean {
  if (text === "") return true;
  for (const g of text.split(":")) {
    if (!HEX_GROUP.test(g)) return false;
    out.push(parseInt(g, 16));
  }
  return true;
}

function parseV6(text: string): Uint8Array | undefined {
  const bytes = new Uint8Array(16);
  let body = text;
  // An embedded IPv4 tail ("::ffff:1.2.3.4", "64:ff9b::1.2.3.4") counts as two groups.
  let tail: Uint8Array | undefined;
  const lastColon = body.lastIndexOf(":");
  if (lastColon >= 0 && body.indexOf(".", lastColon) >= 0) {
    tail = new Uint8Array(4);
    if (!parseV4(body.slice(lastColon + 1), tail, 0)) return undefined;
    body = body.slice(0, lastColon + 1) + "0:0";
  }
  const gap = body.indexOf("::");
  const head: number[] = [];
  const rest: number[] = [];
  if (gap < 0) {
    if (!parseGroups(body, head) || head.length !== 8) return undefined;
  } else {
    if (body.indexOf("::", gap + 1) >= 0) return undefined;
    if (!parseGroups(body.slice(0, gap), head)) return undefined;
    if (!parseGroups(body.slice(gap + 2), rest)) return undefined;
    // "::" stands for at least one zero group.
    if (head.length + rest.length > 7) return undefined;
  }
  head.forEach((g, i) => {
    bytes[2 * i] = g >> 8;
    bytes[2 * i + 1] = g & 0xff;
  });
  rest.forEach((g, i) => {
    const at = 16 - 2 * (rest.length - i);
    bytes[at] = g >> 8;
    bytes[at + 1] = g & 0xff;
  });
  if (tail !== undefined) bytes.set(tail, 12);
  return bytes;
}

/**
 * Parses an IP address: IPv4 dotted quad (no leading zeros), or IPv6 in any compression form,
 * with an optional embedded IPv4 tail, zone id (`fe80::1%eth0`, dropped) or surrounding brackets
 * (`[::1]`). Does not unmap IPv4-mapped IPv6 (see {@linkcode ipKey}).
 *
 * @param address the text
 * @returns the parsed address, or `undefined` if it is not one
 *
 * @example
 * ```ts
 * import { parseIp } from "./ip.ts";
 * console.assert(parseIp("2001:db8::1")?.version === 6);
 * console.assert(parseIp("10.0.0.300") === undefined);
 * ```
 */
export function parseIp(address: string): ParsedIp | undefined {
  if (typeof address !== "string" || address.length === 0 || address.length > 100) {
    return undefined;
  }
  if (address.indexOf(":") < 0) {
    const bytes = new Uint8Array(4);
    return parseV4(address, bytes, 0) ? { version: 4, bytes } : undefined;
  }
  let text = address;
  if (text[0] === "[") {
    if (text[text.length - 1] !== "]") return undefined;
    text = text.slice(1, -1);
  }
  const zone = text.indexOf("%");
  if (zone >= 0) {
    if (zone === text.length - 1) return undefined;
    text = text.slice(0, zone);
  }
  const bytes = parseV6(text);
  return bytes === undefined ? undefined : { version: 6, bytes };
}

/**
 * Whether a parsed IPv6 address is IPv4-mapped (`::ffff:a.b.c.d`), returning the IPv4 address.
 * @param ip a parsed address
 * @returns the IPv4 form of a mapped address, else the address itself
 */
export function unmapIp(ip: ParsedIp): ParsedIp {
  if (ip.version === 4) return ip;
  const b = ip.bytes;
  for (let i = 0; i < 10; i++) if (b[i] !== 0) return ip;
  if (b[10] !== 0xff || b[11] !== 0xff) return ip;
  return { version: 4, bytes: b.slice(12) };
}

/**
 * RFC 5952 text of an IPv6 address: lowercase, no leading zeros, the longest run of two or more
 * zero groups (the first of equals) written `::`.
 * @param bytes 16 bytes
 * @returns the canonical text
 */
function formatV6(bytes: Uint8Array): string {
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((bytes[i]! << 8) | bytes[i + 1]!);
  let bestAt = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestAt = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (gs: number[]) => gs.map((g) => g.toString(16)).join(":");
  if (bestAt < 0) return hex(groups);
  return `${hex(groups.slice(0, bestAt))}::${hex(groups.slice(bestAt + bestLen))}`;
}

/**
 * The canonical text of a parsed address (IPv4 dotted quad, IPv6 per RFC 5952).
 * @param ip a parsed address
 * @returns its text
 */
export function formatIp(ip: ParsedIp): string {
  const b = ip.bytes;
  return ip.version === 4 ? `${b[0]}.${b[1]}.${b[2]}.${b[3]}` : formatV6(b);
}

/** Options of {@linkcode ipKey}. */
export interface IpKeyOptions {
  /**
   * IPv6 clients are grouped by this prefix length, 1 to 128 (128: every address on its own).
   * One subscriber usually holds a whole /56 or /64, so limiting single IPv6 addresses lets a
   * client rotate through billions of keys.
   * @default {56}
   */
  ipv6Subnet?: number | undefined;
}

/** The most addresses each subnet's cache keeps (it is emptied when full). */
const MAX_CACHE = 4096;
/**
 * Keys already worked out, one map per `ipv6Subnet`, keyed by the address itself: a server passes
 * the same string for every request of a connection (Node's `socket.remoteAddress`), whose hash
 * the map then finds at once, where a key built per call (subnet and address joined) had to be
 * hashed anew each time (about a third of the middleware's own time on a hot connection).
 */
const CACHES = new Map<number, Map<string, string>>();

/**
 * A client address as a rate-limit key: IPv4 as its dotted quad; IPv4-mapped IPv6
 * (`::ffff:203.0.113.7`, what a dual-stack Node server reports for IPv4 clients) as the IPv4
 * address, so one client has one key whichever socket it came through; IPv6 masked to its
 * `ipv6Subnet` prefix and written canonically with the prefix length (`2001:db8:1200::/56`), so
 * every compression form, case and zone id of one address gives one key.
 *
 * @param address an IPv4 or IPv6 address (zone id and brackets allowed)
 * @param options the IPv6 grouping
 * @returns the key
 * @throws {InvalidArgumentError} if `address` is not an IP address or `ipv6Subnet` is not an
 * integer from 1 to 128
 *
 * @example Group IPv6 clients by /56
 * ```ts
 * import { ipKey } from "./ip.ts";
 * console.assert(ipKey("::ffff:203.0.113.7") === "203.0.113.7");
 * console.assert(ipKey("2001:DB8:0:12ab::1") === "2001:db8:0:1200::/56");
 * console.assert(ipKey("2001:db8::1", { ipv6Subnet: 128 }) === "2001:db8::1");
 * ```
 */
export function ipKey(address: string, options: IpKeyOptions = {}): string {
  const subnet = options.ipv6Subnet === undefined
    ? 56
    : intInRange(options.ipv6Subnet, "ipv6Subnet", 1, 128);
  let cache = CACHES.get(subnet);
  if (cache === undefined) CACHES.set(subnet, cache = new Map());
  const hit = cache.get(address);
  if (hit !== undefined) return hit;
  const parsed = parseIp(address);
  if (parsed === undefined) {
    throw new InvalidArgumentError(
      `'address' must be an IPv4 or IPv6 address: current value is ${
        JSON.stringify(String(address).slice(0, 100))
      }`,
    );
  }
  const ip = unmapIp(parsed);
  let key: string;
  if (ip.version === 4) key = formatIp(ip);
  else if (subnet === 128) key = formatIp(ip);
  else key = `${formatIp({ version: 6, bytes: maskBytes(ip.bytes, subnet) })}/${subnet}`;
  if (cache.size >= MAX_CACHE) cache.clear();
  cache.set(address, key);
  return key;
}

/**
 * The first `bits` bits of `bytes`, the rest zeroed.
 * @param bytes an address
 * @param bits the prefix length
 * @returns a new array
 */
export function maskBytes(bytes: Uint8Array, bits: number): Uint8Array {
  const out = new Uint8Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) {
    const keep = Math.max(0, Math.min(8, bits - 8 * i));
    out[i] = keep === 0 ? 0 : bytes[i]! & (0xff << (8 - keep));
  }
  return out;
}
