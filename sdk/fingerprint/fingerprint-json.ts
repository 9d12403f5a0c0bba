// The dataset_fingerprint.json layout (keys as upstream writes them), shared by the extractor and the planners.

/** Dataset-level foreground intensity statistics of one channel (keys in the sorted order upstream's file has). */
export interface IntensityProperties {
  max: number;
  mean: number;
  median: number;
  min: number;
  percentile_00_5: number;
  percentile_99_5: number;
  std: number;
}

export interface FingerprintJson {
  /** One per case, sorted-identifier order, reader axis order (nnU-Net's (x, y, z) = file (z, y, x)). */
  spacings: number[][];
  shapes_after_crop: number[][];
  /** Channel index (as a string after the JSON round-trip) -> statistics; keys inside in sorted order. */
  foreground_intensity_properties_per_channel: Record<string, IntensityProperties>;
  median_relative_size_after_cropping: number;
}
