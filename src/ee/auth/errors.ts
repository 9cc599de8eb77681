/**
 * Credential errors. Every message names the credential (by variable and path, never by
 * content) and what to do; secrets are scrubbed from anything a server sent back.
 */

/** Credentials are missing, unreadable or malformed. */
export class CredentialsError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "CredentialsError";
  }
}

/** A token endpoint or Earth Engine refused the credentials (HTTP 400/401/403). */
export class TokenRefusedError extends CredentialsError {
  /** HTTP status of the refusal. */
  readonly status: number;
  constructor(message: string, status: number) {
    super(message);
    this.name = "TokenRefusedError";
    this.status = status;
  }
}

/** The token endpoint could not be reached or answered with something unusable. */
export class TokenEndpointError extends CredentialsError {
  constructor(message: string) {
    super(message);
    this.name = "TokenEndpointError";
  }
}

// Shapes of Google secrets, scrubbed even when we do not know the exact value: access
// tokens ("ya29."), refresh tokens ("1//"), PEM blocks and JWTs (three base64url parts).
const SECRET_SHAPES: RegExp[] = [
  /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(-----END [A-Z ]*PRIVATE KEY-----|$)/g,
  /ya29\.[\w.-]+/g,
  /\b1\/\/[\w.-]+/g,
  /\beyJ[\w-]+\.[\w-]+\.[\w-]+/g,
];

/** Replaces known secret values and anything shaped like a Google secret with "[redacted]". */
export function redact(text: string, secrets: readonly (string | undefined)[] = []): string {
  let out = text;
  for (const secret of secrets) {
    // Short values (e.g. "x") would shred ordinary words; real secrets are long.
    if (secret && secret.length >= 8) out = out.split(secret).join("[redacted]");
  }
  for (const shape of SECRET_SHAPES) out = out.replace(shape, "[redacted]");
  return out;
}

interface LibraryFailure {
  message?: unknown;
  code?: unknown;
  status?: unknown;
  cause?: unknown;
  config?: { url?: unknown };
  response?: { status?: unknown; data?: unknown; config?: { url?: unknown } };
}

/** The endpoint's own reason, from OAuth ({error, error_description}) or Google ({error:{message}}) bodies. */
function reasonOf(data: unknown): string {
  if (typeof data === "string") return data.slice(0, 300);
  if (typeof data !== "object" || data === null) return "";
  const body = data as { error?: unknown; error_description?: unknown };
  if (typeof body.error === "object" && body.error !== null) {
    const inner = body.error as { status?: unknown; message?: unknown };
    return [inner.status, inner.message].filter((part) => typeof part === "string").join(": ");
  }
  return [body.error, body.error_description].filter((part) => typeof part === "string").join(": ");
}

function endpointOf(failure: LibraryFailure): string {
  const raw = failure.response?.config?.url ?? failure.config?.url;
  if (raw === undefined) return "the token endpoint";
  try {
    const url = new URL(String(raw));
    // The query of a metadata-server request names scopes only, but a path is enough to fix it.
    return `the token endpoint ${url.origin}${url.pathname}`;
  } catch {
    return "the token endpoint";
  }
}

/**
 * Turns a google-auth-library failure into our named error: the endpoint's status and reason
 * with the fix, never the library error itself (its request config holds the assertion or the
 * refresh token, so it is not kept even as a cause).
 */
export function explainTokenFailure(
  error: unknown,
  label: string,
  options: { fixWhenRefused?: string; secrets?: readonly string[] } = {},
): CredentialsError {
  if (error instanceof CredentialsError) return error;
  const failure = (typeof error === "object" && error !== null ? error : {}) as LibraryFailure;
  const secrets = options.secrets ?? [];
  const status = Number(failure.response?.status ?? failure.status ?? 0);
  const endpoint = endpointOf(failure);
  const fix =
    options.fixWhenRefused ??
    "check the credential, or create it again (see .env.example for the kinds).";
  if (status >= 400 && status < 500) {
    const reason = reasonOf(failure.response?.data);
    return new TokenRefusedError(
      redact(
        `${endpoint[0]?.toUpperCase()}${endpoint.slice(1)} refused ${label} (HTTP ${status}` +
          `${reason ? `, ${reason}` : ""}): ${fix}`,
        secrets,
      ),
      status,
    );
  }
  if (status >= 500) {
    const reason = reasonOf(failure.response?.data);
    return new TokenEndpointError(
      redact(
        `${endpoint[0]?.toUpperCase()}${endpoint.slice(1)} failed while issuing a token for ` +
          `${label} (HTTP ${status}${reason ? `, ${reason}` : ""}): this is on the server's ` +
          "side; try again in a few minutes.",
        secrets,
      ),
    );
  }
  const code = typeof failure.code === "string" ? failure.code : undefined;
  const message = typeof failure.message === "string" ? failure.message.split("\n")[0] : "";
  return new TokenEndpointError(
    redact(
      `Could not get a token for ${label} from ${endpoint} (${code ?? message ?? "no answer"}): ` +
        "check the network connection and the endpoint URL.",
      secrets,
    ),
  );
}
