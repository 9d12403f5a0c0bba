// A dataset fingerprint as a typed object: the dataset_fingerprint.json content plus, when it was just extracted,
// per-case details the file does not keep (ids, shapes before cropping). Written exactly like upstream's save_json
// (sort_keys=True, indent 4, Python float repr).

import * as aq from "arquero";
import { InputError } from "../errors.js";
import { formatPythonJson, type JsonPath } from "../util/python-json.js";
import type { IntensityProperties } from "./fingerprint-json.js";
import { readJson, writeFileAtomic } from "../util/fs.js";
import type { FingerprintJson } from "./fingerprint-json.js";

export interface CaseFingerprint {
  id: string;
  spacing: number[];
  shapeBeforeCrop: number[] | null;
  shapeAfterCrop: number[];
  relativeSizeAfterCropping: number | null;
}

const FLOAT_ROOTS = new Set(["spacings", "foreground_intensity_properties_per_channel", "median_relative_size_after_cropping"]);
const fingerprintNumberIsFloat = (path: JsonPath) => FLOAT_ROOTS.has(path[0] as string);

export class Fingerprint {
  constructor(
    readonly json: FingerprintJson,
    readonly cases: CaseFingerprint[] | null = null,
  ) {}

  get spacings(): number[][] {
    return this.json.spacings;
  }
  get shapesAfterCrop(): number[][] {
    return this.json.shapes_after_crop;
  }
  get foregroundIntensityPropertiesPerChannel(): Record<string, IntensityProperties> {
    return this.json.foreground_intensity_properties_per_channel;
  }
  get medianRelativeSizeAfterCropping(): number {
    return this.json.median_relative_size_after_cropping;
  }

  toJSON(): FingerprintJson {
    return this.json;
  }

  /** The file text upstream's save_json writes. */
  format(): string {
    return formatPythonJson(this.json, { indent: 4, sortKeys: true, numericIntKeys: true, isFloat: fingerprintNumberIsFloat });
  }

  async save(file: string): Promise<void> {
    await writeFileAtomic(file, this.format());
  }

  /** Reads dataset_fingerprint.json; `identifiers` (sorted case ids) label the cases in `table()`. */
  static async load(file: string, identifiers?: readonly string[]): Promise<Fingerprint> {
    const json = await readJson<FingerprintJson>(file);
    if (
      !json ||
      !Array.isArray(json.spacings) ||
      !Array.isArray(json.shapes_after_crop) ||
      typeof json.foreground_intensity_properties_per_channel !== "object"
    ) {
      throw new InputError("not a dataset fingerprint (needs spacings, shapes_after_crop, foreground_intensity_properties_per_channel)", { file });
    }
    const ids = identifiers && identifiers.length === json.spacings.length ? identifiers : null;
    const cases = ids
      ? json.spacings.map((spacing, i) => ({
          id: ids[i]!,
          spacing,
          shapeBeforeCrop: null,
          shapeAfterCrop: json.shapes_after_crop[i]!,
          relativeSizeAfterCropping: null,
        }))
      : null;
    return new Fingerprint(json, cases);
  }

  /**
   * One row per case: id, spacing, shape before / after cropping, relative size after cropping (null where the
   * fingerprint was read from a file that does not keep them).
   */
  table(): aq.ColumnTable {
    const rows =
      this.cases ??
      this.json.spacings.map((spacing, i) => ({
        id: String(i),
        spacing,
        shapeBeforeCrop: null,
        shapeAfterCrop: this.json.shapes_after_crop[i]!,
        relativeSizeAfterCropping: null,
      }));
    return aq.table({
      id: rows.map((r) => r.id),
      spacing: rows.map((r) => r.spacing),
      shape_before_crop: rows.map((r) => r.shapeBeforeCrop),
      shape_after_crop: rows.map((r) => r.shapeAfterCrop),
      relative_size: rows.map((r) => r.relativeSizeAfterCropping),
    });
  }
}
