/**
 * Every Redis name distkit builds from a user string, through the real builders: distinct inputs
 * never share a name or a slice field, a user's `{`/`}` never moves a key off the library's hash
 * tag, and inputs made of characters that were valid before keep their old names.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { decodeKeyPart } from "../../core/keys.ts";
import { counterHash, counterSeqKey } from "../../counter/_remote.ts";
import { icounterKeys, memberName } from "../../icounter/_core.ts";
import { sliceField, splitSliceField } from "../../icounter/_scripts.ts";
import { lockKeys, semaphoreKeys } from "../../locks/_remote.ts";
import { entityKeyBuilder } from "../../ratelimit/_config.ts";
import { slotOf } from "../../store/slot.ts";
import { anyKey } from "../_support/keys.ts";

const RL_KINDS = ["ra", "rs", "ha", "hs"] as const;

/**
 * Mostly a small space of strings, so that inputs whose naive joins or escapes collide are drawn
 * together often (`a` + `:a` vs `a:` + `a`; `a:b` vs `a%3Ab`), plus any unicode.
 */
const part = fc.oneof(
  fc.string({ unit: fc.constantFrom("a", ":"), minLength: 1, maxLength: 3 }),
  fc.constantFrom(
    "a:b",
    "a%3Ab",
    "a%253Ab",
    "a_b",
    "a:",
    "a%3A",
    ":a",
    "%3Aa",
    "{x}",
    "%7Bx%7D",
    "}",
    "%",
  ),
  fc.string({ unit: fc.constantFrom("a", ":", "%", "3A", "{", "}"), minLength: 1, maxLength: 3 }),
  anyKey,
);

/** The names of one call of each builder, labelled by builder and input. */
function names(prefix: string, key: string, id: string): Array<[label: string, names: string[]]> {
  const out: Array<[string, string[]]> = [
    [`counter ${JSON.stringify(prefix)}`, [counterHash(prefix)]],
    [`counter-seq ${JSON.stringify([prefix, id])}`, [counterSeqKey(prefix, id)]],
    [`icounter ${JSON.stringify(prefix)}`, icounterKeys(prefix)],
  ];
  for (const kind of ["mutex", "rw"] as const) {
    const k = lockKeys(prefix, key, kind);
    out.push([`lock ${kind} ${JSON.stringify([prefix, key])}`, [...k.all, k.channel]]);
  }
  const sem = semaphoreKeys(prefix, key);
  out.push([`semaphore ${JSON.stringify([prefix, key])}`, [...sem.all, sem.channel]]);
  for (const kind of RL_KINDS) {
    const tag = entityKeyBuilder(prefix, kind)(key);
    const all = kind.startsWith("h") ? [tag, `${tag}:z`, `${tag}:r`] : [tag];
    out.push([`rl ${kind} ${JSON.stringify([prefix, key])}`, all]);
  }
  return out;
}

/** The hash tag Redis hashes (the text between the first `{` and the next `}`). */
function tagOf(name: string): string {
  const open = name.indexOf("{");
  const close = name.indexOf("}", open + 1);
  assert.ok(open === 0 && close > 1, `${name} starts with a hash tag`);
  return name.slice(1, close);
}

/**
 * The inputs a naive encoding would confuse with `t`: the same joined text split at another
 * `:`, and `:` swapped with its escape `%3A` (and `{`, `}` with theirs).
 */
function lookalikes([prefix, key, id]: Input): Input[] {
  const out: Input[] = [[prefix, key, id]];
  const joined = `${prefix}:${key}`;
  for (let i = joined.indexOf(":"); i !== -1; i = joined.indexOf(":", i + 1)) {
    if (i > 0 && i < joined.length - 1) out.push([joined.slice(0, i), joined.slice(i + 1), id]);
  }
  const swap = (s: string) =>
    s.replace(
      /%3A|%7B|%7D|[:{}]/g,
      (c) => ({ ":": "%3A", "{": "%7B", "}": "%7D", "%3A": ":", "%7B": "{", "%7D": "}" })[c]!,
    );
  out.push([swap(prefix), swap(key), swap(id)], [prefix, key, `${id}:x`], [`${prefix}}`, key, id]);
  return out;
}
type Input = [prefix: string, key: string, id: string];

Deno.test("keys: distinct user strings never share a Redis name, through every builder", () => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(part, part, part), { minLength: 1, maxLength: 6 }),
      (drawn) => {
        const owner = new Map<string, string>();
        for (const [prefix, key, id] of drawn.flatMap(lookalikes)) {
          for (const [label, all] of names(prefix, key, id)) {
            for (const n of all) {
              const was = owner.get(n);
              assert.ok(was === undefined || was === label, `${n}: ${was} and ${label}`);
              owner.set(n, label);
            }
          }
        }
      },
    ),
    { numRuns: 1000 },
  );
});

