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

export { ProgressBar } from "./display/progress";
export {
  type DownloadOptions,
  type DownloadProgress,
  type DownloadResult,
  downloadImage,
  RequestLimiter,
} from "./download/index";
export type { Backend } from "./ee/backend";
export type { Ee, EeImage, EeImageCollection } from "./ee/client";
export { evaluate, getThumbUrl, serializeExpression } from "./ee/client";
export {
  ConfigError,
  type ConnectOptions,
  CredentialsError,
  connect,
  EmulatorStartError,
  type Session,
  SessionError,
  TokenRefusedError,
} from "./ee/session";
export {
  type RunItem,
  type RunOptions,
  type RunReport,
  runConcurrent,
  runSequential,
} from "./run/run";
export { type Aoi, AoiError, type AoiGeometry, aoiFromGeoJSON, bbox } from "./snippets/aoi";
export {
  downloadSnippet,
  downloadSnippets,
  type SnippetOptions,
  type SnippetResult,
} from "./snippets/batch";
export { type CollectionFacts, collectionFacts, DEFAULT_COLLECTION } from "./snippets/collections";
export { Manifest, type ManifestEntry } from "./snippets/manifest";
export { OutputDirError, OutputPathError, snippetPath } from "./snippets/outputs";
export { findImages, type ImageInfo, SearchError, type SearchOptions } from "./snippets/search";
export { type SnippetStyle, snippetImage, TUTORIAL_STYLE } from "./snippets/snippet-image";
