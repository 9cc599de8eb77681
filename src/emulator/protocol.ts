/**
 * What the emulator's parent process and the emulator agree on, kept apart from both so that
 * starting the emulator (index.ts) does not load the server into the parent.
 */

/** The line startEmulator waits for on the child's stdout; the JSON after it carries url, port and model. */
export const READY_PREFIX = "EMULATOR_READY ";

/** The emulator's own (non-Earth Engine) endpoints. */
export const STATUS_PATH = "/emulator/status";
export const RESET_STATS_PATH = "/emulator/reset-stats";
