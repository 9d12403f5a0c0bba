// get_normalization_scheme (nnunetv2/preprocessing/normalization/map_channel_name_to_normalization.py): the channel
// name in dataset.json picks the scheme, case-insensitively; anything unknown is z-scored.

export interface NormalizationSchemeInfo {
  name: "CTNormalization" | "NoNormalization" | "ZScoreNormalization" | "RescaleTo01Normalization" | "RGBTo01Normalization";
  /** Only z-scoring keeps the outside of the nonzero mask at 0, so only it may normalise within the mask. */
  leavesPixelsOutsideMaskAtZeroIfUseMaskForNormIsTrue: boolean;
}

const SCHEMES: Record<string, NormalizationSchemeInfo> = {
  ct: { name: "CTNormalization", leavesPixelsOutsideMaskAtZeroIfUseMaskForNormIsTrue: false },
  nonorm: { name: "NoNormalization", leavesPixelsOutsideMaskAtZeroIfUseMaskForNormIsTrue: false },
  zscore: { name: "ZScoreNormalization", leavesPixelsOutsideMaskAtZeroIfUseMaskForNormIsTrue: true },
  rescale_to_0_1: { name: "RescaleTo01Normalization", leavesPixelsOutsideMaskAtZeroIfUseMaskForNormIsTrue: false },
  rgb_to_0_1: { name: "RGBTo01Normalization", leavesPixelsOutsideMaskAtZeroIfUseMaskForNormIsTrue: false },
};

/** The normalization scheme nnU-Net picks for a channel name ("CT", "T2", "noNorm", ...). */
export function normalizationSchemeFor(channelName: string): NormalizationSchemeInfo {
  // str.casefold(); toLowerCase is the same for these ASCII keys
  return SCHEMES[String(channelName).toLowerCase()] ?? SCHEMES.zscore!;
}
