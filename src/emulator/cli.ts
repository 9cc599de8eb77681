/**
 * `npm run emulator -- --port 8787 [flags]`: runs the local Earth Engine emulator in the
 * foreground, printing its URL and cost model. Flags override EMULATOR_* environment
 * variables, which override the defaults. Secrets (tokens, keys) come from flags or env and
 * are never printed.
 */
import { readFileSync } from "node:fs";
import {
  COST_FLAGS,
  CostModelError,
  type CostModelOverrides,
  costOverridesFromEnv,
  describeCostModel,
  parseNumber,
  resolveCostModel,
  setPath,
} from "./costs";
import { READY_PREFIX } from "./protocol";
import {
  checkRenderThreads,
  defaultRenderThreads,
  MAX_DEFAULT_RENDER_THREADS,
  type RenderThreadsError,
} from "./render-pool";
import { type AuthOptions, EmulatorServer } from "./server";

export interface CliOptions {
  port: number;
  overrides: CostModelOverrides;
  auth: AuthOptions;
  maxBodyBytes?: number;
  /** Threads rendering pixels; undefined: defaultRenderThreads(). */
  renderThreads?: number;
  /** Exit when stdin closes: how a spawned emulator follows its parent's death. */
  exitWithStdin: boolean;
}

const USAGE = `Usage: npm run emulator -- [--port 8787] [flags]
  --port N                          port on 127.0.0.1 (0: any free port; env EMULATOR_PORT)
${COST_FLAGS.map((f) => `  ${`${f.flag} N`.padEnd(34)}${f.help} (env ${f.env})`).join("\n")}
  --access-token T                  require "Authorization: Bearer T" on /v1 (repeatable; env EMULATOR_ACCESS_TOKENS, comma-separated)
  --refresh-token T                 refresh token POST /token accepts (env EMULATOR_REFRESH_TOKEN)
  --service-account-public-key F    PEM file verifying service-account JWTs at POST /token (env EMULATOR_SERVICE_ACCOUNT_PUBLIC_KEY: PEM text)
  --token-ttl-seconds N             lifetime of issued tokens (default 3600; env EMULATOR_TOKEN_TTL_SECONDS)
  --max-body-bytes N                request body cap (default 10 MiB)
  --render-threads N                worker threads rendering pixels (default: 1 on <= 2 cores, else cores-1, at most ${MAX_DEFAULT_RENDER_THREADS}; env EMULATOR_RENDER_THREADS)
  --exit-with-stdin                 exit when stdin closes (used by startEmulator)`;

export class CliUsageError extends Error {
  constructor(message: string) {
    super(`${message}\n${USAGE}`);
    this.name = "CliUsageError";
  }
}

