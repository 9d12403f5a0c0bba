// NRRD (.nrrd with the data attached), read the way ITK's NrrdImageIO does (so SimpleITKIO's spacing, origin and
// direction come out as SimpleITK reports them) and written as ITK writes it. Format (teem.sourceforge.net/nrrd):
// a "NRRD000X" magic line, "field: value" lines, a blank line, then the data (raw, gzip or ascii). Geometry: each
// "space directions" vector is spacing x direction of one axis; spaces other than LPS are turned into ITK's LPS.

import { InputError } from "../errors.js";
import type { ItkImage } from "./metaimage.js";
import { allocArray, checkedCount, DTYPE_BYTES, fmt, inflateBounded, typedFromBytes, type ArrayDtype } from "./raw-array.js";

const TYPES: [ArrayDtype, string[]][] = [
  ["int8", ["signed char", "int8", "int8_t"]],
  ["uint8", ["uchar", "unsigned char", "uint8", "uint8_t"]],
  ["int16", ["short", "short int", "signed short", "signed short int", "int16", "int16_t"]],
  ["uint16", ["ushort", "unsigned short", "unsigned short int", "uint16", "uint16_t"]],
  ["int32", ["int", "signed int", "int32", "int32_t"]],
  ["uint32", ["uint", "unsigned int", "uint32", "uint32_t"]],
  ["int64", ["longlong", "long long", "long long int", "signed long long", "signed long long int", "int64", "int64_t"]],
  ["uint64", ["ulonglong", "unsigned long long", "unsigned long long int", "uint64", "uint64_t"]],
  ["float32", ["float"]],
  ["float64", ["double"]],
];
const TYPE_BY_NAME = new Map(TYPES.flatMap(([d, names]) => names.map((n) => [n, d] as const)));
const NAME_BY_TYPE: Partial<Record<ArrayDtype, string>> = {
  int8: "signed char",
  uint8: "unsigned char",
  int16: "short",
  uint16: "unsigned short",
  int32: "int",
  uint32: "unsigned int",
  int64: "long long int",
  uint64: "unsigned long long int",
  float32: "float",
  float64: "double",
};
// Sign flips that take a space's axes to LPS (ITK's frame); spaces not listed are used as they are.
const TO_LPS: Record<string, number[]> = {
  "right-anterior-superior": [-1, -1, 1],
  ras: [-1, -1, 1],
  "right-anterior-superior-time": [-1, -1, 1],
  rast: [-1, -1, 1],
  "left-anterior-superior": [1, -1, 1],
  las: [1, -1, 1],
  "left-anterior-superior-time": [1, -1, 1],
  last: [1, -1, 1],
};
const DOMAIN_KINDS = new Set(["domain", "space", "time", "???", "none"]);
const MAX_HEADER = 1 << 20;

function parseVector(s: string, file: string): number[] | null {
  const t = s.trim();
  if (t === "none") return null;
  const m = /^\(([^)]*)\)$/.exec(t);
  const v = m ? m[1]!.split(",").map((x) => Number(x.trim())) : null;
  if (!v || v.some((x) => !Number.isFinite(x))) throw new InputError(`invalid NRRD vector ${JSON.stringify(t)}`, { file });
  return v;
}

/** Splits "(a,b,c) (d,e,f) none" into its vectors. */
function parseVectors(s: string, file: string): (number[] | null)[] {
  return (s.match(/\([^)]*\)|none/g) ?? []).map((t) => parseVector(t, file));
}

