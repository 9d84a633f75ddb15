// check.js: decode evalrun's encoded latency histograms with HdrHistogram's
// JavaScript library (hdr-histogram-js) and print, per histogram, the values
// it reports at the percentiles evalrun stores. Used by report's
// TestPercentilesMatchHdrHistogramJS (bench/hdr-js.sh runs it):
//
//   node check.js MODULES_DIR < cases.json > values.json
//
// cases.json: [{"encoded": "...", "percentiles": [0, 50, 90, ...]}, ...]
// values.json: [[v0, v50, v90, ...], ...] plus each histogram's total count
// as the last element.
const path = require("path");
const hdr = require(path.join(process.argv[2], "node_modules", "hdr-histogram-js"));

let input = "";
process.stdin.on("data", (d) => (input += d));
process.stdin.on("end", () => {
  const out = JSON.parse(input).map((c) => {
    const h = hdr.decodeFromCompressedBase64(c.encoded);
    return [...c.percentiles.map((p) => h.getValueAtPercentile(p)), h.totalCount];
  });
  process.stdout.write(JSON.stringify(out));
});
