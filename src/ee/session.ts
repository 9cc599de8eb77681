/**
 * connect(): one call that gives a notebook everything it needs to talk to Earth Engine or,
 * without an account, to the local emulator: the backend (URL, project, authorization), the
 * initialized `ee` client, and the request limiter every download shares.
 *
 *     const session = await connect();          // banner says which backend and how to switch
 *     const ids = await findImages(session, {...});
 *     await session.close();                    // stops the emulator if this session started it
 */
import { createHash } from "node:crypto";
import { inspect } from "node:util";
import {
  type EmulatorOptions,
  EmulatorStartError,
  type RunningEmulator,
  startEmulator,
} from "../emulator/index";
import { createTokenProvider, findCredentials } from "./auth/credentials";
import { CredentialsError, redact, TokenRefusedError } from "./auth/errors";
import {
  type AccessToken,
  type CredentialSource,
  RAW_TOKEN_EXPIRED_FIX,
  type TokenProvider,
} from "./auth/token";
import type { Backend } from "./backend";
import {
  EarthEngineError,
  type Ee,
  type EeToken,
  initializeEe,
  setEeToken,
  stopTokenPush,
} from "./client";
import { type BackendKind, type Config, ConfigError, loadEnv, parseConfig } from "./config";
import { RequestLimiter } from "./limiter";
import { closeIdleConnections } from "./transport";

// One class for "the emulator did not start", whoever notices it: the emulator's own.
export { EmulatorStartError } from "../emulator/index";
export { CredentialsError, TokenRefusedError } from "./auth/errors";
export { ConfigError } from "./config";

/** connect() could not finish for a reason other than configuration or credentials. */
export class SessionError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "SessionError";
  }
}

export interface ConnectOptions {
  /** Force a backend; default: EE_BACKEND, else Earth Engine when EE_PROJECT and credentials exist. */
  backend?: BackendKind;
  /** Cloud project; default EE_PROJECT (the emulator's own project for the emulator). */
  project?: string;
  /** Options for the emulator this session starts (cost model, faults, auth). */
  emulator?: EmulatorOptions;
  /** Request limiter: most requests in flight (default EE_MAX_IN_FLIGHT, else 40). */
  maxInFlight?: number;
  /** Request limiter: most request starts per second (default EE_MAX_PER_SECOND, else 100). */
  maxPerSecond?: number;
  /** Request limiter: back off on 429s and probe upwards (AIMD). */
  adaptive?: boolean;
  /** Variables to use instead of process.env and .env (tests). */
  env?: Record<string, string | undefined>;
  /** A settings file instead of <project root>/.env. */
  envFile?: string;
  /** Do not print the banner. */
  quiet?: boolean;
  signal?: AbortSignal;
  /** Refresh tokens this long before expiry (default 5 min, capped at a quarter of their life). */
  refreshMarginMs?: number;
}

export interface Session {
  backend: Backend;
  ee: Ee;
  /** Shared by every request of the session, so concurrent images never exceed the quota. */
  requests: RequestLimiter;
  /** One line: which backend, and how to switch. Printed by connect() unless quiet. */
  banner: string;
  /** The emulator this session started (stopped by close()). */
  emulator?: RunningEmulator;
  /** Where the Earth Engine credentials came from (names and paths only). */
  credentials?: CredentialSource;
  close(): Promise<void>;
}

const OFFLINE_HINT = "EE_BACKEND=emulator to go offline";

class ConnectedSession implements Session {
  readonly backend: Backend;
  readonly ee: Ee;
  readonly requests: RequestLimiter;
  readonly banner: string;
  readonly emulator?: RunningEmulator;
  readonly credentials?: CredentialSource;
  /** The tokens this session hands the official client (stopped by close()). */
  readonly #tokens?: () => Promise<EeToken>;
  #closing?: Promise<void>;

  constructor(parts: Omit<Session, "close"> & { tokens?: () => Promise<EeToken> }) {
    this.backend = parts.backend;
    this.ee = parts.ee;
    this.requests = parts.requests;
    this.banner = parts.banner;
    this.emulator = parts.emulator;
    this.credentials = parts.credentials;
    this.#tokens = parts.tokens;
  }

