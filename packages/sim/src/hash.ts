// FNV-1a, 32 bits, over UTF-16 code units or bytes. The simulator hashes its trace, log
// prefixes and application states with it: it is tiny, fast, and identical on every
// platform, which is all a replayable trace needs (it is not a defence against adversaries).

export const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/** Folds every UTF-16 code unit of `text` into `hash`. */
export function fnvString(hash: number, text: string): number {
  let h = hash;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, FNV_PRIME) >>> 0;
  }
  return h;
}

/** Folds every byte of `bytes` into `hash`. */
export function fnvBytes(hash: number, bytes: Uint8Array): number {
  let h = hash;
  for (let i = 0; i < bytes.length; i++) {
    h ^= bytes[i] as number;
    h = Math.imul(h, FNV_PRIME) >>> 0;
  }
  return h;
}

/** Folds a non-negative integer below 2^53 into `hash`, as two 32-bit halves. */
export function fnvNumber(hash: number, value: number): number {
  let h = hash;
  const halves = [value >>> 0, Math.floor(value / 0x1_0000_0000) >>> 0];
  for (const half of halves) {
    for (let shift = 0; shift < 32; shift += 8) {
      h ^= (half >>> shift) & 0xff;
      h = Math.imul(h, FNV_PRIME) >>> 0;
    }
  }
  return h;
}

export function hex32(hash: number): string {
  return (hash >>> 0).toString(16).padStart(8, "0");
}
