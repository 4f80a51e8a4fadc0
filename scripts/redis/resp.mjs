/**
 * A tiny RESP2 client for the launcher: one command per connection, replies that are simple
 * strings, errors, integers or bulk strings (no arrays). Enough for PING, CLUSTER INFO, INFO.
 */
import net from "node:net";

/**
 * Sends one command to 127.0.0.1:`port` and resolves with its reply as a string.
 * Rejects on a connection error, an error reply or after `timeoutMs`.
 * @param {number} port
 * @param {string[]} args
 * @param {{ host?: string, timeoutMs?: number }} [opts]
 * @returns {Promise<string>}
 */
export function command(port, args, { host = "127.0.0.1", timeoutMs = 2000 } = {}) {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port });
    let buffer = Buffer.alloc(0);
    const done = (err, value) => {
      socket.destroy();
      if (err) reject(err);
      else resolve(value);
    };
    socket.setTimeout(timeoutMs, () => done(new Error(`timeout talking to ${host}:${port}`)));
    socket.on("error", (err) => done(err));
    socket.on("connect", () => socket.write(encode(args)));
    socket.on("data", (chunk) => {
      buffer = Buffer.concat([buffer, chunk]);
      const reply = parse(buffer);
      if (reply) done(reply.error, reply.value);
    });
  });
}

/** @param {string[]} args */
function encode(args) {
  let out = `*${args.length}\r\n`;
  for (const a of args) out += `$${Buffer.byteLength(a)}\r\n${a}\r\n`;
  return out;
}

/**
 * Parses one complete reply, or returns undefined when more bytes are needed.
 * @param {Buffer} buf
 * @returns {{ value?: string, error?: Error } | undefined}
 */
function parse(buf) {
  const eol = buf.indexOf("\r\n");
  if (eol < 0) return undefined;
  const head = buf.subarray(1, eol).toString();
  switch (String.fromCharCode(buf[0])) {
    case "+":
    case ":":
      return { value: head };
    case "-":
      return { error: new Error(head) };
    case "$": {
      const len = Number(head);
      if (len < 0) return { value: "" };
      if (buf.length < eol + 2 + len + 2) return undefined;
      return { value: buf.subarray(eol + 2, eol + 2 + len).toString() };
    }
    default:
      return { error: new Error(`unexpected reply: ${buf.toString().slice(0, 80)}`) };
  }
}

/**
 * Parses `INFO`/`CLUSTER INFO` text into a field map.
 * @param {string} text
 * @returns {Record<string, string>}
 */
export function fields(text) {
  /** @type {Record<string, string>} */
  const out = {};
  for (const line of text.split("\r\n")) {
    const i = line.indexOf(":");
    if (i > 0 && !line.startsWith("#")) out[line.slice(0, i)] = line.slice(i + 1);
  }
  return out;
}
