/** Which pixels of a render grid lie inside a scene's tile (its bounds in its UTM zone). */
import type { Scene } from "../model";
import type { RenderLattice } from "./raster";
import * as rasters from "./raster";

// Copied into a module constant: an imported binding is a getter under tsx (see render.ts).
const { interpolateNodeRow } = rasters;

/** Whether all lattice nodes are inside the bounds, all beyond one edge, or neither. */
function classifyNodes(
  x: Float64Array,
  y: Float64Array,
  xmin: number,
  ymin: number,
  xmax: number,
  ymax: number,
): "inside" | "outside" | "mixed" {
  let allInside = true;
  let west = true;
  let east = true;
  let south = true;
  let north = true;
  for (let n = 0; n < x.length; n++) {
    const px = x[n];
    const py = y[n];
    if (!(px >= xmin && px < xmax && py > ymin && py <= ymax)) allInside = false;
    if (!(px < xmin)) west = false;
    if (!(px >= xmax)) east = false;
    if (!(py <= ymin)) south = false;
    if (!(py > ymax)) north = false;
  }
  if (allInside) return "inside";
  return west || east || south || north ? "outside" : "mixed";
}

/**
 * Sets `footprint` to 255 on the pixels inside the scene's tile (its UTM bounds), leaving 0
 * elsewhere; returns how many are inside.
 */
export function markFootprint(scene: Scene, lattice: RenderLattice, footprint: Uint8Array): number {
  const { width, height, nx, shift, step } = lattice;
  const size = width * height;
  const { x: nodeX, y: nodeY } = lattice.nodesInEpsg(scene.epsg);
  const { xmin, ymin, xmax, ymax } = scene.utmBounds;
  const invStep = 1 / step;
  const rowX = new Float64Array(nx);
  const rowY = new Float64Array(nx);
  let inside = 0;
  const nodeState = classifyNodes(nodeX, nodeY, xmin, ymin, xmax, ymax);
  if (nodeState === "inside") {
    // Interpolated positions are convex combinations of nodes: all inside too.
    footprint.fill(255);
    inside = size;
  } else if (nodeState === "mixed") {
    for (let r = 0; r < height; r++) {
      interpolateNodeRow(lattice, nodeX, r, rowX);
      interpolateNodeRow(lattice, nodeY, r, rowY);
      const rowStart = r * width;
      for (let c = 0; c < width; c++) {
        const i = c >> shift;
        const tx = (c & (step - 1)) * invStep;
        const x = rowX[i] + (rowX[i + 1] - rowX[i]) * tx;
        const y = rowY[i] + (rowY[i + 1] - rowY[i]) * tx;
        if (x >= xmin && x < xmax && y > ymin && y <= ymax) {
          footprint[rowStart + c] = 255;
          inside++;
        }
      }
    }
  }
  return inside;
}
