/**
 * What the product knows about the Sentinel-2 collections it is built for. Other collection
 * ids pass through to the backend unchecked (Earth Engine answers "not found" for typos).
 */
export interface CollectionFacts {
  id: string;
  /** First acquisition date (UTC, YYYY-MM-DD) available in the collection. */
  firstDate: string;
  /** Finest native resolution of its bands, metres (Sentinel-2's 10 m B2/B3/B4/B8). */
  nativeScale: number;
  /** Set when Earth Engine deprecated the collection in favour of another. */
  supersededBy?: string;
  /** Name of the cloud-cover property used by the search filter. */
  cloudProperty: string;
}

export const DEFAULT_COLLECTION = "COPERNICUS/S2_SR_HARMONIZED";

const KNOWN: CollectionFacts[] = [
  // Surface reflectance (L2A) starts with the 2017 archive Earth Engine holds; the
  // HARMONIZED variants shift post-2022 scenes back to the old radiometric offset.
  {
    id: "COPERNICUS/S2_SR_HARMONIZED",
    firstDate: "2017-03-28",
    nativeScale: 10,
    cloudProperty: "CLOUDY_PIXEL_PERCENTAGE",
  },
  {
    id: "COPERNICUS/S2_SR",
    firstDate: "2017-03-28",
    nativeScale: 10,
    supersededBy: "COPERNICUS/S2_SR_HARMONIZED",
    cloudProperty: "CLOUDY_PIXEL_PERCENTAGE",
  },
  {
    id: "COPERNICUS/S2_HARMONIZED",
    firstDate: "2015-06-27",
    nativeScale: 10,
    cloudProperty: "CLOUDY_PIXEL_PERCENTAGE",
  },
  {
    id: "COPERNICUS/S2",
    firstDate: "2015-06-27",
    nativeScale: 10,
    supersededBy: "COPERNICUS/S2_HARMONIZED",
    cloudProperty: "CLOUDY_PIXEL_PERCENTAGE",
  },
];

export function collectionFacts(id: string): CollectionFacts | undefined {
  return KNOWN.find((facts) => facts.id === id);
}
