/**
 * Just enough of Earth Engine's REST API on 127.0.0.1 for connect(): the algorithm catalog
 * (what ee.initialize loads) and value:compute, both requiring a Bearer token the test
 * accepts, answering 401/403 in Earth Engine's error format otherwise.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { listAlgorithms } from "../../src/emulator/catalog";

export interface FakeEarthEngine {
  url: string;
  /** Authorization headers seen, in order. */
  authorizations: string[];
  /** value:compute calls answered. */
  computes: number;
  close(): Promise<void>;
}

export async function startFakeEarthEngine(options: {
  accept: (token: string) => boolean;
  /** Projects that answer 403 as if not registered for Earth Engine. */
  forbiddenProjects?: string[];
}): Promise<FakeEarthEngine> {
  const state: FakeEarthEngine = {
    url: "",
    authorizations: [],
    computes: 0,
    close: async () => undefined,
  };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const send = (status: number, body: unknown) => {
        res.writeHead(status, { "content-type": "application/json" });
        res.end(JSON.stringify(body));
      };
      const authorization = req.headers.authorization ?? "";
      state.authorizations.push(authorization);
      const token = /^Bearer (.+)$/.exec(authorization)?.[1];
      if (!token || !options.accept(token)) {
        return send(401, {
          error: {
            code: 401,
            message:
              "Request had invalid authentication credentials. Expected OAuth 2 access token.",
            status: "UNAUTHENTICATED",
          },
        });
      }
      const project = /^\/v1\/projects\/([^/]+)\//.exec(req.url ?? "")?.[1] ?? "";
      if (options.forbiddenProjects?.includes(project)) {
        return send(403, {
          error: {
            code: 403,
            message: `Project '${project}' is not registered to use Earth Engine.`,
            status: "PERMISSION_DENIED",
          },
        });
      }
      if (req.method === "GET" && /\/algorithms/.test(req.url ?? "")) {
        return send(200, listAlgorithms());
      }
      if (req.method === "POST" && /\/value:compute/.test(req.url ?? "")) {
        state.computes += 1;
        return send(200, { result: [1, 2, 3] });
      }
      send(404, { error: { code: 404, message: "Not found.", status: "NOT_FOUND" } });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  state.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return state;
}
