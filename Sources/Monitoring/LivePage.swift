import Core

/// The live page at `/`: the run's progress, workers, loss and accuracy curves, the newest map figure and
/// links to the run's files. The server fills in the state as it is now (so the page reads right without
/// script); the script then polls `/status.json` every 2 s and redraws. No external assets.
func livePage(status: RunStatus, files: [String]) -> String {
    let map = status.latestMap.map {
        "<img id=\"map\" alt=\"map of epoch \($0.epoch)\" src=\"/files/\(htmlEscaped($0.path))?epoch=\($0.epoch)\">"
    } ?? "<img id=\"map\" alt=\"no map yet\" hidden>"
    let links = files.map { "<li><a href=\"/files/\(htmlEscaped($0))\">\(htmlEscaped($0))</a></li>" }.joined()
    return """
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8"><title>Glassbox live</title>
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <style>
        body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; }
        .grid { display: grid; grid-template-columns: minmax(320px, 1fr) minmax(320px, 1fr); gap: 1.5em; }
        #map { max-width: 100%; border: 1px solid #ddd; }
        svg { width: 100%; height: 220px; border: 1px solid #ddd; }
        table { border-collapse: collapse; } td, th { padding: 2px 8px; text-align: right; }
        th:first-child, td:first-child { text-align: left; }
        .muted { color: #777; }
        </style></head><body>
        <h1>Glassbox run</h1>
        <p><b id="progress">\(htmlEscaped(progressText(status)))</b> <span id="eta" class="muted">\(htmlEscaped(etaText(status)))</span></p>
        <div class="grid">
        <section><h2>Curves</h2>
        <svg id="loss" viewBox="0 0 400 200" preserveAspectRatio="none"></svg>
        <svg id="acc" viewBox="0 0 400 200" preserveAspectRatio="none"></svg>
        <p class="muted">train (solid) and validation (dashed), per epoch; loss above, accuracy below</p>
        <h2>Workers</h2><div id="workers">\(workersTable(status))</div></section>
        <section><h2>Latest map</h2><p id="map-caption">\(status.latestMap.map { "epoch \($0.epoch)" } ?? "no map yet")</p>\(map)</section>
        </div>
        <h2>Run files</h2><ul id="files">\(links)</ul>
        <p class="muted"><a href="/metrics">/metrics</a> (Prometheus) · <a href="/status.json">/status.json</a></p>
        <script>
        \(livePageScript)
        </script>
        </body></html>
        """
}

/// E.g. `epoch 2/10 · step 96/480`, or `finished: 10/10 epochs`.
func progressText(_ s: RunStatus) -> String {
    if s.finished { return "finished: epoch \(s.epoch)/\(s.epochs)" }
    // Between an epoch's last step and its map, the epoch is done and no later one has started.
    let training = s.trainingEpoch.flatMap { $0 > s.epoch ? " · training epoch \($0), step \(s.step)/\(s.steps)" : nil } ?? ""
    return "epoch \(s.epoch)/\(s.epochs)" + training
}

func etaText(_ s: RunStatus) -> String {
    guard !s.finished, let eta = s.etaSeconds else { return "" }
    return "ETA \(formatDuration(eta))" + (s.samplesPerSecond.map { " · \(fmt($0, 0)) samples/s" } ?? "")
}

func workersTable(_ s: RunStatus) -> String {
    guard !s.workers.isEmpty else { return "<p class=\"muted\">training in this process</p>" }
    let rows = s.workers.map { w in
        "<tr><td>\(htmlEscaped(w.name))</td><td>\(w.sentBytes / 1024)</td><td>\(w.receivedBytes / 1024)</td>"
            + "<td>\(w.answers)</td><td>\(w.answers > 0 ? fmt(w.answerSecondsSum / Double(w.answers), 3) : "")</td></tr>"
    }.joined()
    return "<p>\(s.liveWorkers.map { "\($0) live" } ?? "")</p><table><tr><th>worker</th><th>KiB sent</th>"
        + "<th>KiB received</th><th>answers</th><th>mean answer s</th></tr>\(rows)</table>"
}

