/**
 * ee-snippets: find Sentinel-2 images over an area, download visualized snippets as
 * GeoTIFFs concurrently, and time it — against Earth Engine or the local emulator.
 *
 *     const session = await connect();                       // emulator unless .env says otherwise
 *     const aoi = bbox(-82.435, 8.3958, 0.09);               // David, Panama, ~10 km
 *     const images = await findImages(session, { aoi, start: "2024-01-01", end: "2024-07-31" });
 *     const report = await runConcurrent(images, (image) =>
 *       downloadSnippet(session, image, { outDir: "data/out", aoi, scale: 10 }), { limit: 8 });
 *     await session.close();
 */
export { type Aoi, AoiError, type AoiGeometry, aoiFromGeoJSON, bbox } from "./aoi";
export type { Backend } from "./backend";
export { type CollectionFacts, collectionFacts, DEFAULT_COLLECTION } from "./collections";
export {
  type DownloadOptions,
  type DownloadProgress,
  type DownloadResult,
  downloadImage,
  RequestLimiter,
} from "./download/index";
export type { Ee, EeImage, EeImageCollection } from "./ee/client";
export { evaluate, getThumbUrl, serializeExpression } from "./ee/client";
export { Manifest, type ManifestEntry } from "./manifest";
export { OutputDirError, OutputPathError, snippetPath } from "./outputs";
export { ProgressBar } from "./progress";
export { type RunItem, type RunOptions, type RunReport, runConcurrent, runSequential } from "./run";
export { findImages, type ImageInfo, SearchError, type SearchOptions } from "./search";
export {
  ConfigError,
  type ConnectOptions,
  CredentialsError,
  connect,
  EmulatorStartError,
  type Session,
  SessionError,
  TokenRefusedError,
} from "./session";
export { type SnippetStyle, snippetImage, TUTORIAL_STYLE } from "./snippet";
export {
  downloadSnippet,
  downloadSnippets,
  type SnippetOptions,
  type SnippetResult,
} from "./snippets";
