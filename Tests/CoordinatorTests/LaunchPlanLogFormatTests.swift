@testable import Coordinator
import Foundation
import XCTest

/// `launch` hands `train`'s --log-format to every worker it starts, so that one run's lines read alike.
final class LaunchPlanLogFormatTests: XCTestCase {
    private func plan(_ trainOptions: [String]) throws -> LaunchPlan {
        LaunchPlan(hosts: try HostList(parsing: "node1:2\nnode2\n", source: "hosts"), trainOptions: trainOptions, port: 5555,
                   advertise: "10.0.0.1", workerProgram: "/opt/glassbox-worker", rsh: "ssh {host}")
    }

    func testEveryWorkerGetsTheLogFormatInEitherSpelling() throws {
        for options in [["--epochs", "1", "--log-format", "json"], ["--log-format=json", "--epochs", "1"]] {
            let workers = try plan(options).workers
            XCTAssertEqual(workers.count, 3)
            for worker in workers {
                XCTAssertTrue(worker.command.contains("--log-format json"), "\(options): \(worker.command)")
            }
        }
        XCTAssertEqual(LaunchPlan.value(of: "--log-format", in: ["--log-format=json"]), "json")
    }

    func testWorkersGetNoLogFormatWhenTrainHasNone() throws {
        for worker in try plan(["--epochs", "1"]).workers {
            XCTAssertFalse(worker.command.contains("--log-format"), worker.command)
        }
    }
}
