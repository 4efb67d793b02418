// Test data for the object-store suites (obj.test.js, obj_memory.test.js): large
// objects are generated and checked piece by piece, never held in memory whole.
//
// The content of object `seed` at byte offset o is the AES-128-CTR keystream at o, so
// any range can be regenerated on its own (random access) to compare what a get()
// yields against what was put, and hashes of several GiB are cheap.
import { createCipheriv, createHash } from "node:crypto";

const KEY = Buffer.alloc(16, 0x5a);
const ZEROS = Buffer.alloc(1 << 20);

// The bytes [offset, offset + length) of pattern `seed` (a 32-bit integer).
export function patternBytes(seed, offset, length) {
  const start = offset - (offset % 16);
  const iv = Buffer.alloc(16);
  iv.writeUInt32BE(seed >>> 0, 0);
  iv.writeBigUInt64BE(BigInt(start / 16), 8);
  const c = createCipheriv("aes-128-ctr", KEY, iv);
  const skip = offset - start;
  const out = Buffer.allocUnsafe(skip + length);
  let done = 0;
  while (done < out.length) {
    const n = Math.min(ZEROS.length, out.length - done);
    done += c.update(ZEROS.subarray(0, n)).copy(out, done);
  }
  return out.subarray(skip);
}

// The object-store digest of a finished node:crypto sha256 hash:
// "SHA-256=" + URL-safe base64 *with* padding.
export function objDigest(hash) {
  return "SHA-256=" + hash.digest("base64").replace(/\+/g, "-").replace(/\//g, "_");
}

export function digestOf(bytes) {
  return objDigest(createHash("sha256").update(bytes));
}

// A pull-based ReadableStream of `size` bytes of pattern `seed`, in pieces of
// `piece` bytes (deliberately not a multiple of the 128 KiB chunk size, so the
// client has to re-cut them). Only one piece exists at a time. `sent.digest()` is the
// digest of everything the stream handed out (once it is done); `sent.bytes` counts it.
// `onPiece(bytesSoFar)`, if given, is awaited before each piece is handed out (used
// to crash the server in the middle of a put).
export function patternStream(seed, size, { piece = 1_000_000, onPiece } = {}) {
  const hash = createHash("sha256");
  const sent = { bytes: 0, pieces: 0, digest: null };
  const stream = new ReadableStream(
    {
      async pull(controller) {
        if (sent.bytes >= size) {
          sent.digest = objDigest(hash);
          controller.close();
          return;
        }
        if (onPiece) await onPiece(sent.bytes);
        const n = Math.min(piece, size - sent.bytes);
        const b = patternBytes(seed, sent.bytes, n);
        hash.update(b);
        sent.bytes += n;
        sent.pieces++;
        controller.enqueue(new Uint8Array(b.buffer, b.byteOffset, b.length));
      },
    },
    { highWaterMark: 0 },
  );
  return { stream, sent };
}

// Reads a ReadableStream to its end without keeping it: counts and hashes the bytes
// and, when `seed` is given, compares every piece with the pattern at its offset.
// Returns { size, digest, pieces, mismatchAt } (mismatchAt: first differing offset or -1).
export async function drain(rs, { seed } = {}) {
  const hash = createHash("sha256");
  let size = 0;
  let pieces = 0;
  let mismatchAt = -1;
  const reader = rs.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (!value || value.length === 0) continue;
    hash.update(value);
    if (seed !== undefined && mismatchAt < 0) {
      const want = patternBytes(seed, size, value.length);
      const got = Buffer.from(value.buffer, value.byteOffset, value.length);
      if (!got.equals(want)) {
        let i = 0;
        while (got[i] === want[i]) i++;
        mismatchAt = size + i;
      }
    }
    size += value.length;
    pieces++;
  }
  return { size, digest: objDigest(hash), pieces, mismatchAt };
}
