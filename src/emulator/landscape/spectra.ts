/**
 * Spectra (surface reflectance x 10000) in band order B1..B12 with B8A after B8, and the
 * endmember pairs a pixel's spectrum is mixed from.
 */

/** Spectral band ids in the order of the tables below. */
export const SPECTRAL_BANDS = [
  "B1",
  "B2",
  "B3",
  "B4",
  "B5",
  "B6",
  "B7",
  "B8",
  "B8A",
  "B9",
  "B10",
  "B11",
  "B12",
] as const;

// biome-ignore format: one spectrum per line reads as a table
export const SPECTRA = {
  waterClear:  [300, 350, 450, 250, 200, 150, 130, 110, 100, 60, 10, 60, 40],
  waterTurbid: [520, 620, 880, 720, 560, 300, 240, 200, 180, 100, 10, 110, 70],
  soil:        [700, 800, 1100, 1400, 1600, 1800, 1950, 2100, 2200, 700, 20, 2800, 2200],
  crop:        [250, 300, 700, 350, 1100, 2900, 3700, 4000, 4100, 1200, 20, 2100, 950],
  forestOpen:  [320, 380, 620, 520, 1000, 2000, 2400, 2600, 2700, 800, 15, 1900, 1000],
  forest:      [200, 220, 450, 250, 750, 2300, 2900, 3100, 3200, 900, 15, 1400, 550],
  asphalt:     [850, 900, 950, 1000, 1050, 1100, 1150, 1200, 1230, 400, 20, 1500, 1400],
  roof:        [1500, 1700, 1850, 2000, 2100, 2200, 2300, 2400, 2450, 700, 25, 2900, 2600],
  rock:        [900, 1000, 1250, 1500, 1700, 1850, 1950, 2050, 2150, 700, 20, 2700, 2300],
  sand:        [1500, 1800, 2300, 2900, 3100, 3300, 3400, 3500, 3600, 1100, 30, 4200, 3600],
  grassDry:    [600, 700, 1000, 1250, 1500, 1900, 2100, 2300, 2400, 800, 20, 3000, 2200],
  grass:       [300, 350, 700, 450, 1100, 2500, 3000, 3300, 3400, 1000, 20, 2300, 1200],
  cloud:       [5600, 5800, 5900, 6100, 6200, 6300, 6350, 6400, 6400, 2600, 1400, 4100, 2900],
  /** Added per unit of scene haze (aerosol scattering is strongest in the blue). */
  haze:        [900, 650, 450, 300, 220, 150, 120, 100, 90, 40, 0, 25, 12],
  /** Top-of-atmosphere path radiance added for L1C products. */
  toa:         [1100, 800, 550, 350, 300, 250, 230, 200, 190, 80, 0, 40, 20],
};

/** Endmember pairs: a pixel's spectrum is A + weight * (B - A). */
export const PAIR_WATER = 0;
export const PAIR_CROP = 1;
export const PAIR_FOREST = 2;
export const PAIR_URBAN = 3;
export const PAIR_BARE = 4;
export const PAIR_GRASS = 5;
export const PAIRS: [number[], number[]][] = [
  [SPECTRA.waterClear, SPECTRA.waterTurbid],
  [SPECTRA.soil, SPECTRA.crop],
  [SPECTRA.forestOpen, SPECTRA.forest],
  [SPECTRA.asphalt, SPECTRA.roof],
  [SPECTRA.rock, SPECTRA.sand],
  [SPECTRA.grassDry, SPECTRA.grass],
];
/** Per spectral band, indexed by pair: endmember A and B - A. */
export const BAND_END_A = SPECTRAL_BANDS.map((_, s) => Float64Array.from(PAIRS, ([a]) => a[s]));
export const BAND_END_D = SPECTRAL_BANDS.map((_, s) =>
  Float64Array.from(PAIRS, ([a, b]) => b[s] - a[s]),
);
