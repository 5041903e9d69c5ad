/**
 * CRC-32 (IEEE 802.3, the polynomial of zlib.crc32), as used by the book checksum (PROTOCOL §4).
 *
 * Exports crc32(text) -> unsigned 32-bit integer of the UTF-8 bytes of `text`, and
 * crc32Bytes(Uint8Array). Pure; the table is built once at import.
 */

const TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n += 1) {
    let c = n;
    for (let k = 0; k < 8; k += 1) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32 of raw bytes, unsigned. */
export function crc32Bytes(bytes) {
  let crc = 0xffffffff;
  for (let i = 0; i < bytes.length; i += 1) crc = TABLE[(crc ^ bytes[i]) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/** CRC-32 of a string's UTF-8 bytes; checksum strings are ASCII so no encoder is needed. */
export function crc32(text) {
  let crc = 0xffffffff;
  for (let i = 0; i < text.length; i += 1) {
    const code = text.charCodeAt(i);
    if (code > 0x7f) return crc32Bytes(new TextEncoder().encode(text));
    crc = TABLE[(crc ^ code) & 0xff] ^ (crc >>> 8);
  }
  return (crc ^ 0xffffffff) >>> 0;
}