export async function parseNrrd(bytes: Uint8Array, file = "<nrrd>"): Promise<ItkImage> {
  const magic = new TextDecoder("latin1").decode(bytes.subarray(0, 8));
  if (!/^NRRD000[1-5]$/.test(magic)) throw new InputError("not a NRRD file (no NRRD000X magic)", { file });
  const fields = new Map<string, string>();
  let p = 0;
  let dataStart = -1;
  const limit = Math.min(bytes.length, MAX_HEADER);
  let first = true;
  while (p < limit) {
    let e = p;
    while (e < limit && bytes[e] !== 0x0a) e++;
    const line = new TextDecoder("latin1").decode(bytes.subarray(p, e)).replace(/\r$/, "");
    p = e + 1;
    if (first) {
      first = false;
      continue;
    }
    if (line === "") {
      dataStart = p;
      break;
    }
    if (line.startsWith("#") || line.includes(":=")) continue;
    const c = line.indexOf(": ");
    if (c < 0) throw new InputError(`not a NRRD field line: ${JSON.stringify(line.slice(0, 80))}`, { file });
    fields.set(line.slice(0, c).trim().toLowerCase(), line.slice(c + 2).trim());
  }
  if (dataStart < 0) throw new InputError("NRRD header does not end with a blank line (truncated, or a detached header)", { file });
  if (fields.has("data file") || fields.has("datafile")) {
    throw new InputError("NRRD with a detached data file: only .nrrd files with the data attached are supported", { file });
  }
  for (const k of ["line skip", "lineskip", "byte skip", "byteskip"]) {
    if (fields.has(k) && Number(fields.get(k)) !== 0) throw new InputError(`NRRD field "${k}" is not supported`, { file });
  }
  const dim = Number(fields.get("dimension"));
  if (!Number.isInteger(dim) || dim < 1 || dim > 16) throw new InputError(`invalid NRRD dimension ${JSON.stringify(fields.get("dimension"))}`, { file });
  const dtype = TYPE_BY_NAME.get((fields.get("type") ?? "").toLowerCase());
  if (!dtype) throw new InputError(`unsupported NRRD type ${JSON.stringify(fields.get("type"))}`, { file });
  const sizes = (fields.get("sizes") ?? "").split(/\s+/).filter(Boolean).map(Number);
  if (sizes.length !== dim) throw new InputError(`NRRD sizes ${JSON.stringify(fields.get("sizes"))} do not match dimension ${dim}`, { file });
  const kinds = (fields.get("kinds") ?? "")
    .split(/\s+/)
    .filter(Boolean)
    .map((k) => k.toLowerCase());
  if (kinds.length === dim && kinds.some((k) => !DOMAIN_KINDS.has(k))) {
    throw new InputError(`NRRD kinds "${fields.get("kinds")}": only scalar images are supported (give each channel its own _XXXX file)`, { file });
  }
  const n = checkedCount(sizes, DTYPE_BYTES[dtype], file);
  const expected = n * DTYPE_BYTES[dtype];
  const encoding = (fields.get("encoding") ?? "").toLowerCase();
  const little = (fields.get("endian") ?? "little").toLowerCase() !== "big";
  let data;
  const body = bytes.subarray(dataStart);
  if (encoding === "raw") data = typedFromBytes(dtype, body, n, little, file);
  else if (encoding === "gzip" || encoding === "gz") data = typedFromBytes(dtype, await inflateBounded(body, expected, "gzip", file), n, little, file);
  else if (encoding === "ascii" || encoding === "text" || encoding === "txt") {
    const tokens = new TextDecoder("latin1")
      .decode(body)
      .split(/[\s,]+/)
      .filter(Boolean);
    if (tokens.length < n) throw new InputError(`truncated ascii NRRD data (${tokens.length} of ${n} values)`, { file });
    data = allocArray(dtype, n);
    const big = dtype === "int64" || dtype === "uint64";
    for (let i = 0; i < n; i++) (data as unknown as (number | bigint)[])[i] = big ? BigInt(tokens[i]!) : Number(tokens[i]);
  } else throw new InputError(`unsupported NRRD encoding ${JSON.stringify(fields.get("encoding"))} (raw, gzip and ascii are supported)`, { file });

  const space = (fields.get("space") ?? "").toLowerCase();
  const flip = TO_LPS[space] ?? [1, 1, 1];
  const dirsField = fields.get("space directions");
  let spacing: number[], origin: number[], direction: number[];
  if (dirsField !== undefined) {
    const vecs = parseVectors(dirsField, file);
    if (vecs.length !== dim || vecs.some((v) => v === null)) {
      throw new InputError(`NRRD space directions ${JSON.stringify(dirsField)} must give a vector for each of the ${dim} axes`, { file });
    }
    const sd = vecs[0]!.length;
    if (sd !== dim) throw new InputError(`NRRD space dimension ${sd} differs from the image dimension ${dim}`, { file });
    const v = vecs.map((x) => x!.map((c, i) => c * (flip[i] ?? 1)));
    spacing = v.map((x) => Math.hypot(...x));
    if (spacing.some((s) => !(s > 0))) throw new InputError(`NRRD space directions ${JSON.stringify(dirsField)} contain a zero vector`, { file });
    direction = [];
    for (let r = 0; r < dim; r++) for (let c = 0; c < dim; c++) direction.push(v[c]![r]! / spacing[c]! + 0);
    const o = fields.has("space origin") ? parseVector(fields.get("space origin")!, file) : null;
    origin = o ? o.map((c, i) => c * (flip[i] ?? 1) + 0) : new Array<number>(dim).fill(0);
    if (origin.length !== dim) throw new InputError(`NRRD space origin has ${origin.length} values for a ${dim}-d image`, { file });
  } else {
    const sp = (fields.get("spacings") ?? "").split(/\s+/).filter(Boolean).map(Number);
    spacing = sizes.map((_, i) => (Number.isFinite(sp[i]) && sp[i]! !== 0 ? Math.abs(sp[i]!) : 1));
    origin = new Array<number>(dim).fill(0);
    direction = Array.from({ length: dim * dim }, (_, k) => (k % (dim + 1) === 0 ? 1 : 0));
  }
  return { size: sizes, dtype, data, spacing, origin, direction };
}

/** A NRRD header as ITK writes it (LPS space, gzip encoding when compressing). */
export function formatNrrdHeader(img: Omit<ItkImage, "data">, gzip: boolean): Uint8Array {
  const nd = img.size.length;
  const type = NAME_BY_TYPE[img.dtype];
  if (!type) throw new InputError(`NRRD cannot store ${img.dtype}`);
  const vec = (v: number[]) => `(${v.map(fmt).join(",")})`;
  const dirs = img.size.map((_, c) => vec(Array.from({ length: nd }, (_, r) => img.direction[r * nd + c]! * img.spacing[c]!)));
  const lines = [
    "NRRD0004",
    "# Complete NRRD file format specification at:",
    "# http://teem.sourceforge.net/nrrd/format.html",
    `type: ${type}`,
    `dimension: ${nd}`,
    nd === 3 ? "space: left-posterior-superior" : `space dimension: ${nd}`,
    `sizes: ${img.size.join(" ")}`,
    `space directions: ${dirs.join(" ")}`,
    `kinds: ${new Array(nd).fill("domain").join(" ")}`,
    "endian: little",
    `encoding: ${gzip ? "gzip" : "raw"}`,
    `space origin: ${vec(img.origin)}`,
  ];
  return new TextEncoder().encode(lines.join("\n") + "\n\n");
}
