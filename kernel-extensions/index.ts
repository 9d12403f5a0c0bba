// Notebook helpers for tslab. Each returns its picture or table (PNG bytes, SVG, HTML, plotly JSON) and, inside a
// tslab kernel, also displays it; outside a notebook nothing is displayed and the return value can be saved.
// Importing this module inside a kernel also makes nnssl-adapt's typed errors print as one line (errors.ts).

import { installNotebookErrors } from "./errors.js";

installNotebookErrors();

export { inNotebook, displayBundle, UpdatingDisplay, withSummary, markDisplayed } from "./mime.js";
export type { MimeBundle } from "./mime.js";
export { ensurePlotly, plotlyLoaderHtml } from "./libraries.js";
export { verboseErrors, errorSummary } from "./errors.js";
export { encodePng } from "./png.js";
export { renderSlice, LABEL_COLORS } from "./slice-viewer.js";
export type { VolumeLike, SliceOptions, SliceImage } from "./slice-viewer.js";
export { viewVolume, sliceViewer } from "./volume-viewer.js";
export type { ViewerOptions, SliceView } from "./volume-viewer.js";
export { svgChart, histogram } from "./svg-chart.js";
export type { Panel, LineSeries, Bars, Marker } from "./svg-chart.js";
export { panelsFigure, figureBundle, figureHtml, showFigure } from "./figure.js";
export type { Figure } from "./figure.js";
export { spacingHistogram } from "./spacing-histogram.js";
export type { SpacingSource, SpacingHistogramOptions } from "./spacing-histogram.js";
export { trainingCurves, liveTrainingCurves, trainingMonitor } from "./training-curves.js";
export type { TrainingLog, CurveSeries, TrainingMonitor } from "./training-curves.js";
export { notebookProgress } from "./progress.js";
export { tableBundle, showTable } from "./table.js";
export { show, summarize } from "./show.js";
export type { ShowOptions, Shown, ShownKind } from "./show.js";
