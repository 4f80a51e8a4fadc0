/**
 * `defineOperation`: the typed boundary between a primitive and a store. An operation pairs a
 * script with the one place its arguments are encoded (KEYS aside) and its reply decoded, so call
 * sites pass typed arguments and get a typed result, never a raw {@linkcode Reply}.
 *
 * @module
 */
import { StoreError } from "../core/errors.ts";
import type { Reply, Script, Store } from "./types.ts";

/** A script argument list, as `Store.run` takes it. */
export type Argv = Array<string | number>;

/** How an operation talks to its script. */
export interface OperationSpec<A, R> {
  /** The script (see `defineScript`). */
  readonly script: Script;
  /** The script's ARGV for `args`. */
  encode(args: A): Argv;
  /**
   * The result in `reply` (to the call made with `args`).
   * @throws {StoreError} when the reply has another shape (see {@linkcode unexpectedReply})
   */
  decode(reply: Reply, args: A): R;
}

/** An atomic operation with typed arguments `A` and result `R`. */
export interface Operation<A, R> extends OperationSpec<A, R> {
  /**
   * Runs the script on `store` and decodes its reply. A store that throws instead of rejecting
   * (breaking its contract) rejects here all the same.
   * @param store the store
   * @param keys the script's keys (one hash tag)
   * @param args the arguments
   * @returns the decoded result
   */
  run(store: Store, keys: readonly string[], args: A): Promise<R>;
}

/**
 * Defines a typed operation over a script.
 *
 * @param spec the script, its argument encoder and its reply decoder
 * @returns the operation
 *
 * @example
 * ```ts ignore
 * export const DELETE_VALUE = defineOperation({
 *   script: COUNTER_DEL,
 *   encode: (key: string) => [key],
 *   decode: (reply) => Number(reply),
 * });
 * const before: number = await DELETE_VALUE.run(store, [hash], "k");
 * ```
 */
export function defineOperation<A, R>(spec: OperationSpec<A, R>): Operation<A, R> {
  const { script, encode, decode } = spec;
  return Object.freeze({
    script,
    encode,
    decode,
    run(store: Store, keys: readonly string[], args: A): Promise<R> {
      let p: Promise<Reply>;
      try {
        p = store.run(script, keys, encode(args));
      } catch (e) {
        return Promise.reject(e);
      }
      return p.then((reply) => decode(reply, args));
    },
  });
}

/**
 * The error for a reply of another shape than its script's (a client that handed over another
 * command's reply after a dropped connection): a failed call, never a source of NaN.
 *
 * @param script the script
 * @param reply what came back
 * @returns the error to throw
 *
 * @example
 * ```ts
 * import { unexpectedReply } from "./operation.ts";
 * const e = unexpectedReply({ name: "counter_get", sha1: "" }, "OK");
 * console.assert(e.message === 'Unexpected reply from counter_get: "OK"');
 * ```
 */
export function unexpectedReply(script: Script, reply: Reply): StoreError {
  return new StoreError(`Unexpected reply from ${script.name}: ${JSON.stringify(reply)}`);
}

/**
 * `reply` as a list (of `length` items, when given).
 *
 * @param script the script (for the error)
 * @param reply the reply
 * @param length the expected length
 * @returns the list
 * @throws {StoreError} when it is not one
 *
 * @example
 * ```ts
 * import { listReply } from "./operation.ts";
 * console.assert(listReply({ name: "s", sha1: "" }, ["1", "2"], 2).length === 2);
 * ```
 */
export function listReply(script: Script, reply: Reply, length?: number): Reply[] {
  if (!Array.isArray(reply) || (length !== undefined && reply.length !== length)) {
    throw unexpectedReply(script, reply);
  }
  return reply;
}

/**
 * `reply` as an integer (a number, or text that reads as one). Anything else (`"OK"`, a map, a
 * list: the reply of another command) is an unexpected reply, never a `NaN` or a silent success.
 * On every counter reply: a type check and one conversion, no regular expression.
 *
 * @param script the script (for the error)
 * @param reply the reply
 * @returns the integer
 * @throws {StoreError} when it is not one
 *
 * @example
 * ```ts
 * import { intReply } from "./operation.ts";
 * console.assert(intReply({ name: "s", sha1: "" }, "-42") === -42);
 * ```
 */
export function intReply(script: Script, reply: Reply): number {
  const n = scalar(reply);
  if (Number.isInteger(n)) return n;
  throw unexpectedReply(script, reply);
}

/** A number reply, or non-empty text, as a number; `NaN` for anything else. */
function scalar(reply: Reply): number {
  const t = typeof reply;
  return t === "number" || (t === "string" && reply !== "") ? Number(reply) : NaN;
}

/**
 * `reply` as a finite number (a number, or text that reads as one); anything else is an unexpected
 * reply (see {@linkcode intReply}).
 *
 * @param script the script (for the error)
 * @param reply the reply
 * @returns the number
 * @throws {StoreError} when it is not one
 *
 * @example
 * ```ts
 * import { numberReply } from "./operation.ts";
 * console.assert(numberReply({ name: "s", sha1: "" }, "0.975") === 0.975);
 * ```
 */
export function numberReply(script: Script, reply: Reply): number {
  const n = scalar(reply);
  if (Number.isFinite(n)) return n;
  throw unexpectedReply(script, reply);
}