export function parseCliArgs(argv: string[], env: NodeJS.ProcessEnv): CliOptions {
  const overrides = costOverridesFromEnv(env);
  const tokens = (env.EMULATOR_ACCESS_TOKENS ?? "")
    .split(",")
    .map((t) => t.trim())
    .filter(Boolean);
  const auth: AuthOptions = {
    refreshToken: env.EMULATOR_REFRESH_TOKEN || undefined,
    serviceAccountPublicKeyPem: env.EMULATOR_SERVICE_ACCOUNT_PUBLIC_KEY || undefined,
    tokenTtlSeconds: env.EMULATOR_TOKEN_TTL_SECONDS
      ? parseNumber("EMULATOR_TOKEN_TTL_SECONDS", env.EMULATOR_TOKEN_TTL_SECONDS)
      : undefined,
  };
  let port = env.EMULATOR_PORT ? parseNumber("EMULATOR_PORT", env.EMULATOR_PORT) : 8787;
  let maxBodyBytes: number | undefined;
  let renderThreads = env.EMULATOR_RENDER_THREADS
    ? parseNumber("EMULATOR_RENDER_THREADS", env.EMULATOR_RENDER_THREADS)
    : undefined;
  let exitWithStdin = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--help" || arg === "-h")
      throw new CliUsageError("ee-snippets Earth Engine emulator");
    if (arg === "--exit-with-stdin") {
      exitWithStdin = true;
      continue;
    }
    const eq = arg.indexOf("=");
    const flag = eq > 0 ? arg.slice(0, eq) : arg;
    const value = (): string => {
      if (eq > 0) return arg.slice(eq + 1);
      const next = argv[++i];
      if (next === undefined) throw new CliUsageError(`${flag} needs a value.`);
      return next;
    };
    const spec = COST_FLAGS.find((f) => f.flag === flag);
    if (spec) setPath(overrides, spec.key, parseNumber(flag, value()));
    else if (flag === "--port") port = parseNumber(flag, value());
    else if (flag === "--access-token") tokens.push(value());
    else if (flag === "--refresh-token") auth.refreshToken = value();
    else if (flag === "--service-account-public-key") {
      const file = value();
      try {
        auth.serviceAccountPublicKeyPem = readFileSync(file, "utf8");
      } catch (error) {
        throw new CliUsageError(
          `Cannot read ${flag} file ${file}: ${error instanceof Error ? error.message : String(error)}`,
        );
      }
    } else if (flag === "--token-ttl-seconds") auth.tokenTtlSeconds = parseNumber(flag, value());
    else if (flag === "--max-body-bytes") maxBodyBytes = parseNumber(flag, value());
    else if (flag === "--render-threads") renderThreads = parseNumber(flag, value());
    else throw new CliUsageError(`Unknown flag ${arg}.`);
  }
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new CliUsageError(`--port must be 0-65535, got ${port}.`);
  if (tokens.length > 0) auth.accessTokens = tokens;
  if (renderThreads !== undefined) {
    try {
      checkRenderThreads("--render-threads", renderThreads);
    } catch (error) {
      throw new CliUsageError((error as RenderThreadsError).message);
    }
  }
  return { port, overrides, auth, maxBodyBytes, renderThreads, exitWithStdin };
}

export async function main(argv: string[], env: NodeJS.ProcessEnv): Promise<EmulatorServer> {
  const options = parseCliArgs(argv, env);
  const model = resolveCostModel(options.overrides);
  const server = new EmulatorServer({
    model,
    auth: options.auth,
    maxBodyBytes: options.maxBodyBytes,
    renderThreads: options.renderThreads ?? defaultRenderThreads(),
  });
  const url = await server.listen(options.port);
  const authNote =
    options.auth.accessTokens ||
    options.auth.refreshToken ||
    options.auth.serviceAccountPublicKeyPem
      ? "auth: Bearer token required on /v1 (tokens not shown); POST /token issues tokens"
      : "auth: none (open emulator)";
  process.stdout.write(
    `ee-snippets Earth Engine emulator (synthetic Sentinel-2 imagery, not Google data) on ${url}\n${describeCostModel(model)}\nemulator render threads: ${server.renderThreads} (its own CPU, hidden inside the modeled time when it fits)\n${authNote}\n`,
  );
  process.stdout.write(
    `${READY_PREFIX}${JSON.stringify({ url, port: Number(new URL(url).port), model })}\n`,
  );
  const shutdown = () => {
    server.close().finally(() => process.exit(0));
  };
  process.once("SIGTERM", shutdown);
  process.once("SIGINT", shutdown);
  if (options.exitWithStdin) {
    process.stdin.on("data", () => {});
    process.stdin.once("end", shutdown);
    process.stdin.once("close", shutdown);
    process.stdin.resume();
  }
  return server;
}

if (require.main === module) {
  main(process.argv.slice(2), process.env).catch((error: unknown) => {
    const usage = error instanceof CliUsageError || error instanceof CostModelError;
    process.stderr.write(
      `${error instanceof Error ? (usage ? error.message : error.stack) : String(error)}\n`,
    );
    process.exit(usage ? 2 : 1);
  });
}
