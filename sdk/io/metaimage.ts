// MetaImage (.mha, header and voxels in one file), read and written the way ITK's MetaImageIO does, so spacing,
// origin and direction come out as SimpleITK reports them. Format: "Key = Value" text lines ending with
// "ElementDataFile = LOCAL", then the voxels, raw or as one zlib stream (CompressedData = True). TransformMatrix lists
// the direction of each file axis in turn, i.e. the columns of ITK's direction matrix.

import { InputError } from "../errors.js";
import { checkedCount, DTYPE_BYTES, fmt, inflateBounded, parseNumbers, typedFromBytes, type ArrayDtype, type RawTypedArray } from "./raw-array.js";

/** A scalar image with ITK geometry; `size` in file axis order (x fastest), direction row-major like SimpleITK's GetDirection(). */
export interface ItkImage {
  size: number[];
  dtype: ArrayDtype;
  /** Voxels with x varying fastest (the C order of the reversed size). */
  data: RawTypedArray;
  spacing: number[];
  origin: number[];
  direction: number[];
}

const MET_TYPES: Record<string, ArrayDtype> = {
  MET_CHAR: "int8",
  MET_UCHAR: "uint8",
  MET_SHORT: "int16",
  MET_USHORT: "uint16",
  MET_INT: "int32",
  MET_UINT: "uint32",
  MET_LONG: "int32",
  MET_ULONG: "uint32",
  MET_LONG_LONG: "int64",
  MET_ULONG_LONG: "uint64",
  MET_FLOAT: "float32",
  MET_DOUBLE: "float64",
};
const MET_NAMES: Partial<Record<ArrayDtype, string>> = {
  int8: "MET_CHAR",
  uint8: "MET_UCHAR",
  int16: "MET_SHORT",
  uint16: "MET_USHORT",
  int32: "MET_INT",
  uint32: "MET_UINT",
  int64: "MET_LONG_LONG",
  uint64: "MET_ULONG_LONG",
  float32: "MET_FLOAT",
  float64: "MET_DOUBLE",
};

const MAX_HEADER = 1 << 20;

/** Parses the header lines up to ElementDataFile; returns the fields (keys as written) and where the voxels start. */
function parseHeader(bytes: Uint8Array, file: string): { fields: Map<string, string>; dataStart: number } {
  const fields = new Map<string, string>();
  let p = 0;
  const limit = Math.min(bytes.length, MAX_HEADER);
  while (p < limit) {
    let e = p;
    while (e < limit && bytes[e] !== 0x0a) e++;
    if (e >= limit) break;
    const line = new TextDecoder("latin1").decode(bytes.subarray(p, e)).replace(/\r$/, "");
    p = e + 1;
    if (line.trim() === "") continue;
    const eq = line.indexOf("=");
    if (eq < 0) throw new InputError(`not a MetaImage header line: ${JSON.stringify(line.slice(0, 80))}`, { file });
    const key = line.slice(0, eq).trim();
    fields.set(key, line.slice(eq + 1).trim());
    if (key === "ElementDataFile") return { fields, dataStart: p };
  }
  throw new InputError(fields.size ? "MetaImage header has no ElementDataFile line" : 'not a MetaImage file (no "Key = Value" header)', { file });
}

const bool = (s: string | undefined) => s !== undefined && /^(true|1)$/i.test(s.trim());

