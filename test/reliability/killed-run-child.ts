/**
 * A run to be killed: downloads one snippet from the emulator at argv's URL into argv's
 * folder, writing its GeoTIFF through a `.partial-<pid>-...` temporary file. The parent
 * SIGKILLs it mid-download (test/reliability/stale-partials.test.ts).
 */
import { initializeEe } from "../../src/ee/client";
import { RequestLimiter } from "../../src/ee/limiter";
import { bbox } from "../../src/snippets/aoi";
import { downloadSnippets } from "../../src/snippets/batch";
import { CENTER } from "./helpers";

async function main(): Promise<void> {
  const [apiUrl, project, outDir, id] = process.argv.slice(2);
  const ee = await initializeEe({ apiUrl, project });
  const session = {
    ee,
    backend: {
      kind: "emulator" as const,
      apiUrl,
      project,
      authorization: async () => undefined,
    },
    requests: new RequestLimiter({ maxInFlight: 1 }),
  };
  await downloadSnippets(session, [id], {
    outDir,
    aoi: bbox(CENTER[0], CENTER[1], 0.09, "David"),
    scale: 10,
    progress: false,
    limit: 1,
  });
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
