// A minimal writer of NumPy .npz archives (np.savez_compressed layout: a zip of `<name>.npy` members, deflated),
// for `--save_probabilities`. np.load reads it; nothing here reads zips.

import { crc32, deflateRawSync } from "node:zlib";
import { formatNpy, type NpyArray } from "../io/npy.js";
import { writeFileAtomic } from "../util/fs.js";

/** The bytes of an .npz file holding `arrays` (member `<key>.npy` each), deflate-compressed like savez_compressed. */
export function formatNpz(arrays: Record<string, NpyArray>): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let offset = 0;
  const entries = Object.entries(arrays);
  for (const [key, arr] of entries) {
    const name = new TextEncoder().encode(`${key}.npy`);
    const raw = formatNpy(arr);
    const comp = deflateRawSync(raw, { level: 6 });
    const crc = crc32(raw);
    const local = new Uint8Array(30 + name.length);
    const lv = new DataView(local.buffer);
    lv.setUint32(0, 0x04034b50, true);
    lv.setUint16(4, 20, true); // version needed
    lv.setUint16(6, 0, true); // flags
    lv.setUint16(8, 8, true); // deflate
    lv.setUint16(10, 0, true);
    lv.setUint16(12, 0x21, true); // DOS time/date 1980-01-01, deterministic output
    lv.setUint32(14, crc, true);
    lv.setUint32(18, comp.length, true);
    lv.setUint32(22, raw.length, true);
    lv.setUint16(26, name.length, true);
    lv.setUint16(28, 0, true);
    local.set(name, 30);
    const cen = new Uint8Array(46 + name.length);
    const cv = new DataView(cen.buffer);
    cv.setUint32(0, 0x02014b50, true);
    cv.setUint16(4, 20, true);
    cv.setUint16(6, 20, true);
    cv.setUint16(8, 0, true);
    cv.setUint16(10, 8, true);
    cv.setUint16(12, 0, true);
    cv.setUint16(14, 0x21, true);
    cv.setUint32(16, crc, true);
    cv.setUint32(20, comp.length, true);
    cv.setUint32(24, raw.length, true);
    cv.setUint16(28, name.length, true);
    cv.setUint32(42, offset, true);
    cen.set(name, 46);
    if (offset + local.length + comp.length > 0xffffffff || raw.length > 0xffffffff) {
      // zip64 would be needed; probabilities of that size (> 4 GB) are not worth writing from JS
      throw new RangeError(`npz member ${key}.npy is too large for a zip without zip64 (${raw.length} bytes)`);
    }
    chunks.push(local, comp);
    central.push(cen);
    offset += local.length + comp.length;
  }
  const cdSize = central.reduce((a, c) => a + c.length, 0);
  const end = new Uint8Array(22);
  const ev = new DataView(end.buffer);
  ev.setUint32(0, 0x06054b50, true);
  ev.setUint16(8, entries.length, true);
  ev.setUint16(10, entries.length, true);
  ev.setUint32(12, cdSize, true);
  ev.setUint32(16, offset, true);
  return [...chunks, ...central, end];
}

/** Writes an .npz atomically. */
export async function writeNpzFile(file: string, arrays: Record<string, NpyArray>): Promise<void> {
  await writeFileAtomic(file, formatNpz(arrays));
}
