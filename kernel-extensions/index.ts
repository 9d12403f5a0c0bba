// Notebook helpers for tslab. Each returns its picture or table (PNG bytes, SVG, HTML, plotly JSON) and, inside a
// tslab kernel, also displays it; outside a notebook nothing is displayed and the return value can be saved.

export { inNotebook, displayBundle, UpdatingDisplay, withSummary } from "./mime.js";
export type { MimeBundle } from "./mime.js";
export { encodePng } from "./png.js";
export { sliceViewer, renderSlice, LABEL_COLORS } from "./slice-viewer.js";
export type { VolumeLike, SliceOptions, SliceView, SliceImage } from "./slice-viewer.js";
export { svgChart, histogram } from "./svg-chart.js";
export type { Panel, LineSeries, Bars, Marker } from "./svg-chart.js";
export { panelsFigure, figureBundle, showFigure } from "./figure.js";
export type { Figure } from "./figure.js";
export { spacingHistogram } from "./spacing-histogram.js";
export type { SpacingSource, SpacingHistogramOptions } from "./spacing-histogram.js";
export { trainingCurves, liveTrainingCurves } from "./training-curves.js";
export type { TrainingLog, CurveSeries } from "./training-curves.js";
export { notebookProgress } from "./progress.js";
export { tableBundle, showTable } from "./table.js";
export { show, summarize } from "./show.js";
export type { ShowOptions, Shown, ShownKind } from "./show.js";
