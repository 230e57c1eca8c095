import Core
import Foundation

/// What each path of the monitoring server answers; no sockets here.
struct MonitorRoutes: @unchecked Sendable {
    let monitor: RunMonitor
    let files: RunFiles

    init(monitor: RunMonitor) {
        self.monitor = monitor
        files = RunFiles(root: monitor.runDirectory)
    }

    /// The reply to a request for `uri` (a path with an optional query, which is ignored).
    func reply(to uri: String) -> HTTPReply {
        let rawPath = String(uri.prefix { $0 != "?" && $0 != "#" })
        guard let path = rawPath.removingPercentEncoding else { return .text(.badRequest, "malformed path \(rawPath)") }
        switch path {
        case "/metrics":
            return HTTPReply(contentType: "text/plain; version=0.0.4; charset=utf-8", body: monitor.prometheusText())
        case "/status.json":
            return HTTPReply(contentType: "application/json", body: statusJSON())
        case "/", "/index.html":
            let page = livePage(status: monitor.currentStatus(), files: files.listing(files.root))
            return HTTPReply(contentType: "text/html; charset=utf-8", body: Array(page.utf8))
        case "/files", "/files/":
            return fileReply("")
        default:
            guard path.hasPrefix("/files/") else { return .text(.notFound, "no page \(path); try / or /metrics") }
            return fileReply(String(path.dropFirst("/files/".count)))
        }
    }

    private func statusJSON() -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf",
                                                                       nan: "nan")
        return Array((try? encoder.encode(monitor.currentStatus())) ?? Data("{}".utf8))
    }

    /// A run file's bytes, or a directory's listing as links; 403 for any path that would leave the run directory.
    private func fileReply(_ relative: String) -> HTTPReply {
        let parts = relative.split(separator: "/")
        if parts.contains("..") || relative.hasPrefix("/") {
            return .text(.forbidden, "\(relative): only files inside the run directory are served")
        }
        guard let path = files.resolve(relative) else {
            return .text(.notFound, "\(relative): no such file in the run directory")
        }
        if files.isDirectory(path) {
            let base = relative.isEmpty || relative.hasSuffix("/") ? relative : relative + "/"
            let links = files.listing(path).map { "<li><a href=\"/files/\(htmlEscaped(base + $0))\">\(htmlEscaped($0))</a></li>" }
            let page = "<!doctype html><meta charset=utf-8><title>\(htmlEscaped(base))</title><h1>run files: /\(htmlEscaped(base))</h1>"
                + "<ul>\(links.joined())</ul>"
            return HTTPReply(contentType: "text/html; charset=utf-8", body: Array(page.utf8))
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            return .text(.forbidden, "\(relative): cannot be read")
        }
        return HTTPReply(contentType: contentType(of: path), body: Array(data))
    }

    private func contentType(of path: String) -> String {
        switch (path as NSString).pathExtension.lowercased() {
        case "png": return "image/png"
        case "gif": return "image/gif"
        case "html": return "text/html; charset=utf-8"
        case "json": return "application/json"
        case "csv", "jsonl", "txt", "log": return "text/plain; charset=utf-8"
        default: return "application/octet-stream"
        }
    }
}
