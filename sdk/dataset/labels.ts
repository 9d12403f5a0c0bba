// nnU-Net's LabelManager (nnunetv2/utilities/label_handling/label_handling.py): what the `labels` dict of dataset.json
// means for training and inference: plain labels or regions (lists of labels, trained with sigmoid heads), and the
// optional `ignore` label.

import { InputError } from "../errors.js";

export type LabelValue = number | number[];
/** A foreground region: a single label or a tuple of labels (upstream turns lists into tuples). */
export type Region = number | number[];

export class LabelManager {
  readonly labelDict: Record<string, LabelValue>;
  readonly regionsClassOrder: number[] | undefined;
  readonly hasRegions: boolean;
  readonly ignoreLabel: number | null;
  /** Sorted unique label values of every entry except `ignore` (region members included). */
  readonly allLabels: number[];
  /** Non-background regions in dict order, or null without regions. */
  readonly foregroundRegions: Region[] | null;

  /** `file` names dataset.json in errors. */
  constructor(
    labelDict: Record<string, LabelValue>,
    regionsClassOrder?: number[] | null,
    { file, forceUseLabels = false }: { file?: string; forceUseLabels?: boolean } = {},
  ) {
    if (!labelDict || typeof labelDict !== "object") throw new InputError("labels must be a dict {name: int | [int, ...]}", { file });
    if (!("background" in labelDict)) throw new InputError("labels: background label not declared (it must be 0)", { file });
    const bg = labelDict.background;
    if (Array.isArray(bg)) throw new InputError(`labels: background label must be 0, not a list (got ${JSON.stringify(bg)})`, { file });
    if (Number(bg) !== 0) throw new InputError(`labels: background label must be 0 (got ${JSON.stringify(bg)})`, { file });
    for (const [k, v] of Object.entries(labelDict)) {
      const ok = Array.isArray(v) ? v.every((x) => Number.isInteger(x)) : Number.isInteger(v);
      if (!ok) throw new InputError(`labels: ${k} must be an integer or a list of integers (got ${JSON.stringify(v)})`, { file });
    }
    this.labelDict = labelDict;
    this.regionsClassOrder = regionsClassOrder ?? undefined;
    this.hasRegions = !forceUseLabels && Object.values(labelDict).some((v) => Array.isArray(v) && v.length > 1);

    const ignore = labelDict.ignore;
    if (ignore !== undefined && (Array.isArray(ignore) || !Number.isInteger(ignore))) {
      throw new InputError(`labels: ignore label has to be an integer, it cannot be a region (got ${JSON.stringify(ignore)})`, { file });
    }
    this.ignoreLabel = ignore === undefined ? null : (ignore as number);

    const all = new Set<number>();
    for (const [k, v] of Object.entries(labelDict)) {
      if (k === "ignore") continue;
      for (const x of Array.isArray(v) ? v : [v]) all.add(x);
    }
    this.allLabels = [...all].sort((a, b) => a - b);

    if (this.hasRegions) {
      if (!this.regionsClassOrder) throw new InputError("labels define regions (lists), so regions_class_order is required", { file });
      const regions: Region[] = [];
      for (const [k, v] of Object.entries(labelDict)) {
        if (k === "ignore") continue;
        const isBackground = Array.isArray(v) ? new Set(v).size === 1 && v[0] === 0 : v === 0;
        if (isBackground) continue;
        regions.push(Array.isArray(v) ? v.slice() : v);
      }
      if (this.regionsClassOrder.length !== regions.length) {
        throw new InputError(`regions_class_order has ${this.regionsClassOrder.length} entries but there are ${regions.length} regions`, { file });
      }
      this.foregroundRegions = regions;
    } else {
      this.foregroundRegions = null;
    }
    if (this.ignoreLabel !== null && this.ignoreLabel !== Math.max(...this.allLabels) + 1) {
      throw new InputError(
        `labels: the ignore label (${this.ignoreLabel}) must be the highest label value, max(other labels) + 1 = ${Math.max(...this.allLabels) + 1}`,
        { file },
      );
    }
  }

  get hasIgnoreLabel(): boolean {
    return this.ignoreLabel !== null;
  }

  get foregroundLabels(): number[] {
    return this.allLabels.filter((l) => l !== 0);
  }

  get numSegmentationHeads(): number {
    return this.hasRegions ? this.foregroundRegions!.length : this.allLabels.length;
  }
}
