/**
 * A tiny OAuth token endpoint on 127.0.0.1 for tests: verifies jwt-bearer assertions with a
 * service account's public key and refresh tokens by value, and counts what it issued.
 */
import { generateKeyPairSync, verify } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface TokenServerOptions {
  /** Lifetime of issued tokens. */
  ttlSeconds?: number;
  /** Accepted refresh token (refresh_token grant). */
  refreshToken?: string;
  /** Required client id/secret for the refresh grant, when set. */
  clientId?: string;
  clientSecret?: string;
  /** PEM public key that verifies jwt-bearer assertions. */
  publicKeyPem?: string;
  /** Delay before answering, so concurrent callers overlap. */
  delayMs?: number;
  /** Prefix of issued tokens. */
  tokenPrefix?: string;
}

export interface TokenServer {
  url: string;
  /** Requests seen, as parsed forms. */
  requests: Record<string, string>[];
  /** Decoded claims of verified assertions. */
  claims: Record<string, unknown>[];
  issued: number;
  /** Change behaviour mid-test: "refuse" answers 400 invalid_grant, "fail" 503. */
  mode: "ok" | "refuse" | "fail" | "echo";
  /** Public key verifying assertions; settable once the test's key exists. */
  publicKeyPem?: string;
  close(): Promise<void>;
}

export async function startTokenServer(options: TokenServerOptions = {}): Promise<TokenServer> {
  const state: TokenServer = {
    url: "",
    requests: [],
    claims: [],
    issued: 0,
    mode: "ok",
    publicKeyPem: options.publicKeyPem,
    close: async () => undefined,
  };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const form = Object.fromEntries(new URLSearchParams(Buffer.concat(chunks).toString()));
      state.requests.push(form);
      const reply = (status: number, body: unknown) => {
        setTimeout(() => {
          res.writeHead(status, { "content-type": "application/json" });
          res.end(JSON.stringify(body));
        }, options.delayMs ?? 0);
      };
      if (state.mode === "fail") return reply(503, { error: "backend_error" });
      const refuse = (description: string) =>
        reply(400, { error: "invalid_grant", error_description: description });
      if (state.mode === "refuse") return refuse("Token has been expired or revoked.");
      // A careless server quoting what it was sent: the client must scrub it.
      if (state.mode === "echo") return refuse(`Rejected ${JSON.stringify(form)}`);
      if (form.grant_type === "refresh_token") {
        if (form.refresh_token !== options.refreshToken) return refuse("Bad refresh token.");
        if (options.clientId && form.client_id !== options.clientId) {
          return reply(401, { error: "invalid_client", error_description: "Unauthorized" });
        }
        if (options.clientSecret && form.client_secret !== options.clientSecret) {
          return reply(401, { error: "invalid_client", error_description: "Unauthorized" });
        }
      } else if (form.grant_type === "urn:ietf:params:oauth:grant-type:jwt-bearer") {
        const parts = (form.assertion ?? "").split(".");
        if (parts.length !== 3 || !state.publicKeyPem) return refuse("Invalid JWT.");
        const ok = verify(
          "sha256",
          Buffer.from(`${parts[0]}.${parts[1]}`),
          state.publicKeyPem,
          Buffer.from(parts[2] as string, "base64url"),
        );
        if (!ok) return refuse("Invalid JWT Signature.");
        state.claims.push(
          JSON.parse(Buffer.from(parts[1] as string, "base64url").toString()) as Record<
            string,
            unknown
          >,
        );
      } else {
        return reply(400, { error: "unsupported_grant_type" });
      }
      state.issued += 1;
      reply(200, {
        access_token: `${options.tokenPrefix ?? "issued-token"}-${state.issued}`,
        expires_in: options.ttlSeconds ?? 3600,
        token_type: "Bearer",
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  state.url = `http://127.0.0.1:${port}/token`;
  state.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return state;
}

export interface TestKey {
  dir: string;
  keyFile: string;
  publicKeyPem: string;
  privateKeyPem: string;
  clientEmail: string;
}

export interface KeyPair {
  publicKeyPem: string;
  privateKeyPem: string;
}

/** A throwaway RSA 2048 key pair, PEM-encoded as in Google's JSON keys. */
export function makeKeyPair(): KeyPair {
  const { publicKey, privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  return {
    privateKeyPem: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
    publicKeyPem: publicKey.export({ type: "spki", format: "pem" }).toString(),
  };
}

/** A throwaway service account key whose token_uri points at `tokenUri`. */
export function writeServiceAccountKey(
  tokenUri: string,
  dir?: string,
  pair: KeyPair = makeKeyPair(),
): TestKey {
  const where = dir ?? mkdtempSync(join(tmpdir(), "ee-sa-"));
  const keyFile = join(where, "service-account.json");
  const clientEmail = "snippets@test-project.iam.gserviceaccount.com";
  writeFileSync(
    keyFile,
    JSON.stringify({
      type: "service_account",
      project_id: "test-project",
      private_key_id: "0123456789abcdef",
      private_key: pair.privateKeyPem,
      client_email: clientEmail,
      client_id: "1234567890",
      token_uri: tokenUri,
    }),
  );
  return { dir: where, keyFile, ...pair, clientEmail };
}

/** An access token (and its lifetime) that the OAuth endpoint `tokenUrl` mints from a refresh token. */
export async function mintAccessToken(
  tokenUrl: string,
  refreshToken: string,
): Promise<{ access_token: string; expires_in: number }> {
  const response = await fetch(tokenUrl, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      grant_type: "refresh_token",
      refresh_token: refreshToken,
    }).toString(),
  });
  if (!response.ok) throw new Error(`${tokenUrl} answered ${response.status}`);
  return (await response.json()) as { access_token: string; expires_in: number };
}
