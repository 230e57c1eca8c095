import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

/// The HTTP server of `train --metrics-listen HOST:PORT` (SwiftNIO, one event-loop thread): `/metrics`
/// for Prometheus, `/` the live page, `/status.json` what the page polls, `/files/...` the run directory
/// read-only. It only reads the monitor and the run's files, so it cannot change what the run computes.
public final class MonitorServer: @unchecked Sendable {
    /// The address bound, e.g. `127.0.0.1:9464` (a port 0 resolved to the one the system picked).
    public let address: String
    private let group: MultiThreadedEventLoopGroup
    private let channel: any Channel
    private let lock = NSLock()
    private var stopped = false

    /// Binds `host`:`port` and starts serving `monitor`'s series, status and run directory.
    public init(host: String, port: Int, monitor: RunMonitor) throws {
        let routes = MonitorRoutes(monitor: monitor)
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(MonitorHTTPHandler(routes: routes))
                }
            }
        do {
            channel = try bootstrap.bind(host: host, port: port).wait()
        } catch {
            try? group.syncShutdownGracefully()
            let reason = (error as? IOError).map { String(cString: strerror($0.errnoCode)) } ?? "\(error)"
            throw MonitorError("--metrics-listen \(host):\(port): cannot listen there (\(reason)); "
                               + "expected a free port on an address of this host, e.g. 127.0.0.1:9464")
        }
        let bound = channel.localAddress?.port ?? port
        address = (host.contains(":") ? "[\(host)]" : host) + ":\(bound)"
    }

    deinit { stop() }

    /// Closes the listening socket and the event loop. Idempotent.
    public func stop() {
        let first = lock.withLock { () -> Bool in defer { stopped = true }; return !stopped }
        guard first else { return }
        try? channel.close().wait()
        try? group.syncShutdownGracefully()
    }
}

/// A bad `--metrics-listen` address or a port that cannot be bound: one line for the user.
public struct MonitorError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Splits `HOST:PORT` (`[::1]:9464` for IPv6) into its parts, or says what was wrong.
public func parseListenAddress(_ text: String) throws -> (host: String, port: Int) {
    guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
          (0...65_535).contains(port) else {
        throw MonitorError("--metrics-listen must be HOST:PORT with a port in 0...65535 (0 picks a free one), "
                           + "e.g. 127.0.0.1:9464, got \(text)")
    }
    var host = String(text[..<colon])
    if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
    guard !host.isEmpty else {
        throw MonitorError("--metrics-listen needs a host before the port, e.g. 127.0.0.1:\(port) or 0.0.0.0:\(port), got \(text)")
    }
    return (host, port)
}

/// One HTTP answer.
struct HTTPReply {
    var status: HTTPResponseStatus = .ok
    var contentType: String
    var body: [UInt8]

    static func text(_ status: HTTPResponseStatus, _ message: String) -> HTTPReply {
        HTTPReply(status: status, contentType: "text/plain; charset=utf-8", body: Array((message + "\n").utf8))
    }
}

/// Reads one request at a time and writes its `MonitorRoutes` reply; HTTP keep-alive as the client asks.
private final class MonitorHTTPHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let routes: MonitorRoutes
    private var head: HTTPRequestHead?

    init(routes: MonitorRoutes) { self.routes = routes }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let request):
            head = request
        case .body:
            break  // GET and HEAD carry none worth reading
        case .end:
            guard let request = head else { return }
            head = nil
            respond(to: request, context: context)
        }
    }

    private func respond(to request: HTTPRequestHead, context: ChannelHandlerContext) {
        let reply = request.method == .GET || request.method == .HEAD
            ? routes.reply(to: request.uri) : .text(.methodNotAllowed, "only GET and HEAD are served")
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: reply.contentType)
        headers.add(name: "Content-Length", value: "\(reply.body.count)")
        headers.add(name: "Cache-Control", value: "no-store")
        if !request.isKeepAlive { headers.add(name: "Connection", value: "close") }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: request.version, status: reply.status,
                                                             headers: headers))), promise: nil)
        if request.method != .HEAD {
            context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: reply.body)))),
                          promise: nil)
        }
        let written = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        if !request.isKeepAlive {
            written.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
        }
    }
}
