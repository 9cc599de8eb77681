// Bundles index.js and copies every listed extension's settings schemas and themes into
// build/, where main.py serves them. Run by scripts/setup.sh --lab.
const crypto = require("node:crypto");
const path = require("node:path");
const webpack = require("webpack");
const { Build } = require("@jupyterlab/builder");
const { jupyterlab } = require("./package.json");

// Some loaders still hash with md4, which OpenSSL 3 refuses (FIPS builds, recent Node).
const createHash = crypto.createHash;
crypto.createHash = (algorithm, ...rest) =>
  createHash(algorithm === "md4" ? "sha256" : algorithm, ...rest);

const build = path.join(__dirname, "build");

// Writes build/style.js and the webpack configs that copy schemas and theme assets.
const assets = Build.ensureAssets({
  packageNames: jupyterlab.extensions,
  output: build,
  hashFunction: "sha256",
});

// Files imported from JavaScript or CSS: fonts and small SVGs inline, the rest as files.
const inline = (mimetype) => ({
  loader: "url-loader",
  options: { limit: 10000, mimetype },
});

module.exports = [
  {
    entry: ["whatwg-fetch", "./index.js"],
    output: { path: build, filename: "bundle.js" },
    bail: true,
    mode: "development",
    // Served from this machine: minifying (and source maps) would triple the build time.
    devtool: false,
    performance: { hints: false },
    module: {
      rules: [
        { test: /\.css$/, use: ["style-loader", "css-loader"] },
        { test: /\.(html|eot|jpg|png|gif)$/, use: "file-loader" },
        { test: /\.md$/, use: "raw-loader" },
        { test: /\.js\.map$/, use: "file-loader" },
        { test: /\.woff2?(\?v=\d+\.\d+\.\d+)?$/, use: inline("application/font-woff") },
        { test: /\.ttf(\?v=\d+\.\d+\.\d+)?$/, use: inline("application/octet-stream") },
        // CSS wants icons as data URIs; JavaScript (the icon registry) wants the SVG text.
        {
          test: /\.svg(\?v=\d+\.\d+\.\d+)?$/,
          issuer: /\.css$/,
          use: { loader: "svg-url-loader", options: { encoding: "none", limit: 10000 } },
        },
        { test: /\.svg(\?v=\d+\.\d+\.\d+)?$/, issuer: /\.js$/, use: "raw-loader" },
      ],
    },
    plugins: [
      // Blueprint and the path polyfill read process.env and process.cwd() in the browser.
      new webpack.DefinePlugin({ "process.env": "{}", process: { cwd: () => "/" } }),
    ],
  },
  ...assets,
];
