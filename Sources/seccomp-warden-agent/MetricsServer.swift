import NIOCore
import NIOHTTP1
import NIOPosix
import Prometheus
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// /metrics and /healthz over HTTP/1.1 on SwiftNIO. GET and HEAD only; nothing else is served.
/// At most `maxConnections` at once, each closed after `idleSeconds` without traffic: idle clients
/// (any pod can connect) must not use up the descriptors the watch loop and the verifier need.
enum MetricsServer {
    static let maxConnections = 64
    static let idleSeconds: Int64 = 30

    final class Connections: Sendable {
        let count = Atomic<Int>(0)
    }

    final class IdleClose: ChannelInboundHandler {
        typealias InboundIn = NIOAny
        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            if event is IdleStateHandler.IdleStateEvent { context.close(promise: nil) } else { context.fireUserInboundEventTriggered(event) }
        }
    }

    static func start(group: MultiThreadedEventLoopGroup, host: String, port: Int, registry: PrometheusCollectorRegistry,
                      healthy: @escaping @Sendable () -> Bool) throws -> any Channel {
        let open = Connections()
        return try ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                let n = open.count.add(1, ordering: .relaxed).newValue
                channel.closeFuture.whenComplete { _ in open.count.subtract(1, ordering: .relaxed) }
                guard n <= maxConnections else { return channel.close() }
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(IdleStateHandler(allTimeout: .seconds(idleSeconds)))
                    try channel.pipeline.syncOperations.addHandler(IdleClose())
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(Handler(registry: registry, healthy: healthy))
                }
            }
            .bind(host: host, port: port).wait()
    }

    static func monotonicMillis() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
    }

    final class Handler: ChannelInboundHandler {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart

        let registry: PrometheusCollectorRegistry
        let healthy: @Sendable () -> Bool
        var head: HTTPRequestHead?

        init(registry: PrometheusCollectorRegistry, healthy: @escaping @Sendable () -> Bool) {
            self.registry = registry
            self.healthy = healthy
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let h): head = h
            case .body: break
            case .end:
                guard let head else { return }
                self.head = nil
                respond(context: context, head: head)
            }
        }

        func respond(context: ChannelHandlerContext, head: HTTPRequestHead) {
            let path = head.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? head.uri
            var status = HTTPResponseStatus.ok
            var body: [UInt8]
            var type = "text/plain; charset=utf-8"
            if head.method != .GET && head.method != .HEAD {
                status = .methodNotAllowed
                body = Array("GET or HEAD only\n".utf8)
            } else if path == "/metrics" {
                body = registry.emitToBuffer()
                type = "text/plain; version=0.0.4; charset=utf-8"
            } else if path == "/healthz" {
                let ok = healthy()
                status = ok ? .ok : .serviceUnavailable
                body = Array((ok ? "ok\n" : "the watch loop has not turned in 30 s\n").utf8)
            } else {
                status = .notFound
                body = Array("/metrics or /healthz\n".utf8)
            }
            var headers = HTTPHeaders()
            headers.add(name: "Content-Type", value: type)
            headers.add(name: "Content-Length", value: String(body.count))
            let keepAlive = head.isKeepAlive
            if !keepAlive { headers.add(name: "Connection", value: "close") }
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: status, headers: headers))), promise: nil)
            if head.method != .HEAD {
                context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: body)))), promise: nil)
            }
            let done = context.writeAndFlush(wrapOutboundOut(.end(nil)))
            if !keepAlive {
                let channel = context.channel
                done.whenComplete { _ in channel.close(promise: nil) }
            }
        }
    }
}