/** Parses a .mha file's bytes (voxels inflated with a bound when CompressedData = True). */
export async function parseMetaImage(bytes: Uint8Array, file = "<mha>"): Promise<ItkImage> {
  const { fields, dataStart } = parseHeader(bytes, file);
  const get = (...keys: string[]) => keys.map((k) => fields.get(k)).find((v) => v !== undefined);
  if ((get("ObjectType") ?? "Image").toLowerCase() !== "image") throw new InputError(`MetaImage ObjectType ${get("ObjectType")} is not Image`, { file });
  const nd = Number(get("NDims"));
  if (!Number.isInteger(nd) || nd < 1 || nd > 8) throw new InputError(`invalid NDims ${JSON.stringify(get("NDims"))}`, { file });
  const nums = (keys: string[], fallback: number[] | null, count: number): number[] => {
    const raw = get(...keys);
    if (raw === undefined) {
      if (fallback) return fallback;
      throw new InputError(`MetaImage header lacks ${keys[0]}`, { file });
    }
    const v = parseNumbers(raw);
    if (!v || v.length < count) throw new InputError(`${keys[0]} must hold ${count} numbers, got ${JSON.stringify(raw)}`, { file });
    return v.slice(0, count);
  };
  const size = nums(["DimSize"], null, nd);
  const typeName = get("ElementType") ?? "";
  const dtype = MET_TYPES[typeName];
  if (!dtype) throw new InputError(`unsupported MetaImage ElementType ${JSON.stringify(typeName)}`, { file });
  const channels = Number(get("ElementNumberOfChannels") ?? 1);
  if (channels !== 1) {
    throw new InputError(`ElementNumberOfChannels ${channels}: only scalar images are supported (give each channel its own _XXXX file)`, { file });
  }
  const dataFile = get("ElementDataFile")!;
  if (dataFile !== "LOCAL") {
    throw new InputError(`ElementDataFile ${JSON.stringify(dataFile)}: only .mha files with the voxels inside (LOCAL) are supported`, { file });
  }
  const spacing = nums(["ElementSpacing", "ElementSize"], new Array<number>(nd).fill(1), nd);
  const origin = nums(["Offset", "Origin", "Position"], new Array<number>(nd).fill(0), nd);
  const identity = Array.from({ length: nd * nd }, (_, k) => (k % (nd + 1) === 0 ? 1 : 0));
  const tm = nums(["TransformMatrix", "Rotation", "Orientation"], identity, nd * nd);
  // TransformMatrix row i is the direction of axis i (ITK direction column i); SimpleITK returns the matrix row-major.
  const direction: number[] = [];
  for (let r = 0; r < nd; r++) for (let c = 0; c < nd; c++) direction.push(tm[c * nd + r]! + 0); // + 0: no -0 from "-0" text
  const msb = bool(get("BinaryDataByteOrderMSB", "ElementByteOrderMSB"));
  const n = checkedCount(size, DTYPE_BYTES[dtype], file);
  const expected = n * DTYPE_BYTES[dtype];
  let voxels = bytes.subarray(dataStart);
  if (bool(get("CompressedData"))) {
    const cs = get("CompressedDataSize");
    if (cs !== undefined && Number.isSafeInteger(Number(cs)) && Number(cs) > 0) voxels = voxels.subarray(0, Number(cs));
    voxels = await inflateBounded(voxels, expected, "zlib", file);
  } else {
    const hs = Number(get("HeaderSize") ?? 0);
    if (hs === -1) voxels = bytes.subarray(Math.max(dataStart, bytes.length - expected));
    else if (Number.isSafeInteger(hs) && hs > 0) voxels = voxels.subarray(hs);
  }
  return { size, dtype, data: typedFromBytes(dtype, voxels, n, !msb, file), spacing: spacing.map(Math.abs), origin: origin.map((x) => x + 0), direction };
}

/** A .mha file as ITK writes it with compression on (SimpleITK's WriteImage(img, f, True)). */
export function formatMetaImageHeader(img: Omit<ItkImage, "data">, compressedSize: number | null): Uint8Array {
  const nd = img.size.length;
  const type = MET_NAMES[img.dtype];
  if (!type) throw new InputError(`MetaImage cannot store ${img.dtype}`);
  const tm: number[] = [];
  for (let r = 0; r < nd; r++) for (let c = 0; c < nd; c++) tm.push(img.direction[c * nd + r]!);
  const lines = [
    "ObjectType = Image",
    `NDims = ${nd}`,
    "BinaryData = True",
    "BinaryDataByteOrderMSB = False",
    `CompressedData = ${compressedSize !== null ? "True" : "False"}`,
    ...(compressedSize !== null ? [`CompressedDataSize = ${compressedSize}`] : []),
    `TransformMatrix = ${tm.map(fmt).join(" ")}`,
    `Offset = ${img.origin.map(fmt).join(" ")}`,
    `CenterOfRotation = ${new Array(nd).fill("0").join(" ")}`,
    `ElementSpacing = ${img.spacing.map(fmt).join(" ")}`,
    `DimSize = ${img.size.join(" ")}`,
    `ElementType = ${type}`,
    "ElementDataFile = LOCAL",
  ];
  return new TextEncoder().encode(lines.join("\n") + "\n");
}
