/** The download engine's public surface: plan, schedule, fetch and write. */

export {
  DEFAULT_MAX_IN_FLIGHT,
  DEFAULT_MAX_PER_SECOND,
  type LimiterStats,
  RequestLimiter,
  type RequestLimiterOptions,
} from "../ee/limiter";
export { closeIdleConnections, openSocketCount } from "../ee/transport";
export {
  type BudgetGrant,
  ByteBudget,
  type ByteBudgetStats,
  DEFAULT_BYTE_BUDGET,
} from "./budget";
export {
  type BandsHint,
  type DownloadOptions,
  type DownloadProgress,
  type DownloadResult,
  type DownloadSession,
  downloadImage,
} from "./download-image";
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
} from "./errors";
export { type OutputGrid, planGrid, type RegionLike } from "./grid";
export { MAX_REQUEST_BYTES, MAX_REQUEST_SIDE, planTiles, type RequestTile } from "./tiles";
