/**
 * `ipKey`, `parseIp` and `IpList`: every written form of one address gives one key, IPv4-mapped
 * IPv6 is IPv4, IPv6 groups by subnet, garbage is refused with InvalidArgumentError.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { InvalidArgumentError } from "../../core/errors.ts";
import { formatIp, ipKey, parseIp } from "../../http/ip.ts";
import { IpList } from "../../http/ip_list.ts";

Deno.test("ipKey() keeps IPv4 and unmaps IPv4-mapped IPv6", () => {
  assert.equal(ipKey("203.0.113.7"), "203.0.113.7");
  assert.equal(ipKey("::ffff:203.0.113.7"), "203.0.113.7");
  assert.equal(ipKey("::FFFF:cb00:7107"), "203.0.113.7");
  assert.equal(ipKey("0:0:0:0:0:ffff:203.0.113.7"), "203.0.113.7");
  assert.equal(ipKey("[::ffff:127.0.0.1]"), "127.0.0.1");
  // Not mapped: IPv4-compatible and NAT64 addresses stay IPv6.
  assert.equal(ipKey("::1.2.3.4", { ipv6Subnet: 128 }), "::102:304");
  assert.equal(ipKey("64:ff9b::1.2.3.4", { ipv6Subnet: 128 }), "64:ff9b::102:304");
});

Deno.test("ipKey() groups IPv6 by subnet (default /56) and ignores zone ids", () => {
  assert.equal(ipKey("2001:db8:0:12ab::1"), "2001:db8:0:1200::/56");
  assert.equal(ipKey("2001:db8:0:12ff:ffff::9"), "2001:db8:0:1200::/56");
  assert.equal(ipKey("2001:db8:0:1300::1"), "2001:db8:0:1300::/56");
  assert.equal(ipKey("2001:db8::1", { ipv6Subnet: 64 }), "2001:db8::/64");
  assert.equal(ipKey("2001:db8::1", { ipv6Subnet: 128 }), "2001:db8::1");
  assert.equal(ipKey("fe80::1%eth0", { ipv6Subnet: 128 }), "fe80::1");
  assert.equal(ipKey("fe80::1%25en0", { ipv6Subnet: 128 }), "fe80::1");
  assert.equal(ipKey("::1"), "::/56");
  assert.equal(ipKey("::1", { ipv6Subnet: 128 }), "::1");
  assert.equal(ipKey("::", { ipv6Subnet: 128 }), "::");
  assert.equal(ipKey("1::", { ipv6Subnet: 128 }), "1::");
  // RFC 5952: the longest zero run is compressed, the first of equal runs, never a single group.
  assert.equal(ipKey("1:0:0:2:0:0:0:3", { ipv6Subnet: 128 }), "1:0:0:2::3");
  assert.equal(ipKey("1:0:0:2:0:0:3:4", { ipv6Subnet: 128 }), "1::2:0:0:3:4");
  assert.equal(ipKey("1:2:3:4:5:6:0:8", { ipv6Subnet: 128 }), "1:2:3:4:5:6:0:8");
});

/** Every way to write one IPv6 address. */
function writings(bytes: Uint8Array): string[] {
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((bytes[i]! << 8) | bytes[i + 1]!);
  const full = groups.map((g) => g.toString(16).padStart(4, "0")).join(":");
  const upper = groups.map((g) => g.toString(16).toUpperCase()).join(":");
  const out = [full, upper, `[${full}]`, `${full}%eth0`];
  // Every legal "::" (a run of ≥ 1 zero groups) compressed.
  for (let i = 0; i < 8; i++) {
    for (let j = i + 1; j <= 8; j++) {
      if (groups.slice(i, j).every((g) => g === 0)) {
        const hex = (gs: number[]) => gs.map((g) => g.toString(16)).join(":");
        out.push(`${hex(groups.slice(0, i))}::${hex(groups.slice(j))}`);
      }
    }
  }
  // The last 32 bits as a dotted quad.
  out.push(
    `${groups.slice(0, 6).map((g) => g.toString(16)).join(":")}:${bytes[12]}.${bytes[13]}.${
      bytes[14]
    }.${bytes[15]}`,
  );
  return out;
}

Deno.test("ipKey() gives every written form of one address the same key", () => {
  // Addresses with zero runs are common: draw groups from a small alphabet.
  const group = fc.constantFrom(0, 0, 0, 1, 0xdb8, 0xffff, 0x2001, 0xabcd);
  fc.assert(
    fc.property(
      fc.array(group, { minLength: 8, maxLength: 8 }),
      fc.integer({ min: 1, max: 128 }),
      (gs, subnet) => {
        const bytes = new Uint8Array(16);
        gs.forEach((g, i) => {
          bytes[2 * i] = g >> 8;
          bytes[2 * i + 1] = g & 0xff;
        });
        const keys = new Set(writings(bytes).map((w) => ipKey(w, { ipv6Subnet: subnet })));
        assert.equal(keys.size, 1, [...keys].join(" | "));
        // The canonical text parses back to the same bytes.
        const canonical = formatIp({ version: 6, bytes });
        assert.deepEqual(parseIp(canonical)?.bytes, bytes);
      },
    ),
    { numRuns: 500 },
  );
});

