import Foundation
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// `train --metrics-listen`: a real Prometheus server scrapes a short run and holds the run's numbers;
/// headless Chromium sees the live page follow the run; the run's files are served without escaping.
final class MonitoringTests: XCTestCase {
    static let trainCount = 600

    override func setUpWithError() throws {
        #if DEBUG
        throw XCTSkip("MonitoringTests train real networks (with maps): run them in a release build")
        #endif
    }

    /// GETs `url` with curl (`--path-as-is`: the path goes out as written); the HTTP status and the body.
    private func get(_ url: String) throws -> (status: Int, body: String) {
        let result = try runToEnd("/usr/bin/curl", ["-s", "--path-as-is", "--max-time", "10", "-w", "\n%{http_code}", url])
        let lines = result.output.split(separator: "\n", omittingEmptySubsequences: false)
        return (Int(lines.last ?? "") ?? 0, lines.dropLast().joined(separator: "\n"))
    }

    /// Starts `path` with its output in `log`, stopped (SIGTERM, then SIGKILL) when the test ends, pass or fail.
    private func startDaemon(_ path: String, _ arguments: [String], log: String) throws -> RunningProcess {
        let process = try RunningProcess(path: path, arguments, outputPath: log)
        addTeardownBlock {
            guard process.process.isRunning else { return }
            kill(process.pid, SIGTERM)
            let deadline = Date().addingTimeInterval(10)
            while process.process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
            if process.process.isRunning { kill(process.pid, SIGKILL) }
            process.process.waitUntilExit()
        }
        return process
    }

    /// The last row of a run's metrics.csv, by column name.
    private func lastMetricsRow(_ run: String) throws -> [String: Double] {
        let text = try String(contentsOfFile: run + "/metrics.csv", encoding: .utf8)
        let lines = text.split(separator: "\n")
        let header = try XCTUnwrap(lines.first).split(separator: ",").map(String.init)
        let values = try XCTUnwrap(lines.last).split(separator: ",").map { Double($0) ?? .nan }
        return Dictionary(uniqueKeysWithValues: zip(header, values))
    }

