import Foundation
import XCTest
@testable import Core

/// The log's line formats: the time prefix, the JSON objects, the in-place progress line, the run's ETA.
final class LogTests: XCTestCase {
    private func progress(workers: Int? = nil) -> TrainingProgress {
        TrainingProgress(epoch: 2, epochs: 10, step: 96, steps: 480, samplesPerSecond: 1234.4, loss: 0.43214,
                         acc: 0.87654, etaSeconds: 754, epochEtaSeconds: 20, workers: workers)
    }

    func testUTCTimestampIsISO8601WithMilliseconds() {
        XCTAssertEqual(utcTimestamp(Date(timeIntervalSince1970: 0)), "1970-01-01T00:00:00.000Z")
        // 2026-12-06T21:30:05.123Z: 20,793 days after 1970-01-01, then 77,405.123 s.
        XCTAssertEqual(utcTimestamp(Date(timeIntervalSince1970: 20_793 * 86_400 + 77_405.1234)), "2026-12-06T21:30:05.123Z")
        // A leap day, the day after, a century that is no leap year, and before 1970.
        XCTAssertEqual(utcTimestamp(Date(timeIntervalSince1970: 951_782_400)), "2000-02-29T00:00:00.000Z")
        XCTAssertEqual(utcTimestamp(Date(timeIntervalSince1970: 951_868_799.999)), "2000-02-29T23:59:59.999Z")
        XCTAssertEqual(utcTimestamp(Date(timeIntervalSince1970: 4_107_542_400)), "2100-03-01T00:00:00.000Z")
        XCTAssertEqual(utcTimestamp(Date(timeIntervalSince1970: -0.001)), "1969-12-31T23:59:59.999Z")
    }

    func testUTCTimestampAgreesWithFoundationForEveryDayOfFourHundredYears() {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        formatter.timeZone = TimeZone(identifier: "UTC")
        // Every 7th day from 1900 to 2300 at an odd time of day: every month, leap rule and weekday.
        for day in stride(from: -25_567, to: 120_500, by: 7) {
            let date = Date(timeIntervalSince1970: Double(day) * 86_400 + 45_296.789)
            XCTAssertEqual(utcTimestamp(date), formatter.string(from: date), "day \(day)")
        }
    }

