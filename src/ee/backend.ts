/**
 * Where requests go and how they are authorized: Earth Engine or the local emulator. The
 * download engine talks to a Backend only, so it never knows which one it has.
 */
export interface Backend {
  kind: "emulator" | "earthengine";
  /** REST root without a trailing slash (the client's paths break with one). */
  apiUrl: string;
  /** Cloud project used in "projects/{project}/..." REST paths. */
  project: string;
  /** Sent as X-Goog-User-Project (the project billed for quota), as the official client does. */
  quotaProject?: string;
  /** "Bearer ..." for Earth Engine, refreshed before expiry; undefined for an open emulator. */
  authorization(signal?: AbortSignal): Promise<string | undefined>;
  /**
   * The backend answered 401 to `rejected` (an authorization() value): a new authorization to
   * retry with once, or a rejection whose message says why there is none and what to do.
   */
  renewAuthorization?(rejected: string, signal?: AbortSignal): Promise<string>;
}

/** The REST path prefix for a backend's project, e.g. "http://127.0.0.1:8787/v1/projects/p". */
export function projectUrl(backend: Backend): string {
  return `${backend.apiUrl}/v1/projects/${encodeURIComponent(backend.project)}`;
}
