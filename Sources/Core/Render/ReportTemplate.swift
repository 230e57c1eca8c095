// The style sheet and script of report.html (see Report.swift for the data blocks they read).
//
// The script reads `gb-meta` (JSON) and the base64 blocks `gb-coords` (F*N UInt16 pairs),
// `gb-labels` (N), `gb-predictions` (F*N, 255 = none), `gb-test-coords` (M pairs, final map),
// `gb-test-labels`, `gb-test-predictions` (M) and the `img.gb-sprite` sheets. It draws the map
// into an ImageData (one pass over the points, no per-point canvas calls), hit-tests the pointer
// through a grid of cells built lazily for the points as drawn, and with `#selftest` in the URL
// writes what it measured into `<pre id="selftest">` for the headless-browser test.
//
// Both are real files under Resources/, embedded into the binary by SwiftPM (`.embedInCode` in
// Package.swift generates `PackageResources.report_css` / `report_js` byte arrays), so nothing is
// shipped beside the executables. Each file ends with a newline that the report does not inline.

let reportStyle = inlinedResource(PackageResources.report_css)
let reportScript = inlinedResource(PackageResources.report_js)

/// A text resource as the report inlines it: without the final newline of its file.
private func inlinedResource(_ bytes: [UInt8]) -> String {
    String(decoding: bytes.last == UInt8(ascii: "\n") ? bytes.dropLast() : bytes[...], as: UTF8.self)
}