Deno.test("keys: adversarial pairs (a:b, a%3Ab, prefix x: vs x) get distinct names", async (t) => {
  const pairs: Array<[[string, string], [string, string]]> = [
    [["p", "a:b"], ["p", "a%3Ab"]],
    [["p", "a:b"], ["p", "a_b"]],
    [["p:a", "b"], ["p", "a:b"]],
    [["x:", "k"], ["x", "k"]],
    [["x", "{k}"], ["x", "%7Bk%7D"]],
    [["x}", "k"], ["x", "}k"]],
  ];
  for (const [[p1, k1], [p2, k2]] of pairs) {
    await t.step(`${JSON.stringify([p1, k1])} vs ${JSON.stringify([p2, k2])}`, () => {
      const theirs = new Map(names(p2, k2, "i").flatMap(([l, ns]) => ns.map((n) => [n, l])));
      for (const [label, ns] of names(p1, k1, "i")) {
        for (const n of ns) {
          // Only a name built from the prefix alone may be shared, and only by an equal prefix.
          if (theirs.has(n)) assert.equal(theirs.get(n), label, `${n}: ${[p1, k1]} vs ${[p2, k2]}`);
        }
      }
      assert.notEqual(lockKeys(p1, k1, "mutex").lease, lockKeys(p2, k2, "mutex").lease);
      assert.notEqual(entityKeyBuilder(p1, "ra")(k1), entityKeyBuilder(p2, "ra")(k2));
    });
  }
});

Deno.test("keys: a user's { or } never moves a key off the library's hash tag", () => {
  fc.assert(
    fc.property(part, part, part, (prefix, key, id) => {
      for (const [label, all] of names(prefix, key, id)) {
        const tag = tagOf(all[0]!);
        const parts = tag.split(":");
        // The tag is the library's own: the encoded prefix (and key), nothing of the user's.
        if (label.startsWith("lock") || label.startsWith("semaphore") || label.startsWith("rl")) {
          assert.equal(parts.length, 2, `${label}: ${tag}`);
          assert.deepEqual(parts.map(decodeKeyPart), [prefix, key], label);
        } else {
          assert.equal(parts.length, 1, `${label}: ${tag}`);
          assert.equal(decodeKeyPart(tag), prefix, label);
        }
        const slot = slotOf(`{${tag}}`);
        for (const n of all) {
          assert.equal(tagOf(n), tag, `${label}: ${n}`);
          assert.equal(slotOf(n), slot, `${label}: ${n}`);
        }
      }
    }),
    { numRuns: 1000 },
  );
});

Deno.test("keys: names built only from characters valid before keep their old Redis names", () => {
  const old = fc.string({ unit: "grapheme", minLength: 1, maxLength: 12 })
    .filter((s) => !/[%:{}]/.test(s));
  fc.assert(
    fc.property(old, old, old, (p, k, id) => {
      assert.equal(counterHash(p), `{${p}}:counter`);
      assert.equal(counterSeqKey(p, id), `{${p}}:counter-seq:${id}`);
      assert.deepEqual(
        icounterKeys(p),
        ["instances", "reaping", "total", "epoch", "slices", "owned", "meta", "applied"]
          .map((s) => `{${p}}:ic:${s}`),
      );
      const l = lockKeys(p, k, "mutex");
      assert.deepEqual([l.lease, l.fence, l.channel], [
        `{${p}:${k}}:mutex:lease`,
        `{${p}:${k}}:mutex:fence`,
        `{${p}:${k}}:mutex:wake`,
      ]);
      for (const kind of RL_KINDS) {
        assert.equal(entityKeyBuilder(p, kind)(k), `{${p}:${k}}:${kind}`);
      }
      assert.equal(memberName(id, "t"), `${id}{t}`);
    }),
  );
});

/** Byte order, as Redis compares strings (BYLEX). */
function cmpBytes(a: string, b: string): number {
  const x = new TextEncoder().encode(a);
  const y = new TextEncoder().encode(b);
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i]! - y[i]!;
  return x.length - y.length;
}

Deno.test("keys: icounter slice fields are unambiguous and one member's BYLEX range is its own", () => {
  const tag = fc.stringMatching(/^[0-9a-z]{1,8}$/);
  fc.assert(
    fc.property(
      fc.tuple(part, tag, part),
      fc.tuple(part, tag, part),
      ([id1, t1, k1], [id2, t2, k2]) => {
        const m1 = memberName(id1, t1);
        const m2 = memberName(id2, t2);
        assert.ok(!m1.includes(":"), m1);
        assert.equal(m1 === m2, id1 === id2 && t1 === t2);
        const f1 = sliceField(m1, k1);
        const f2 = sliceField(m2, k2);
        assert.deepEqual(splitSliceField(f1), [m1, k1]);
        assert.equal(f1 === f2, m1 === m2 && k1 === k2);
        // lua/icounter_apply.lua lists member m's slices as ZRANGE owned [m: (m; BYLEX.
        const inRange = (m: string, f: string) =>
          cmpBytes(`${m}:`, f) <= 0 && cmpBytes(f, `${m};`) < 0;
        assert.ok(inRange(m1, f1));
        assert.equal(inRange(m1, f2), m1 === m2);
      },
    ),
    { numRuns: 2000 },
  );
});