    func testTextLineStartsWithTheTimeAndKeepsTheMessage() {
        let info = LogRecord(time: "2026-12-06T21:30:05.123Z", level: .info, source: "coordinator",
                             message: "epoch 1/2 done in 3.0 s")
        XCTAssertEqual(info.rendered(as: .text), "2026-12-06T21:30:05.123Z [coordinator] epoch 1/2 done in 3.0 s")
        let warning = LogRecord(time: "2026-12-06T21:30:05.123Z", level: .warning, source: "worker h:1", message: "left: gone")
        XCTAssertEqual(warning.rendered(as: .text), "2026-12-06T21:30:05.123Z [worker h:1 warning] left: gone")
        let line = Log(prefix: "x").record("hello", .error, progress: nil).rendered(as: .text)
        XCTAssertNotNil(line.range(of: #"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z \[x error\] hello$"#, options: .regularExpression), line)
    }

    func testJSONLineParsesAndCarriesTheProgressFields() throws {
        let p = progress(workers: 2)
        let record = LogRecord(time: "2026-12-06T21:30:05.123Z", level: .info, source: "coordinator", message: p.message,
                               progress: p)
        let line = record.rendered(as: .json)
        XCTAssertFalse(line.contains("\n"), line)
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], line)
        XCTAssertEqual(object["time"] as? String, "2026-12-06T21:30:05.123Z")
        XCTAssertEqual(object["level"] as? String, "info")
        XCTAssertEqual(object["source"] as? String, "coordinator")
        XCTAssertEqual(object["message"] as? String, p.message)
        XCTAssertEqual(object["epoch"] as? Int, 2)
        XCTAssertEqual(object["epochs"] as? Int, 10)
        XCTAssertEqual(object["step"] as? Int, 96)
        XCTAssertEqual(object["steps"] as? Int, 480)
        XCTAssertEqual(object["samples_per_s"] as? Double, 1234.4)
        XCTAssertEqual(object["loss"] as? Double, 0.43214)
        XCTAssertEqual(object["acc"] as? Double, 0.87654)
        XCTAssertEqual(object["eta_s"] as? Double, 754)
        XCTAssertEqual(object["epoch_eta_s"] as? Double, 20)
        XCTAssertEqual(object["workers"] as? Int, 2)
        XCTAssertTrue(line.hasPrefix(#"{"acc":"#), "keys are sorted: \(line)")
    }

    func testJSONLineOfAPlainMessageHasOnlyTheFourFields() throws {
        let record = LogRecord(time: "t", level: .debug, source: "worker h:1 rank 0", message: #"a "quoted" path/with\slash"#)
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(record.rendered(as: .json).utf8)) as? [String: String])
        XCTAssertEqual(object, ["time": "t", "level": "debug", "source": "worker h:1 rank 0",
                                "message": #"a "quoted" path/with\slash"#])
    }

    func testProgressMessageKeepsTheOldWordsAndNamesBothETAs() {
        XCTAssertEqual(progress().message,
                       "epoch 2/10 step 96/480 1234 samples/s loss 0.4321 acc 0.8765 ETA run 12:34 (epoch 0:20)")
        XCTAssertTrue(progress(workers: 1).message.hasSuffix("(epoch 0:20), 1 worker"))
        XCTAssertTrue(progress(workers: 3).message.hasSuffix("(epoch 0:20), 3 workers"))
    }

    func testProgressLinesRedrawInPlaceUntilAnotherLineEndsThem() {
        var redraw = ProgressRedraw()
        XCTAssertTrue(redraw.next("first", redraw: true) == ("", "\rfirst\u{1B}[K"))
        XCTAssertTrue(redraw.next("second", redraw: true) == ("", "\rsecond\u{1B}[K"))
        XCTAssertTrue(redraw.isOpen)
        XCTAssertTrue(redraw.next("epoch done", redraw: false) == ("\n", "epoch done\n"), "the open line is ended first")
        XCTAssertFalse(redraw.isOpen)
        XCTAssertTrue(redraw.next("plain", redraw: false) == ("", "plain\n"))
    }

    func testRunETACountsLaterEpochsAndTheMapsStillToDraw() {
        var estimate = RunEstimate(epochs: 10, stepsPerEpoch: 480)
        // No maps (yet, or --no-maps): this epoch's 384 steps left plus 8 epochs of 480, at 0.05 s a step.
        let noMaps = estimate.remaining(epoch: 2, stepsDone: 96, secondsPerStep: 0.05)
        XCTAssertEqual(noMaps.epoch, 384 * 0.05, accuracy: 1e-9)
        XCTAssertEqual(noMaps.run, (384 + 8 * 480) * 0.05, accuracy: 1e-9)
        // Maps of 30 s and 50 s so far: the maps after epochs 2 to 10 (nine) at their mean, 40 s.
        estimate.recordMap(seconds: 30)
        estimate.recordMap(seconds: 50)
        let withMaps = estimate.remaining(epoch: 2, stepsDone: 96, secondsPerStep: 0.05)
        XCTAssertEqual(withMaps.epoch, noMaps.epoch, accuracy: 1e-9)
        XCTAssertEqual(withMaps.run, noMaps.run + 9 * 40, accuracy: 1e-9)
        // The last step of the last epoch: only its map is left.
        let last = estimate.remaining(epoch: 10, stepsDone: 480, secondsPerStep: 0.05)
        XCTAssertEqual(last.epoch, 0)
        XCTAssertEqual(last.run, 40, accuracy: 1e-9)
    }
}
