/**
 * ee-snippets: find Sentinel-2 images over an area, download visualized snippets as
 * GeoTIFFs concurrently, and time it — against Earth Engine or the local emulator.
 *
 *     const session = await connect();                       // emulator unless .env says otherwise
 *     const aoi = bbox(-82.435, 8.3958, 0.09);               // David, Panama, ~10 km
 *     const images = await findImages(session, { aoi, start: "2024-01-01", end: "2024-07-31" });
 *     const report = await downloadSnippets(session, images, { outDir: "data/out", aoi, scale: 10, limit: 8 });
 *     await session.close();
 *
 * Plots, tables and the gallery for notebooks are in ./display/plot. Every error a caller may
 * want to catch is exported here; each names its fix in its message.
 */

export { UnsupportedCrsError } from "./core/crs";
export { ProgressBar } from "./display/progress";
export {
  type DownloadOptions,
  type DownloadProgress,
  type DownloadResult,
  downloadImage,
} from "./download/download-image";
export {
  AuthorizationError,
  BandsHintError,
  DownloadAbortedError,
  DownloadError,
  DownloadParameterError,
  OutputExistsError,
  OutputTooLargeError,
  RequestError,
  ResponseFormatError,
} from "./download/errors";
export { TokenEndpointError } from "./ee/auth/errors";
export type { Backend } from "./ee/backend";
export {
  EarthEngineError,
  type Ee,
  type EeImage,
  type EeImageCollection,
  evaluate,
  serializeExpression,
} from "./ee/client";
export type { RequestLimiter } from "./ee/limiter";
export {
  ConfigError,
  type ConnectOptions,
  CredentialsError,
  connect,
  EmulatorStartError,
  reconnect,
  type Session,
  SessionError,
  TokenRefusedError,
} from "./ee/session";
export { GeoTiffError } from "./geotiff/errors";
export { type RecorderOptions, RunRecorder } from "./run/recorder";
export {
  type RunItem,
  type RunOptions,
  type RunReport,
  runConcurrent,
  runSequential,
} from "./run/run";
export {
  type Aoi,
  AoiError,
  type AoiGeometry,
  aoiFromGeoJSON,
  aoiToEe,
  bbox,
} from "./snippets/aoi";
export {
  downloadSnippet,
  downloadSnippets,
  ExistingFileError,
  estimateSnippetBytes,
  SNIPPET_BANDS,
  type SnippetOptions,
  type SnippetResult,
  type SnippetRunOptions,
  type SnippetsOptions,
  startSnippetRun,
} from "./snippets/batch";
export { DEFAULT_COLLECTION } from "./snippets/collections";
export { ManifestError } from "./snippets/manifest";
export { OutputDirError, OutputPathError } from "./snippets/outputs";
export { REPORT_FILE_NAME, type RunSummary, readRunReports } from "./snippets/report";
export {
  type AoiStatsOptions,
  type CloudSource,
  findImages,
  type ImageInfo,
  SearchError,
  type SearchOptions,
} from "./snippets/search";
export { type SnippetStyle, snippetImage, TUTORIAL_STYLE } from "./snippets/snippet-image";
