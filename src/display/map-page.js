// The page half of an ee-snippets map (src/display/map.ts writes the spec and includes this
// file in the map's output): one function of the spec, run by the notebook page: Leaflet is window.L, loaded
// once per notebook by loadLeaflet(). Each map registers itself in window.eeSnippetsMaps.
(spec) => {
  let waited = 0;

  function element(suffix) {
    return document.getElementById(spec.id + (suffix || ""));
  }

  // JupyterLab runs output scripts before attaching the output, a saved notebook may render
  // a map before the loader, and Leaflet needs a container with a size: wait for all three.
  function ready() {
    const el = element();
    return window.L && el?.isConnected && el.clientWidth > 0;
  }

  if (ready()) {
    draw();
  } else {
    const timer = setInterval(() => {
      if (ready()) {
        clearInterval(timer);
        draw();
        return;
      }
      waited += 100;
      if (waited > 30000) {
        clearInterval(timer);
        const el = element();
        if (el && !window.L) {
          el.textContent =
            "Leaflet is not loaded in this page: run the cell that calls loadLeaflet() (or trust the notebook).";
        }
      }
    }, 100);
  }

  function draw() {
    const L = window.L;
    const el = element();
    const map = L.map(el, { maxZoom: spec.maxZoom, zoomSnap: 1 });
    window.eeSnippetsMaps = window.eeSnippetsMaps || {};
    const registry = window.eeSnippetsMaps;
    const entry = { map: map, spec: spec, tilesLoaded: 0, tileErrors: 0, drawn: null };
    registry[spec.id] = entry;

    const bases = {};
    const overlays = {};
    map.createPane("eeBasemap").style.zIndex = 150;

    if (spec.basemap && navigator.onLine !== false) {
      const basemap = L.tileLayer(spec.basemap.url, {
        pane: "eeBasemap",
        maxZoom: 19,
        attribution: spec.basemap.attribution,
        className: "ee-map-basemap",
      });
      basemap.addTo(map);
      overlays[spec.basemap.name] = basemap;
    }

    let first = null;
    spec.layers.forEach((layer) => {
      const parts = [];
      if (layer.tileUrl) {
        const tiles = L.tileLayer(layer.tileUrl, {
          maxZoom: spec.maxZoom,
          className: "ee-map-scene",
          attribution: spec.tileAttribution,
        });
        tiles.on("tileload", () => {
          entry.tilesLoaded++;
        });
        tiles.on("tileerror", () => {
          entry.tileErrors++;
        });
        parts.push(tiles);
      }
      if (layer.imageUrl && layer.imageBounds) {
        const b = layer.imageBounds;
        parts.push(
          L.imageOverlay(
            layer.imageUrl,
            [
              [b[1], b[0]],
              [b[3], b[2]],
            ],
            { className: "ee-map-snippet" },
          ),
        );
      }
      if (layer.outline) {
        parts.push(
          L.geoJSON(layer.outline, {
            style: { color: "#f59e0b", weight: 2, fill: false, className: "ee-map-extent" },
          }),
        );
      }
      const group = L.layerGroup(parts);
      bases[layer.label] = group;
      if (!first) first = group;
    });
    if (first) first.addTo(map);

    if (spec.footprints?.length) {
      const footprints = L.geoJSON(
        {
          type: "FeatureCollection",
          features: spec.footprints.map((g) => ({ type: "Feature", properties: {}, geometry: g })),
        },
        {
          style: {
            color: "#f59e0b",
            weight: 1,
            dashArray: "4 4",
            fill: false,
            className: "ee-map-footprint",
          },
        },
      );
      footprints.addTo(map);
      overlays["Scene footprints"] = footprints;
    }

    if (spec.aoi) {
      const aoi = L.geoJSON(spec.aoi.geometry, {
        style: { color: "#2563eb", weight: 2, fill: false, className: "ee-map-aoi" },
      });
      aoi.addTo(map);
      overlays[`AOI: ${spec.aoi.name}`] = aoi;
      entry.aoi = aoi;
    }

    const switcher = L.control.layers(bases, overlays, { collapsed: false, position: "topright" });
    switcher.addTo(map);
    L.control.scale({ imperial: false }).addTo(map);
    const f = spec.fit;
    // The switcher stays open (it is the list of scenes): keep the AOI beside it, not under it.
    const beside = Math.min(switcher.getContainer().offsetWidth, el.clientWidth / 2);
    map.fitBounds(
      [
        [f[1], f[0]],
        [f[3], f[2]],
      ],
      { paddingTopLeft: [24, 24], paddingBottomRight: [beside + 24, 24] },
    );
    if (spec.draw) drawTool(L, map, entry);
    // Outputs can change size after drawing (JupyterLab's layout, the page's scrollbar).
    setTimeout(() => {
      map.invalidateSize();
    }, 300);
  }

  function round(value) {
    return Math.round(value * 1e6) / 1e6;
  }

  function squareLines(square) {
    return [
      `const CENTER_LON = ${square.lon};`,
      `const CENTER_LAT = ${square.lat};`,
      `const SIDE_DEGREES = ${square.side};`,
      'const AOI_FILE = ""; // the box above, not a file',
    ].join("\n");
  }

  function polygonLines(ring) {
    const geojson = JSON.stringify({ type: "Polygon", coordinates: [ring] });
    return `const AOI_FILE = '${geojson}'; // GeoJSON text: the polygon drawn on the map`;
  }

  function drawTool(L, map, entry) {
    const panel = element("-draw");
    const pre = panel.querySelector("pre");
    const status = panel.querySelector(".ee-map-status");
    const copy = panel.querySelector("button");
    let shape = null;
    let mode = null;
    let vertices = [];
    let sketch = null;
    let stopMode = () => {};

    function show(lines, note) {
      pre.textContent = lines;
      panel.style.display = "block";
      status.textContent = note || "";
    }

    function setShape(layer) {
      if (shape) map.removeLayer(shape);
      shape = layer;
      if (shape) shape.addTo(map);
    }

    function squareAround(lon, lat, side) {
      return { lon: round(lon), lat: round(lat), side: round(side) };
    }

    function squareBounds(square) {
      const h = square.side / 2;
      return [square.lon - h, square.lat - h, square.lon + h, square.lat + h];
    }

    function rectangleOf(bounds) {
      return L.rectangle(
        [
          [bounds[1], bounds[0]],
          [bounds[3], bounds[2]],
        ],
        { color: "#dc2626", weight: 2, fillOpacity: 0.08, className: "ee-map-drawn" },
      );
    }

    function finishSquare(square) {
      const bounds = squareBounds(square);
      setShape(rectangleOf(bounds));
      entry.drawn = { kind: "square", square: square, bounds: bounds };
      show(
        squareLines(square),
        "Paste into the parameters cell, then rerun from it. Drag the square to move it.",
      );
      shape.on("mousedown", (e) => {
        if (mode) return;
        L.DomEvent.stop(e);
        map.dragging.disable();
        const start = e.latlng;
        const base = entry.drawn.square;
        function move(ev) {
          const moved = squareAround(
            base.lon + ev.latlng.lng - start.lng,
            base.lat + ev.latlng.lat - start.lat,
            base.side,
          );
          shape.setBounds(rectangleOf(squareBounds(moved)).getBounds());
        }
        function up(ev) {
          map.off("mousemove", move);
          map.off("mouseup", up);
          map.dragging.enable();
          finishSquare(
            squareAround(
              base.lon + ev.latlng.lng - start.lng,
              base.lat + ev.latlng.lat - start.lat,
              base.side,
            ),
          );
        }
        map.on("mousemove", move);
        map.on("mouseup", up);
      });
    }

    function squareFrom(a, b) {
      const side = Math.max(Math.abs(b.lng - a.lng), Math.abs(b.lat - a.lat));
      const west = b.lng >= a.lng ? a.lng : a.lng - side;
      const south = b.lat >= a.lat ? a.lat : a.lat - side;
      return squareAround(west + side / 2, south + side / 2, side);
    }

    function startSquare() {
      stopMode();
      mode = "square";
      map.dragging.disable();
      map.getContainer().style.cursor = "crosshair";
      status.textContent = "Press and drag on the map to draw a square.";
      panel.style.display = "block";
      let anchor = null;
      function down(e) {
        anchor = e.latlng;
      }
      function move(e) {
        if (anchor) setShape(rectangleOf(squareBounds(squareFrom(anchor, e.latlng))));
      }
      function up(e) {
        if (!anchor) return;
        const square = squareFrom(anchor, e.latlng);
        anchor = null;
        if (!(square.side > 0)) return;
        stopMode();
        finishSquare(square);
      }
      map.on("mousedown", down);
      map.on("mousemove", move);
      map.on("mouseup", up);
      stopMode = () => {
        map.off("mousedown", down);
        map.off("mousemove", move);
        map.off("mouseup", up);
        map.dragging.enable();
        map.getContainer().style.cursor = "";
        mode = null;
        stopMode = () => {};
      };
    }

    function startPolygon() {
      stopMode();
      mode = "polygon";
      vertices = [];
      map.doubleClickZoom.disable();
      map.getContainer().style.cursor = "crosshair";
      status.textContent = "Click the corners; double-click (or click the first corner) to finish.";
      panel.style.display = "block";
      function redraw() {
        if (sketch) map.removeLayer(sketch);
        sketch = L.polyline(vertices, { color: "#dc2626", weight: 2, dashArray: "4 4" }).addTo(map);
      }
      function finish() {
        const ring = vertices.map((v) => [round(v.lng), round(v.lat)]);
        if (ring.length < 3) {
          status.textContent = "A polygon needs at least 3 corners; keep clicking.";
          return;
        }
        ring.push(ring[0].slice());
        stopMode();
        setShape(
          L.polygon(
            ring.map((p) => [p[1], p[0]]),
            { color: "#dc2626", weight: 2, fillOpacity: 0.08, className: "ee-map-drawn" },
          ),
        );
        entry.drawn = { kind: "polygon", ring: ring };
        show(polygonLines(ring), "Paste into the parameters cell, then rerun from it.");
      }
      function click(e) {
        const point = map.latLngToContainerPoint(e.latlng);
        if (vertices.length >= 3 && point.distanceTo(map.latLngToContainerPoint(vertices[0])) < 8) {
          finish();
          return;
        }
        const last = vertices[vertices.length - 1];
        if (last && point.distanceTo(map.latLngToContainerPoint(last)) < 3) return;
        vertices.push(e.latlng);
        redraw();
      }
      map.on("click", click);
      map.on("dblclick", finish);
      stopMode = () => {
        map.off("click", click);
        map.off("dblclick", finish);
        if (sketch) map.removeLayer(sketch);
        sketch = null;
        map.doubleClickZoom.enable();
        map.getContainer().style.cursor = "";
        mode = null;
        stopMode = () => {};
      };
    }

    const Control = L.Control.extend({
      options: { position: "topleft" },
      onAdd: () => {
        const bar = L.DomUtil.create("div", "leaflet-bar ee-map-draw");
        [
          [
            "Draw a square AOI (CENTER_LON, CENTER_LAT, SIDE_DEGREES)",
            "\u25a2",
            "square",
            startSquare,
          ],
          ["Draw a polygon AOI (GeoJSON)", "\u2b20", "polygon", startPolygon],
        ].forEach((b) => {
          const a = L.DomUtil.create("a", `ee-map-draw-${b[2]}`, bar);
          a.href = "#";
          a.title = b[0];
          a.setAttribute("role", "button");
          a.textContent = b[1];
          L.DomEvent.on(a, "click", (e) => {
            L.DomEvent.stop(e);
            b[3]();
          });
        });
        L.DomEvent.disableClickPropagation(bar);
        return bar;
      },
    });
    new Control().addTo(map);

    copy.addEventListener("click", () => {
      const text = pre.textContent;
      function fallback() {
        const range = document.createRange();
        range.selectNodeContents(pre);
        const selection = window.getSelection();
        selection.removeAllRanges();
        selection.addRange(range);
        let ok = false;
        try {
          ok = document.execCommand("copy");
        } catch (_e) {
          ok = false;
        }
        status.textContent = ok ? "Copied." : "Selected: press Ctrl+C (Cmd+C) to copy.";
      }
      if (navigator.clipboard?.writeText) {
        navigator.clipboard.writeText(text).then(() => {
          status.textContent = "Copied.";
        }, fallback);
      } else {
        fallback();
      }
    });
  }
};
