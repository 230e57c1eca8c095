// The socket options Glassbox sets, each with its libzmq number and name (for error messages).
import CZMQ

/// A socket option and its value. Times are in milliseconds.
public enum ZMQSocketOption: Equatable, Sendable {
    /// How long unsent messages are kept after close; sockets start at 0.
    case linger(milliseconds: Int32)
    /// Messages queued for sending per peer before sends block or drop.
    case sendHighWaterMark(Int32)
    /// Messages queued on receipt per peer.
    case receiveHighWaterMark(Int32)
    /// Peers sending a larger message are disconnected; -1 for no limit.
    case maxMessageSize(Int64)
    /// How long a blocking send waits before failing with `isWouldBlock`; -1 forever.
    case sendTimeout(milliseconds: Int32)
    /// ROUTER: sending to an unknown peer fails with `isHostUnreachable` instead of dropping the message.
    case routerMandatory(Bool)
    /// ROUTER: a new connection with a routing id already in use takes it over.
    case routerHandover(Bool)
    /// The routing id this socket presents to a ROUTER peer (1 to 255 bytes, not starting with 0).
    case routingID([UInt8])
    /// Interval between ZMTP heartbeats.
    case heartbeatInterval(milliseconds: Int32)
    /// How long to wait for a heartbeat reply before dropping the connection.
    case heartbeatTimeout(milliseconds: Int32)
    /// How long the remote peer should wait for traffic before dropping the connection.
    case heartbeatTTL(milliseconds: Int32)
    /// First delay before reconnecting.
    case reconnectInterval(milliseconds: Int32)
    /// Upper bound of the exponentially growing reconnect delay; 0 keeps it at `reconnectInterval`.
    case reconnectIntervalMax(milliseconds: Int32)
    /// This socket is the CURVE server.
    case curveServer(Bool)
    /// This socket's CURVE public key, Z85 (40 characters).
    case curvePublicKey(String)
    /// This socket's CURVE secret key, Z85 (40 characters).
    case curveSecretKey(String)
    /// The server's CURVE public key, Z85 (40 characters); makes this socket a CURVE client.
    case curveServerKey(String)
    /// The ZAP domain passed to the authentication handler.
    case zapDomain(String)
    /// Consult the ZAP handler only for sockets with a ZAP domain, and fail closed when it is missing.
    case zapEnforceDomain(Bool)
    /// Queue messages only to completed connections: with no peer, a non-blocking send fails with
    /// `isWouldBlock` instead of queueing (so a client knows it is not connected).
    case immediate(Bool)
}

extension ZMQSocketOption {
    /// An option without its value: what `ZMQSocket.option(_:)` reads back.
    public enum Name: Sendable, CaseIterable {
        case linger, sendHighWaterMark, receiveHighWaterMark, maxMessageSize, sendTimeout, routerMandatory
        case routerHandover, routingID, heartbeatInterval, heartbeatTimeout, heartbeatTTL, reconnectInterval
        case reconnectIntervalMax, curveServer, curvePublicKey, curveSecretKey, curveServerKey, zapDomain
        case zapEnforceDomain, immediate
    }

    /// Which option this is.
    public var name: Name {
        switch self {
        case .linger: .linger
        case .sendHighWaterMark: .sendHighWaterMark
        case .receiveHighWaterMark: .receiveHighWaterMark
        case .maxMessageSize: .maxMessageSize
        case .sendTimeout: .sendTimeout
        case .routerMandatory: .routerMandatory
        case .routerHandover: .routerHandover
        case .routingID: .routingID
        case .heartbeatInterval: .heartbeatInterval
        case .heartbeatTimeout: .heartbeatTimeout
        case .heartbeatTTL: .heartbeatTTL
        case .reconnectInterval: .reconnectInterval
        case .reconnectIntervalMax: .reconnectIntervalMax
        case .curveServer: .curveServer
        case .curvePublicKey: .curvePublicKey
        case .curveSecretKey: .curveSecretKey
        case .curveServerKey: .curveServerKey
        case .zapDomain: .zapDomain
        case .zapEnforceDomain: .zapEnforceDomain
        case .immediate: .immediate
        }
    }
}

extension ZMQSocketOption.Name {
    /// libzmq's number for the option.
    var code: Int32 {
        switch self {
        case .linger: ZMQ_LINGER
        case .sendHighWaterMark: ZMQ_SNDHWM
        case .receiveHighWaterMark: ZMQ_RCVHWM
        case .maxMessageSize: ZMQ_MAXMSGSIZE
        case .sendTimeout: ZMQ_SNDTIMEO
        case .routerMandatory: ZMQ_ROUTER_MANDATORY
        case .routerHandover: ZMQ_ROUTER_HANDOVER
        case .routingID: ZMQ_ROUTING_ID
        case .heartbeatInterval: ZMQ_HEARTBEAT_IVL
        case .heartbeatTimeout: ZMQ_HEARTBEAT_TIMEOUT
        case .heartbeatTTL: ZMQ_HEARTBEAT_TTL
        case .reconnectInterval: ZMQ_RECONNECT_IVL
        case .reconnectIntervalMax: ZMQ_RECONNECT_IVL_MAX
        case .curveServer: ZMQ_CURVE_SERVER
        case .curvePublicKey: ZMQ_CURVE_PUBLICKEY
        case .curveSecretKey: ZMQ_CURVE_SECRETKEY
        case .curveServerKey: ZMQ_CURVE_SERVERKEY
        case .zapDomain: ZMQ_ZAP_DOMAIN
        case .zapEnforceDomain: GB_ZMQ_ZAP_ENFORCE_DOMAIN
        case .immediate: ZMQ_IMMEDIATE
        }
    }

    /// libzmq's name for the option, as errors show it.
    var label: String {
        switch self {
        case .linger: "ZMQ_LINGER"
        case .sendHighWaterMark: "ZMQ_SNDHWM"
        case .receiveHighWaterMark: "ZMQ_RCVHWM"
        case .maxMessageSize: "ZMQ_MAXMSGSIZE"
        case .sendTimeout: "ZMQ_SNDTIMEO"
        case .routerMandatory: "ZMQ_ROUTER_MANDATORY"
        case .routerHandover: "ZMQ_ROUTER_HANDOVER"
        case .routingID: "ZMQ_ROUTING_ID"
        case .heartbeatInterval: "ZMQ_HEARTBEAT_IVL"
        case .heartbeatTimeout: "ZMQ_HEARTBEAT_TIMEOUT"
        case .heartbeatTTL: "ZMQ_HEARTBEAT_TTL"
        case .reconnectInterval: "ZMQ_RECONNECT_IVL"
        case .reconnectIntervalMax: "ZMQ_RECONNECT_IVL_MAX"
        case .curveServer: "ZMQ_CURVE_SERVER"
        case .curvePublicKey: "ZMQ_CURVE_PUBLICKEY"
        case .curveSecretKey: "ZMQ_CURVE_SECRETKEY"
        case .curveServerKey: "ZMQ_CURVE_SERVERKEY"
        case .zapDomain: "ZMQ_ZAP_DOMAIN"
        case .zapEnforceDomain: "ZMQ_ZAP_ENFORCE_DOMAIN"
        case .immediate: "ZMQ_IMMEDIATE"
        }
    }
}
