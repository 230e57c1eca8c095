@testable import Core
import Foundation
@testable import Monitoring
import XCTest

/// The monitoring server's pieces without a training run: path resolution inside the run directory, the
/// routes' replies, the Prometheus text after reported steps, and the server itself over a real socket.
final class MonitorServerTests: XCTestCase {
    /// A run directory with a metrics file and two map figures, beside a file that must never be served.
    private func runDirectory() throws -> (root: String, run: String) {
        let root = NSTemporaryDirectory() + "glassbox-monitor-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let run = root + "/run"
        try FileManager.default.createDirectory(atPath: run + "/fig", withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: root) }
        try "epoch,loss\n1,0.5\n".write(toFile: run + "/metrics.csv", atomically: true, encoding: .utf8)
        try Data([0x89, 0x50, 0x4E, 0x47]).write(to: URL(fileURLWithPath: run + "/fig/epoch_000.png"))
        try Data([0x89, 0x50, 0x4E, 0x47]).write(to: URL(fileURLWithPath: run + "/fig/epoch_002.png"))
        try "secret".write(toFile: root + "/outside.txt", atomically: true, encoding: .utf8)
        try FileManager.default.createSymbolicLink(atPath: run + "/link-out", withDestinationPath: root + "/outside.txt")
        return (root, run)
    }

    func testResolveKeepsEveryPathInsideTheRunDirectory() throws {
        let (_, run) = try runDirectory()
        let files = RunFiles(root: run)
        XCTAssertEqual(files.resolve("metrics.csv"), files.root + "/metrics.csv")
        XCTAssertEqual(files.resolve("fig//epoch_000.png"), files.root + "/fig/epoch_000.png")
        XCTAssertEqual(files.resolve(""), files.root)
        for escape in ["../outside.txt", "fig/../../outside.txt", "./metrics.csv", "link-out", "missing.txt", "fig\\..\\x"] {
            XCTAssertNil(files.resolve(escape), "\(escape) resolved")
        }
        XCTAssertEqual(files.latestMapFigure(), RunStatus.MapFigure(epoch: 2, path: "fig/epoch_002.png"))
    }

    func testRoutesRefuseEscapesAndServeFilesMetricsAndStatus() throws {
        let (_, run) = try runDirectory()
        let monitor = RunMonitor(runDirectory: run, epochs: 3)
        monitor.begin(stepsPerEpoch: 4, history: [])
        let routes = MonitorRoutes(monitor: monitor)
        for escape in ["/files/../outside.txt", "/files/%2e%2e/outside.txt", "/files/fig/../../outside.txt",
                       "/files/..%2Foutside.txt"] {
            let reply = routes.reply(to: escape)
            XCTAssertEqual(reply.status, .forbidden, escape)
            XCTAssertFalse(String(decoding: reply.body, as: UTF8.self).contains("secret"), escape)
        }
        XCTAssertEqual(routes.reply(to: "/files/link-out").status, .notFound)
        XCTAssertEqual(routes.reply(to: "/nowhere").status, .notFound)
        let csv = routes.reply(to: "/files/metrics.csv?x=1")
        XCTAssertEqual(csv.status, .ok)
        XCTAssertEqual(String(decoding: csv.body, as: UTF8.self), "epoch,loss\n1,0.5\n")
        XCTAssertEqual(routes.reply(to: "/files/fig/epoch_002.png").contentType, "image/png")
        let listing = String(decoding: routes.reply(to: "/files/").body, as: UTF8.self)
        XCTAssertTrue(listing.contains("href=\"/files/metrics.csv\"") && listing.contains("href=\"/files/fig/\""), listing)

        monitor.stepDone(epoch: 1, seconds: 0.25, stats: BatchStats(lossSum: 100, correct: 50, count: 100))
        monitor.stepDone(epoch: 1, seconds: 0.75, stats: BatchStats(lossSum: 50, correct: 70, count: 100))
        let metrics = String(decoding: routes.reply(to: "/metrics").body, as: UTF8.self)
        for line in ["glassbox_steps_total 2", "glassbox_samples_total 200", "glassbox_loss 0.75",
                     "glassbox_accuracy 0.6", "glassbox_step_seconds_count 2", "glassbox_step_seconds_sum 1.0",
                     "glassbox_step_seconds_bucket{le=\"0.5\"} 1", "glassbox_epochs 3.0"] {
            XCTAssertTrue(metrics.split(separator: "\n").contains(Substring(line)), "no line `\(line)` in\n\(metrics)")
        }
        let status = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(routes.reply(to: "/status.json").body))
                                   as? [String: Any])
        XCTAssertEqual(status["step"] as? Int, 2)
        XCTAssertEqual(status["steps"] as? Int, 4)
        XCTAssertEqual((status["latest_map"] as? [String: Any])?["path"] as? String, "fig/epoch_002.png")
        let page = String(decoding: routes.reply(to: "/").body, as: UTF8.self)
        XCTAssertTrue(page.contains("epoch 0/3 · training epoch 1, step 2/4"), page)
        XCTAssertTrue(page.contains("src=\"/files/fig/epoch_002.png?epoch=2\""), page)

        // Epoch 1 done, epoch 2 not started: the page says so, and the validation series hold its numbers.
        monitor.epochDone(EpochMetrics(epoch: 1, loss: 0.75, acc: 0.6, valLoss: 0.5, valAcc: 0.8, seconds: 2,
                                       samplesPerSecond: 100))
        let done = String(decoding: routes.reply(to: "/").body, as: UTF8.self)
        XCTAssertTrue(done.contains("<b id=\"progress\">epoch 1/3</b>"), done)
        monitor.mapDone(epoch: 1, metrics: ["umap_seconds": 1.5, "umap_transform_seconds": 0.25,
                                             "umap_trustworthiness": 0.9, "umap_frame_displacement": 0.125])
        let after = String(decoding: routes.reply(to: "/metrics").body, as: UTF8.self).split(separator: "\n")
        for line in ["glassbox_epoch 1.0", "glassbox_val_accuracy 0.8", "glassbox_val_loss 0.5", "glassbox_map_epoch 1.0",
                     "glassbox_umap_stage_seconds{stage=\"fit\"} 1.5", "glassbox_umap_stage_seconds{stage=\"transform\"} 0.25",
                     "glassbox_umap_trustworthiness 0.9", "glassbox_umap_displacement 0.125"] {
            XCTAssertTrue(after.contains(Substring(line)), "no line `\(line)` in\n\(after.joined(separator: "\n"))")
        }
    }

    func testWorkerSeriesCarryTheWorkerLabel() throws {
        let (_, run) = try runDirectory()
        let monitor = RunMonitor(runDirectory: run, epochs: 1)
        monitor.worker("w1", transferred: 1000, sent: true)
        monitor.worker("w1", transferred: 24, sent: true)
        monitor.worker("w2", transferred: 300, sent: false)
        monitor.worker("w2", answeredAfter: 0.04)
        let metrics = String(decoding: monitor.prometheusText(), as: UTF8.self)
        for line in ["glassbox_worker_sent_bytes_total{worker=\"w1\"} 1024",
                     "glassbox_worker_received_bytes_total{worker=\"w2\"} 300",
                     "glassbox_worker_result_seconds_count{worker=\"w2\"} 1"] {
            XCTAssertTrue(metrics.split(separator: "\n").contains(Substring(line)), "no line `\(line)` in\n\(metrics)")
        }
        XCTAssertEqual(monitor.currentStatus().workers.map(\.name), ["w1", "w2"])
    }

    func testListenAddressErrorsNameTheOptionAndTheExpectedForm() {
        XCTAssertEqual(try parseListenAddress("127.0.0.1:9464").port, 9464)
        XCTAssertEqual(try parseListenAddress("[::1]:0").host, "::1")
        for bad in ["9464", "localhost", ":9464", "127.0.0.1:70000", "127.0.0.1:http"] {
            XCTAssertThrowsError(try parseListenAddress(bad), bad) { error in
                XCTAssertTrue("\(error)".hasPrefix("--metrics-listen"), "\(error)")
            }
        }
    }

    func testServerAnswersOverASocketOnAPickedPort() throws {
        let (_, run) = try runDirectory()
        let server = try MonitorServer(host: "127.0.0.1", port: 0, monitor: RunMonitor(runDirectory: run, epochs: 2))
        defer { server.stop() }
        XCTAssertFalse(server.address.hasSuffix(":0"), server.address)
        let curl = { (path: String) throws -> String in
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
            process.arguments = ["-s", "--path-as-is", "--max-time", "10", "-w", " %{http_code}", "http://\(server.address)\(path)"]
            let output = NSTemporaryDirectory() + "glassbox-curl-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
            _ = FileManager.default.createFile(atPath: output, contents: nil)
            defer { try? FileManager.default.removeItem(atPath: output) }
            process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: output))
            try process.run()
            process.waitUntilExit()
            return try String(contentsOfFile: output, encoding: .utf8)
        }
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/curl") else { throw XCTSkip("curl not installed") }
        XCTAssertTrue(try curl("/metrics").contains("glassbox_epochs 2.0"))
        XCTAssertTrue(try curl("/files/../outside.txt").hasSuffix(" 403"))
        XCTAssertTrue(try curl("/files/metrics.csv").hasSuffix(" 200"))
        XCTAssertThrowsError(try MonitorServer(host: "127.0.0.1", port: Int(server.address.split(separator: ":").last!)!,
                                               monitor: RunMonitor(runDirectory: run, epochs: 2))) { error in
            XCTAssertTrue("\(error)".hasPrefix("--metrics-listen 127.0.0.1:"), "\(error)")
        }
    }
}