/// Polls `/status.json`; mirrors `progressText`, `etaText` and `workersTable` and draws the curves as SVG.
private let livePageScript = #"""
const $ = id => document.getElementById(id);
const esc = t => String(t).replace(/[&<>"']/g, c => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]));
const duration = s => { s = Math.round(s); const h = Math.floor(s / 3600), m = Math.floor(s / 60) % 60, r = String(s % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${r}` : `${Math.floor(s / 60)}:${r}`; };
function curve(svg, title, series) {
  const values = series.flatMap(s => s.points.map(p => p[1])).filter(Number.isFinite);
  const epochs = series.flatMap(s => s.points.map(p => p[0]));
  if (values.length === 0) { svg.innerHTML = ""; return; }
  const lo = Math.min(...values), hi = Math.max(...values), span = hi - lo || 1;
  const e0 = Math.min(...epochs), e1 = Math.max(...epochs), width = e1 - e0 || 1;
  const x = e => 10 + 380 * (e - e0) / width, y = v => 190 - 180 * (v - lo) / span;
  svg.innerHTML = series.map(s => `<polyline fill="none" stroke="${s.color}" stroke-width="2" vector-effect="non-scaling-stroke"
    ${s.dashed ? 'stroke-dasharray="6 4"' : ""} points="${s.points.map(p => `${x(p[0])},${y(p[1])}`).join(" ")}"/>`
    + s.points.map(p => `<circle cx="${x(p[0])}" cy="${y(p[1])}" r="2.5" fill="${s.color}"/>`).join("")).join("")
    + `<text x="388" y="14" font-size="12" text-anchor="end">${title}, epochs ${e0}-${e1}</text><text x="12" y="14" font-size="12">${hi.toFixed(4)}</text><text x="12" y="196" font-size="12">${lo.toFixed(4)}</text>`;
}
async function refresh() {
  let s;
  try { s = await (await fetch("/status.json", {cache: "no-store"})).json(); } catch (e) { return; }
  $("progress").textContent = s.finished ? `finished: epoch ${s.epoch}/${s.epochs}`
    : `epoch ${s.epoch}/${s.epochs}`
      + (s.training_epoch > s.epoch ? ` · training epoch ${s.training_epoch}, step ${s.step}/${s.steps}` : "");
  $("eta").textContent = !s.finished && s.eta_s != null
    ? `ETA ${duration(s.eta_s)}` + (s.samples_per_s != null ? ` · ${Math.round(s.samples_per_s)} samples/s` : "") : "";
  const h = s.history;
  curve($("loss"), "loss", [{points: h.map(e => [e.epoch, e.loss]), color: "#1f77b4"},
                    {points: h.map(e => [e.epoch, e.val_loss]), color: "#1f77b4", dashed: true}]);
  curve($("acc"), "accuracy", [{points: h.map(e => [e.epoch, e.acc]), color: "#d62728"},
                   {points: h.map(e => [e.epoch, e.val_acc]), color: "#d62728", dashed: true}]);
  if (s.workers.length > 0) {
    $("workers").innerHTML = `<p>${s.live_workers != null ? s.live_workers + " live" : ""}</p><table><tr><th>worker</th><th>KiB sent</th>`
      + `<th>KiB received</th><th>answers</th><th>mean answer s</th></tr>` + s.workers.map(w => `<tr><td>${esc(w.name)}</td>`
      + `<td>${Math.floor(w.sent_bytes / 1024)}</td><td>${Math.floor(w.received_bytes / 1024)}</td><td>${w.answers}</td>`
      + `<td>${w.answers > 0 ? (w.answer_seconds_sum / w.answers).toFixed(3) : ""}</td></tr>`).join("") + "</table>";
  }
  if (s.latest_map) {
    const src = `/files/${s.latest_map.path}?epoch=${s.latest_map.epoch}`;
    if ($("map").getAttribute("src") !== src) {
      $("map").setAttribute("src", src);
      $("map").alt = `map of epoch ${s.latest_map.epoch}`;
      $("map").hidden = false;
      $("map-caption").textContent = `epoch ${s.latest_map.epoch}`;
    }
  }
}
refresh();
setInterval(refresh, 2000);
"""#
