/**
 * Google's identity endpoints that are not token endpoints, on 127.0.0.1 for tests: the
 * metadata server (GCE_METADATA_HOST), Security Token Service (external_account token_url)
 * and IAM Credentials' generateAccessToken (impersonation). Each mints its tokens from the
 * emulator's own /token endpoint with a refresh grant, so the emulator both issues and checks
 * every token (and expires them on its clock).
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { mintAccessToken } from "./token-server";

export interface GoogleIdentity {
  /** "127.0.0.1:port", the form GCE_METADATA_HOST takes. */
  host: string;
  url: string;
  /** Requests answered, by endpoint. */
  counts: { metadata: number; sts: number; iam: number };
  /** The subject token STS accepts (what an external_account's credential file holds). */
  subjectToken: string;
  close(): Promise<void>;
}

export async function startGoogleIdentity(options: {
  emulatorUrl: string;
  refreshToken: string;
  subjectToken: string;
}): Promise<GoogleIdentity> {
  const state: GoogleIdentity = {
    host: "",
    url: "",
    counts: { metadata: 0, sts: 0, iam: 0 },
    subjectToken: options.subjectToken,
    close: async () => undefined,
  };
  const mint = () => mintAccessToken(`${options.emulatorUrl}/token`, options.refreshToken);
  const body = (req: IncomingMessage) =>
    new Promise<string>((resolve) => {
      const chunks: Buffer[] = [];
      req.on("data", (chunk: Buffer) => chunks.push(chunk));
      req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    });
  const send = (res: ServerResponse, status: number, value: unknown, extra = {}) => {
    res.writeHead(status, { "content-type": "application/json", ...extra });
    res.end(JSON.stringify(value));
  };
  const server = createServer(async (req, res) => {
    const path = new URL(req.url ?? "/", "http://127.0.0.1").pathname;
    const text = await body(req);
    try {
      if (path === "/computeMetadata/v1/instance/service-accounts/default/token") {
        if (req.headers["metadata-flavor"] !== "Google") {
          return send(res, 403, { error: "Missing Metadata-Flavor:Google header." });
        }
        state.counts.metadata += 1;
        const token = await mint();
        return send(
          res,
          200,
          { access_token: token.access_token, expires_in: token.expires_in, token_type: "Bearer" },
          { "metadata-flavor": "Google" },
        );
      }
      if (path === "/v1/token" && req.method === "POST") {
        const form = new URLSearchParams(text);
        if (form.get("subject_token") !== state.subjectToken) {
          return send(res, 400, {
            error: "invalid_grant",
            error_description: "The subject token is invalid.",
          });
        }
        state.counts.sts += 1;
        const token = await mint();
        return send(res, 200, {
          access_token: token.access_token,
          issued_token_type: "urn:ietf:params:oauth:token-type:access_token",
          token_type: "Bearer",
          expires_in: token.expires_in,
        });
      }
      if (/^\/v1\/projects\/-\/serviceAccounts\/[^/]+:generateAccessToken$/.test(path)) {
        if (!/^Bearer ya29\.emulator-/.test(req.headers.authorization ?? "")) {
          return send(res, 401, {
            error: { code: 401, message: "Missing source credentials.", status: "UNAUTHENTICATED" },
          });
        }
        state.counts.iam += 1;
        const token = await mint();
        return send(res, 200, {
          accessToken: token.access_token,
          expireTime: new Date(Date.now() + token.expires_in * 1000).toISOString(),
        });
      }
      send(res, 404, { error: { code: 404, message: "Not found.", status: "NOT_FOUND" } });
    } catch (error) {
      send(res, 500, { error: { code: 500, message: String(error), status: "INTERNAL" } });
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  state.host = `127.0.0.1:${port}`;
  state.url = `http://${state.host}`;
  state.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return state;
}