  close(): Promise<void> {
    configurations.delete(this);
    if (this.#tokens) stopTokenPush(this.#tokens);
    // Idle keep-alive sockets to the backend would otherwise linger until the server drops them.
    closeIdleConnections();
    const closing = this.#closing ?? (this.emulator ? this.emulator.stop() : Promise.resolve());
    this.#closing = closing;
    return closing;
  }

  // A notebook that displays the session should see what it is, not the whole ee namespace.
  [inspect.custom](): string {
    return `Session { ${this.banner.replace(/^ee-snippets: /, "")} }`;
  }
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) {
    throw signal.reason instanceof Error
      ? signal.reason
      : new SessionError("connect() was aborted.");
  }
}

/** Why the backend was chosen, for the banner. */
export interface BackendChoice {
  kind: BackendKind;
  reason: string;
}

/** The backend connect() will use and why (pure: reads no files beyond what config names). */
export function chooseBackend(
  options: Pick<ConnectOptions, "backend">,
  config: Config,
  project: string | undefined,
  source: CredentialSource | undefined,
): BackendChoice {
  if (options.backend) {
    if (options.backend !== "emulator" && options.backend !== "earthengine") {
      throw new ConfigError(
        `connect({ backend: "${String(options.backend)}" }): use "emulator" or "earthengine".`,
      );
    }
    return { kind: options.backend, reason: `backend: "${options.backend}" option` };
  }
  if (config.backend) {
    return {
      kind: config.backend,
      reason:
        config.backend === "emulator"
          ? "EE_BACKEND=emulator; unset it to use Earth Engine"
          : "EE_BACKEND=earthengine",
    };
  }
  if (project && source) return { kind: "earthengine", reason: "EE_PROJECT and credentials found" };
  if (source) {
    return {
      kind: "emulator",
      reason: `found ${source.label} but no EE_PROJECT; set EE_PROJECT in .env to use Earth Engine`,
    };
  }
  if (project) {
    return {
      kind: "emulator",
      reason: `EE_PROJECT=${project} but no credentials found; see .env.example to use Earth Engine`,
    };
  }
  return {
    kind: "emulator",
    reason: "no credentials in .env; see .env.example to use Earth Engine",
  };
}

/** Earth Engine's 401 text (the official client reports the message, not the status). */
const UNAUTHENTICATED = /invalid authentication credentials/i;

function toEeToken(token: AccessToken): EeToken {
  // Fractional seconds: rounding down to whole seconds and up to 1 s (the client treats 0 s as
  // lapsed) let the client hold a token past its real expiry.
  return {
    accessToken: token.accessToken,
    expiresInSeconds: Math.max(0.001, (token.expiresAt - Date.now()) / 1000),
  };
}

/**
 * Connects to Earth Engine or starts the local emulator, initializes the `ee` client and
 * prints a one-line banner. Every failure names its fix; no secret is ever printed.
 */
export async function connect(options: ConnectOptions = {}): Promise<Session> {
  const { signal } = options;
  throwIfAborted(signal);
  const { env, root, missingEnvFile } = loadEnv({ env: options.env, envFile: options.envFile });
  if (missingEnvFile && !options.quiet) {
    console.warn(`ee-snippets: ${missingEnvFile} does not exist; using the environment only.`);
  }
  const config = parseConfig(env, root);
  const project = options.project?.trim() || config.project;
  const source = findCredentials(config);
  const choice = chooseBackend(options, config, project, source);
  const requests = new RequestLimiter({
    maxInFlight: options.maxInFlight ?? config.maxInFlight,
    maxPerSecond: options.maxPerSecond ?? config.maxPerSecond,
    adaptive: options.adaptive,
  });
  const session =
    choice.kind === "earthengine"
      ? await connectEarthEngine(options, config, project, source, requests)
      : await connectEmulator(options, choice, requests);
  if (!options.quiet) console.log(session.banner);
  return session;
}

