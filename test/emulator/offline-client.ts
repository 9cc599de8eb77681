/**
 * The official client initialized offline, for tests that serialize expressions: it builds
 * its API from the emulator's catalog without a request (nothing listens on 127.0.0.1:1).
 */
import { listAlgorithms } from "../../src/emulator/catalog";
import {
  type EmulatorOptions,
  type RunningEmulator,
  startEmulator,
} from "../../src/emulator/index";

// biome-ignore lint/suspicious/noExplicitAny: the official client ships no types
type Any = any;
const ee: Any = require("@google/earthengine");

/** Resets the client (a process-wide singleton) and initializes it for `project`; returns it. */
export function offlineClient(project = "ee-snippets-emulator"): Any {
  ee.reset();
  ee.data.getAlgorithms = (cb?: (r: unknown) => void) => {
    const converted = ee.rpc_convert.algorithms(listAlgorithms());
    if (cb) cb(converted);
    return converted;
  };
  ee.initialize("http://127.0.0.1:1", "http://127.0.0.1:1", null, null, null, project);
  return ee;
}

/**
 * Starts an emulator with `options` and points the official client at it (raw, no session),
 * for tests that talk to the emulator the way any client would. Stop the emulator after.
 */
export async function emulatorWithClient(
  options: EmulatorOptions = {},
): Promise<{ emulator: RunningEmulator; ee: Any }> {
  const emulator = await startEmulator(options);
  ee.reset();
  await new Promise<void>((resolve, reject) =>
    ee.initialize(emulator.url, emulator.url, resolve, reject, null, emulator.project),
  );
  return { emulator, ee };
}
