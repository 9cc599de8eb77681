/**
 * Geometry and pixel-grid vocabulary shared by the product and the emulator: what Earth
 * Engine's GeometryConstructors build and what computePixels' grid describes.
 */

/** GeoJSON-like geometry in WGS84 lon/lat, as Earth Engine's GeometryConstructors build it. */
export type Geometry =
  | { type: "Point"; coordinates: [number, number] }
  | { type: "Polygon"; coordinates: number[][][] }
  | { type: "MultiPolygon"; coordinates: number[][][][] }
  | { type: "LineString"; coordinates: number[][] };

/** Earth Engine's affine transform, as in computePixels' grid.affineTransform. */
export interface AffineTransform {
  scaleX: number;
  shearX: number;
  translateX: number;
  shearY: number;
  scaleY: number;
  translateY: number;
}

/** An output pixel grid: pixel (col,row) covers x = translateX + col*scaleX (+ shear), etc. */
export interface Grid {
  crsCode: string;
  affine: AffineTransform;
  width: number;
  height: number;
}