async function connectEarthEngine(
  options: ConnectOptions,
  config: Config,
  project: string | undefined,
  source: CredentialSource | undefined,
  requests: RequestLimiter,
): Promise<Session> {
  const { signal } = options;
  if (!project) {
    throw new ConfigError(
      "Earth Engine needs a project: set EE_PROJECT in .env to your Cloud project id " +
        `registered for Earth Engine (or ${OFFLINE_HINT}).`,
    );
  }
  if (!source) {
    throw new CredentialsError(
      "No Earth Engine credentials found: set EE_SERVICE_ACCOUNT_KEY (a service-account JSON " +
        "key), GOOGLE_APPLICATION_CREDENTIALS or EE_ACCESS_TOKEN in .env, or sign in with " +
        "`earthengine authenticate` or `gcloud auth application-default login` (see " +
        `.env.example), or set ${OFFLINE_HINT}.`,
    );
  }
  let initialized = false;
  const provider: TokenProvider = await createTokenProvider(source, config, {
    marginMs: options.refreshMarginMs,
    // Keeps the client's own requests (evaluate, getInfo) authorized after each refresh.
    onRefresh: (token) => {
      if (initialized) setEeToken(toEeToken(token));
    },
  });
  throwIfAborted(signal);
  // Fetch a token now so bad credentials fail here, with their fix, not in the first download.
  await provider.getToken(signal);
  throwIfAborted(signal);

  const tokens = async () => toEeToken(await provider.getToken());
  let ee: Ee;
  try {
    ee = await initializeEe({
      apiUrl: config.apiUrl,
      project,
      token: tokens,
      explainError: (message) =>
        source.kind === "access-token" && UNAUTHENTICATED.test(message)
          ? `${message} ${RAW_TOKEN_EXPIRED_FIX}`
          : message,
    });
  } catch (error) {
    if (error instanceof CredentialsError) throw error;
    throw await explainInitFailure(error, config.apiUrl, project, provider);
  }
  initialized = true;
  const backend: Backend = {
    kind: "earthengine",
    apiUrl: config.apiUrl,
    project,
    // The official client sends its project as X-Goog-User-Project; our REST calls match it.
    quotaProject: project,
    authorization: async (requestSignal?: AbortSignal) =>
      `Bearer ${(await provider.getToken(requestSignal)).accessToken}`,
    renewAuthorization: async (rejected: string, requestSignal?: AbortSignal) =>
      `Bearer ${(await provider.renew(rejected.replace(/^Bearer /, ""), requestSignal)).accessToken}`,
  };
  const where = config.apiUrlSource === "default" ? "" : ` at ${config.apiUrl}`;
  const banner =
    `ee-snippets: using Earth Engine${where}, project ${project}, credentials from ` +
    `${source.label} (${OFFLINE_HINT})`;
  return new ConnectedSession({ backend, ee, requests, banner, credentials: source, tokens });
}

interface RestErrorBody {
  error?: { code?: unknown; message?: unknown; status?: unknown };
}

/**
 * The client reports only the error text; ask the same endpoint once more ourselves to learn
 * the HTTP status, so a refusal can name the right fix.
 */
async function explainInitFailure(
  error: unknown,
  apiUrl: string,
  project: string,
  provider: TokenProvider,
): Promise<Error> {
  // The client's text can carry a stack trace after its first line.
  const clientMessage = (error instanceof Error ? error.message : String(error)).split("\n")[0];
  let status = 0;
  let detail = clientMessage;
  let token: string | undefined;
  try {
    token = (await provider.getToken()).accessToken;
    const response = await fetch(
      `${apiUrl}/v1/projects/${encodeURIComponent(project)}/algorithms?prettyPrint=false`,
      {
        headers: { authorization: `Bearer ${token}`, "x-goog-user-project": project },
        signal: AbortSignal.timeout(30_000),
      },
    );
    status = response.status;
    if (!response.ok) {
      const body = (await response.json().catch(() => ({}))) as RestErrorBody;
      const message = body.error?.message;
      const reason = body.error?.status;
      if (typeof message === "string") {
        detail = typeof reason === "string" ? `${reason}: ${message}` : message;
      }
    } else {
      await response.body?.cancel();
    }
  } catch (probeError) {
    const reason = probeError instanceof Error ? (probeError.cause ?? probeError) : probeError;
    if (reason instanceof Error) detail = `unreachable: ${reason.message}`;
  }
  const secrets = [token];
  const label = provider.source.label;
  if (status === 401) {
    const fix =
      provider.source.kind === "access-token"
        ? "EE_ACCESS_TOKEN has expired or is not an OAuth access token: put a fresh one in .env " +
          "(e.g. `gcloud auth print-access-token`) or use a refreshing credential (a raw token " +
          "cannot be refreshed)."
        : "the token may lack the Earth Engine scope: for gcloud, log in with " +
          "`gcloud auth application-default login --scopes=https://www.googleapis.com/auth/" +
          "earthengine,https://www.googleapis.com/auth/cloud-platform`.";
    return new TokenRefusedError(
      redact(
        `Earth Engine at ${apiUrl} refused the token from ${label} (HTTP 401, ${detail}): ${fix}`,
        secrets,
      ),
      401,
    );
  }
  if (status === 403 && /insufficient authentication scopes/i.test(detail)) {
    return new TokenRefusedError(
      redact(
        `Earth Engine at ${apiUrl} refused the token from ${label} (HTTP 403, ${detail}): the ` +
          "credential lacks the Earth Engine scopes: for gcloud, log in with `gcloud auth " +
          "application-default login --scopes=https://www.googleapis.com/auth/earthengine," +
          "https://www.googleapis.com/auth/cloud-platform`; on a Google Cloud VM, give its " +
          "service account the cloud-platform scope.",
        secrets,
      ),
      403,
    );
  }
  if (status === 403 || status === 404) {
    return new TokenRefusedError(
      redact(
        `Earth Engine at ${apiUrl} refused project ${project} for ${label} (HTTP ${status}, ` +
          `${detail}): set EE_PROJECT in .env to your Cloud project id registered for Earth ` +
          "Engine (https://code.earthengine.google.com/register), enable the Earth Engine API " +
          "in it, and give this account access (roles/earthengine.viewer and " +
          "roles/serviceusage.serviceUsageConsumer).",
        secrets,
      ),
      status,
    );
  }
  return new SessionError(
    redact(
      `Could not initialize Earth Engine at ${apiUrl} (${status ? `HTTP ${status}, ` : ""}` +
        `${detail}): check EE_API_URL / EE_HIGH_VOLUME and the network, or set ${OFFLINE_HINT}.`,
      secrets,
    ),
    { cause: error },
  );
}