    /// One number from Prometheus' HTTP API for an instant `query` (nil when it has no sample).
    private func prometheusValue(_ port: Int, _ query: String) throws -> Double? {
        let encoded = query.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? query
        let (status, body) = try get("http://127.0.0.1:\(port)/api/v1/query?query=\(encoded)")
        XCTAssertEqual(status, 200, "\(query): \(body)")
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any], body)
        let data = try XCTUnwrap(json["data"] as? [String: Any], body)
        guard let first = (data["result"] as? [[String: Any]])?.first, let value = first["value"] as? [Any],
              let text = value.last as? String else { return nil }
        return Double(text)
    }

    func testPrometheusScrapesTheRunAndHoldsItsFinalMetrics() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/prometheus") else {
            throw XCTSkip("Prometheus not installed (apt-get install -y prometheus, in DEB_TEST_PACKAGES)")
        }
        let data = try mnistDirectory()
        let dir = try temporaryDirectory(self, "prometheus")
        let metricsPort = freePort(), prometheusPort = freePort()
        try """
            global:
              scrape_interval: 1s
              scrape_timeout: 1s
            scrape_configs:
              - job_name: glassbox
                static_configs:
                  - targets: ['127.0.0.1:\(metricsPort)']
            """.write(toFile: dir + "/prometheus.yml", atomically: true, encoding: .utf8)
        let prometheus = try startDaemon("/usr/bin/prometheus", [
            "--config.file=\(dir)/prometheus.yml", "--storage.tsdb.path=\(dir)/tsdb",
            "--web.listen-address=127.0.0.1:\(prometheusPort)",
        ], log: dir + "/prometheus.log")
        let readyBy = Date().addingTimeInterval(60)
        while try get("http://127.0.0.1:\(prometheusPort)/-/ready").status != 200 {
            XCTAssertTrue(prometheus.process.isRunning, "prometheus exited:\n\(prometheus.output)")
            guard prometheus.process.isRunning, Date() < readyBy else { return XCTFail("prometheus not ready:\n\(prometheus.output)") }
            Thread.sleep(forTimeInterval: 0.2)
        }
        // Prometheus hands a new target to its scrape loop up to 5 s after it is ready. A short run (and its
        // 4 s of lingering) can be over by then, so the run starts only once Prometheus has tried the address:
        // `up` is 0 while nothing listens there.
        let scrapingBy = Date().addingTimeInterval(60)
        while try prometheusValue(prometheusPort, "up{job=\"glassbox\"}") == nil {
            guard Date() < scrapingBy else { return XCTFail("prometheus never tried its target:\n\(prometheus.output)") }
            Thread.sleep(forTimeInterval: 0.2)
        }

        let epochs = 2
        let settings = ["train", "--data", data, "--limit-train", "\(Self.trainCount)", "--epochs", "\(epochs)", "--no-maps",
                        "--seed", "5", "--threads", "1", "--spawn-workers", "2", "--worker-threads", "1"]
        let train = try RunningProcess("glassbox-coordinator", settings + [
            "--out", dir + "/run", "--metrics-listen", "127.0.0.1:\(metricsPort)", "--metrics-linger", "4",
        ], outputPath: dir + "/train.log")
        XCTAssertEqual(train.wait(timeout: 600), 0, train.output)

        // Watching changes nothing the run computes: the same weights as the same run unwatched.
        let unwatched = try RunningProcess("glassbox-coordinator", settings + ["--out", dir + "/unwatched"],
                                           outputPath: dir + "/unwatched.log")
        XCTAssertEqual(unwatched.wait(timeout: 600), 0, unwatched.output)
        XCTAssertEqual(try RunResult(status: 0, output: "", directory: dir + "/run").weightsDigest(),
                       try RunResult(status: 0, output: "", directory: dir + "/unwatched").weightsDigest(),
                       "the watched run's weights differ from the unwatched run's")

        // The target is gone now, so Prometheus has marked its series stale: read the last sample scraped.
        let last = { (series: String) in try self.prometheusValue(prometheusPort, "last_over_time(\(series)[10m])") }
        let row = try lastMetricsRow(dir + "/run")
        let trainSamples = Self.trainCount - Int(Double(Self.trainCount) * 0.2)
        let stepsPerEpoch = (trainSamples + 99) / 100
        XCTAssertEqual(try last("glassbox_epoch"), row["epoch"], "epoch")
        XCTAssertEqual(try last("glassbox_epoch"), Double(epochs))
        XCTAssertEqual(try last("glassbox_steps_total"), Double(epochs * stepsPerEpoch), "steps done")
        XCTAssertEqual(try last("glassbox_samples_total"), Double(epochs * trainSamples), "samples done")
        XCTAssertEqual(try last("glassbox_step_seconds_count"), Double(epochs * stepsPerEpoch), "step-time histogram")
        for (series, column) in [("glassbox_val_accuracy", "val_acc"), ("glassbox_val_loss", "val_loss"),
                                 ("glassbox_accuracy", "acc"), ("glassbox_loss", "loss")] {
            let scraped = try XCTUnwrap(try last(series), "\(series) was never scraped:\n\(prometheus.output)")
            let written = try XCTUnwrap(row[column])
            XCTAssertEqual(scraped, written, accuracy: 1e-6, "\(series) vs metrics.csv \(column)")
        }
        XCTAssertEqual(try prometheusValue(prometheusPort, "count(last_over_time(glassbox_worker_sent_bytes_total[10m]))"), 2,
                       "one sent-bytes series per worker")
        let received = try XCTUnwrap(try prometheusValue(
            prometheusPort, "min(last_over_time(glassbox_worker_received_bytes_total[10m]))"))
        XCTAssertGreaterThan(received, 0, "every worker sent results")
        let answers = try XCTUnwrap(try prometheusValue(
            prometheusPort, "sum(last_over_time(glassbox_worker_result_seconds_count[10m]))"))
        XCTAssertGreaterThanOrEqual(answers, Double(epochs * stepsPerEpoch), "at least one answer per step")
        XCTAssertEqual(try last("glassbox_live_workers"), 2)
    }

    /// Chromium headless, with its output in a file (a pipe could be held open by its helper processes).
    private func dumpDOM(_ url: String, into path: String) throws -> String {
        let candidates = [ProcessInfo.processInfo.environment["GLASSBOX_CHROMIUM"], "/usr/bin/chromium"].compactMap { $0 }
        guard let binary = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw XCTSkip("headless Chromium not found (apt-get install -y chromium, or set GLASSBOX_CHROMIUM)")
        }
        let chromium = try RunningProcess(path: binary, [
            "--headless", "--no-sandbox", "--disable-gpu", "--user-data-dir=\(path).profile",
            "--virtual-time-budget=3000", "--dump-dom", url,
        ], outputPath: path)
        chromium.wait(timeout: 90)
        return chromium.output
    }

    /// The epoch of the map the page shows (`.../epoch_NNN.png?epoch=N`), and its progress line.
    private func shownMap(_ dom: String) -> (epoch: Int?, progress: String?) {
        let src = dom.range(of: #"src="/files/fig/epoch_\d+\.png\?epoch=(\d+)""#, options: .regularExpression)
            .map { String(dom[$0]) }
        let epoch = src.flatMap { s in s.split(separator: "=").last.flatMap { Int($0.dropLast()) } }
        let progress = dom.range(of: #"<b id="progress">[^<]*</b>"#, options: .regularExpression).map { String(dom[$0]) }
        return (epoch, progress)
    }

    func testLivePageFollowsTheRunAndServesOnlyTheRunDirectory() throws {
        let data = try mnistDirectory()
        let dir = try temporaryDirectory(self, "livepage")
        let port = freePort()
        let epochs = 3
        let train = try startDaemon(buildDirectory.appendingPathComponent("glassbox-coordinator").path, [
            "train", "--data", data, "--limit-train", "\(Self.trainCount)", "--epochs", "\(epochs)", "--seed", "5",
            "--threads", "2", "--out", dir + "/run", "--metrics-listen", "127.0.0.1:\(port)", "--metrics-linger", "60",
        ], log: dir + "/train.log")
        XCTAssertTrue(train.waitForOutput("serving the live page", timeout: 120), train.output)
        let page = "http://127.0.0.1:\(port)/"

        // The first map the page shows while the run is still training.
        var first: (epoch: Int?, progress: String?) = (nil, nil)
        var dumps = 0
        while first.epoch == nil, !train.output.contains("run finished"), train.process.isRunning {
            dumps += 1
            first = shownMap(try dumpDOM(page, into: dir + "/dom\(dumps).html"))
        }
        let firstEpoch = try XCTUnwrap(first.epoch, "no map shown before the run finished:\n\(train.output)")
        XCTAssertLessThan(firstEpoch, epochs, "the page was read during the run")
        let progress = try XCTUnwrap(first.progress)
        XCTAssertTrue(progress.contains("/\(epochs)"), "the page shows the epoch count: \(progress)")

        // The image changes once a later epoch's map is drawn.
        var later = first
        let deadline = Date().addingTimeInterval(600)
        while (later.epoch ?? -1) <= firstEpoch, Date() < deadline, train.process.isRunning {
            Thread.sleep(forTimeInterval: 1)
            dumps += 1
            later = shownMap(try dumpDOM(page, into: dir + "/dom\(dumps).html"))
        }
        let laterEpoch = try XCTUnwrap(later.epoch, train.output)
        XCTAssertGreaterThan(laterEpoch, firstEpoch, "the map did not change:\n\(train.output)")
        // The map of epoch N is drawn after epoch N's training, so the progress line is never behind it.
        let laterProgress = try XCTUnwrap(later.progress)
        let shownEpoch = laterProgress.range(of: #"epoch \d+/"#, options: .regularExpression)
            .flatMap { Int(laterProgress[$0].dropFirst("epoch ".count).dropLast()) }
        XCTAssertGreaterThanOrEqual(try XCTUnwrap(shownEpoch, laterProgress), laterEpoch, laterProgress)

        // The image itself is served, and nothing outside the run directory is.
        let image = try get(page + "files/fig/" + String(format: "epoch_%03d.png", laterEpoch))
        XCTAssertEqual(image.status, 200)
        XCTAssertTrue(image.body.contains("PNG"), "a PNG")
        XCTAssertEqual(try get(page + "files/metrics.csv").status, 200)
        try "secret".write(toFile: dir + "/outside.txt", atomically: true, encoding: .utf8)
        for escape in ["files/../outside.txt", "files/%2e%2e/outside.txt", "files/fig/../../outside.txt",
                       "files/..%2foutside.txt", "files//etc/passwd"] {
            let reply = try get(page + escape)
            XCTAssertNotEqual(reply.status, 200, "\(escape) was served")
            XCTAssertFalse(reply.body.contains("secret") || reply.body.contains("root:"), "\(escape) leaked: \(reply.body)")
        }
        XCTAssertEqual(try get(page + "files/../outside.txt").status, 403, "`..` is refused")

        // Once the run is over (the server lingers), the map series hold the last map's metrics.jsonl row.
        XCTAssertTrue(train.waitForOutput("run finished", timeout: 600), train.output)
        let rows = try String(contentsOfFile: dir + "/run/metrics.jsonl", encoding: .utf8).split(separator: "\n")
        let last = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(try XCTUnwrap(rows.last).utf8)) as? [String: Any])
        let metrics = try get(page + "metrics").body.split(separator: "\n")
        for (series, key) in [("glassbox_umap_trustworthiness", "umap_trustworthiness"),
                              ("glassbox_umap_displacement", "umap_frame_displacement"), ("glassbox_map_epoch", "epoch")] {
            let line = try XCTUnwrap(metrics.first { $0.hasPrefix(series + " ") }, "no \(series) in /metrics")
            let served = try XCTUnwrap(Double(line.split(separator: " ").last ?? ""), String(line))
            XCTAssertEqual(served, try XCTUnwrap(last[key] as? Double, key), accuracy: 1e-9, "\(series) vs metrics.jsonl \(key)")
        }
        XCTAssertTrue(metrics.contains { $0.hasPrefix("glassbox_umap_stage_seconds{stage=\"transform\"} ") },
                      "no UMAP stage series")
    }
}