Deno.test("ipKey() refuses garbage with InvalidArgumentError", () => {
  for (
    const bad of [
      "",
      "localhost",
      "1.2.3",
      "1.2.3.4.5",
      "256.1.1.1",
      "01.2.3.4",
      "1.2.3.4 ",
      " 1.2.3.4",
      "1.2.3.4/24",
      ":::",
      "1:::2",
      "1::2::3",
      "12345::",
      "1:2:3:4:5:6:7:8:9",
      "1:2:3:4:5:6:7",
      "1:2:3:4:5:6:7::8",
      ":1::",
      "::g",
      "::1%",
      "[::1",
      "::ffff:1.2.3.256",
      "::1.2.3",
      "1.2.3.4::",
      "x".repeat(200),
    ]
  ) {
    assert.throws(() => ipKey(bad), InvalidArgumentError, bad);
    assert.equal(parseIp(bad), undefined, bad);
  }
  assert.throws(() => ipKey(5 as unknown as string), InvalidArgumentError);
  assert.throws(() => ipKey("::1", { ipv6Subnet: 0 }), /'ipv6Subnet'/);
  assert.throws(() => ipKey("::1", { ipv6Subnet: 129 }), /'ipv6Subnet'/);
  assert.throws(() => ipKey("::1", { ipv6Subnet: 56.5 }), /'ipv6Subnet'/);
});

Deno.test("ipKey() answers repeated addresses from its cache as it did the first time", () => {
  // One address under each subnet, in both orders: each subnet keeps its own answers.
  const subnets = [56, 64, 128, 48] as const;
  const want = [
    "2001:db8:0:1200::/56",
    "2001:db8:0:12ab::/64",
    "2001:db8:0:12ab::1",
    "2001:db8::/48",
  ];
  for (const order of [subnets, [...subnets].reverse()]) {
    for (const subnet of order) {
      const key = ipKey("2001:db8:0:12ab::1", { ipv6Subnet: subnet });
      assert.equal(key, want[subnets.indexOf(subnet)], `/${subnet}`);
    }
  }
  assert.equal(ipKey("2001:db8:0:12ab::1"), "2001:db8:0:1200::/56"); // the default, 56
  // Past the cache's size (it empties and starts again), every answer is still the address's own.
  for (let round = 0; round < 2; round++) {
    for (let i = 0; i < 5000; i++) {
      const ip = `10.${i >> 8}.${i & 255}.${round}`;
      assert.equal(ipKey(`::ffff:${ip}`), ip);
    }
  }
  // A refused address is never cached.
  for (let i = 0; i < 2; i++) assert.throws(() => ipKey("1.2.3"), InvalidArgumentError);
});

Deno.test("IpList matches addresses and CIDR ranges of both families", () => {
  const list = new IpList([
    "10.0.0.0/8",
    "192.0.2.1",
    "2001:db8::/32",
    "::ffff:172.16.0.0/108",
    "::1",
  ], "allowList");
  assert.equal(list.size, 5);
  for (
    const yes of [
      "10.1.2.3",
      "::ffff:10.9.9.9",
      "192.0.2.1",
      "2001:db8:ffff::1",
      "172.16.5.5",
      "::1",
    ]
  ) {
    assert.ok(list.has(yes), yes);
  }
  for (const no of ["11.0.0.1", "192.0.2.2", "2001:db9::1", "172.32.0.1", "::2", "garbage"]) {
    assert.ok(!list.has(no), no);
  }
  assert.ok(new IpList(["0.0.0.0/0"]).has("8.8.8.8"));
  assert.ok(!new IpList(["0.0.0.0/0"]).has("2001:db8::1"));
  assert.ok(new IpList(["::/0"]).has("2001:db8::1"));
  for (const bad of ["10.0.0.0/33", "::/129", "10.0.0.0/", "10.0.0.0/-1", "nope", "1.2.3.4/8/8"]) {
    assert.throws(() => new IpList([bad], "denyList"), /'denyList'/, bad);
  }
  assert.throws(() => new IpList([5 as unknown as string], "denyList"), InvalidArgumentError);
  assert.throws(() => new IpList("10.0.0.0/8" as unknown as string[], "denyList"), /'denyList'/);
});