async function connectEmulator(
  options: ConnectOptions,
  choice: BackendChoice,
  requests: RequestLimiter,
): Promise<Session> {
  const { signal } = options;
  let emulator: RunningEmulator;
  try {
    emulator = await startEmulator(options.emulator);
  } catch (error) {
    const reason = (error instanceof Error ? error.message : String(error)).replace(
      /^The Earth Engine emulator did not start: /,
      "",
    );
    const explained = new EmulatorStartError(
      `The local Earth Engine emulator did not start: ${reason}\nFix what its output above ` +
        "says (a port in use: pick another emulator.port or leave it unset; missing modules: " +
        "run `npm ci`), or use Earth Engine (EE_PROJECT and credentials in .env; see .env.example).",
    );
    explained.cause = error;
    throw explained;
  }
  try {
    throwIfAborted(signal);
    const project = options.project?.trim() || emulator.project;
    // An emulator started with auth.accessTokens wants one of them on every /v1 request.
    const staticToken = options.emulator?.auth?.accessTokens?.[0];
    const tokens = staticToken
      ? async () => ({ accessToken: staticToken, expiresInSeconds: 24 * 3600 })
      : undefined;
    const ee = await initializeEe({ apiUrl: emulator.url, project, token: tokens });
    const backend: Backend = {
      kind: "emulator",
      apiUrl: emulator.url,
      project,
      authorization: async () => (staticToken ? `Bearer ${staticToken}` : undefined),
    };
    const banner = `ee-snippets: using the local Earth Engine emulator at ${emulator.url} (${choice.reason})`;
    return new ConnectedSession({ backend, ee, requests, banner, emulator, tokens });
  } catch (error) {
    await emulator.stop().catch(() => undefined);
    if (error instanceof EarthEngineError) {
      throw new SessionError(
        `The local emulator started but the Earth Engine client could not initialize against ` +
          `it (${error.message}): this is a bug in the emulator; please report it.`,
        { cause: error },
      );
    }
    throw error;
  }
}

/** The configuration each open session was made from, hashed (it can hold a token). */
const configurations = new WeakMap<Session, string>();

function configurationOf(options: ConnectOptions): string {
  const { env, root } = loadEnv({ env: options.env, envFile: options.envFile });
  const config = parseConfig(env, root);
  const { signal: _signal, quiet: _quiet, ...rest } = options;
  const text = JSON.stringify({ options: rest, config, credentials: findCredentials(config) });
  return createHash("sha256").update(text).digest("hex");
}

/**
 * connect(), for a cell that is rerun: keeps `previous` while .env, the environment and the
 * options still describe it, and otherwise connects anew and closes `previous`. So switching
 * to Earth Engine in .env and rerunning Setup switches, without a kernel restart. The new
 * session is made before the old one is closed: if it fails, `previous` still works.
 */
export async function reconnect(
  previous: Session | undefined,
  options: ConnectOptions = {},
): Promise<Session> {
  const configuration = configurationOf(options);
  if (previous && configurations.get(previous) === configuration) {
    if (!options.quiet) console.log(`${previous.banner} [unchanged: session reused]`);
    return previous;
  }
  const session = await connect(options);
  configurations.set(session, configuration);
  await previous?.close();
  return session;
}
