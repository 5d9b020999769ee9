package dev.tessera.agent.hbone;

import static java.util.Objects.requireNonNull;

import dev.tessera.agent.connection.CloseReason;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.codec.http2.Http2Settings;
import io.netty.util.AsciiString;
import io.netty.util.NetUtil;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;

/**
 * The HBONE protocol: HTTP/2 {@code CONNECT} with {@code :authority} = the destination pod's
 * {@code IP:port}, answered {@code :status 200} before bytes flow. Also the HTTP/2 settings both ends use.
 */
public final class Hbone {

    /** Response header naming the {@link CloseReason} of a refused CONNECT. */
    public static final AsciiString REASON_HEADER = AsciiString.cached("tessera-reason");
    /** Request header with the source pod's {@code IP:port} (informational: identity comes from TLS). */
    public static final AsciiString SOURCE_HEADER = AsciiString.cached("tessera-source");

    /** Per-stream receive window: large enough for bulk transfers over one stream. */
    public static final int STREAM_WINDOW = 4 * 1024 * 1024;
    /** Connection receive window: several streams at full speed. */
    public static final int CONNECTION_WINDOW = 32 * 1024 * 1024;
    /** Streams one tunnel connection carries at most (advertised by servers). */
    public static final int MAX_CONCURRENT_STREAMS = 1000;

    /**
     * The largest DATA frame either end accepts (SETTINGS_MAX_FRAME_SIZE): one relayed socket read (at most
     * {@link dev.tessera.agent.netty.Listeners#MAX_READ}, 256 KiB) travels as one frame. At HTTP/2's default of
     * 16 KiB a 64 KiB read became four frames, and each frame's 9-byte header made the TLS layer copy the record's
     * plaintext into one buffer before encrypting (issue 10, bulk profile); 64 KiB frames for 256 KiB reads measured
     * 7,095-7,454 against 8,164-8,715 64 KB requests a second with 256 KiB frames. A peer that advertises less
     * still gets frames of its size.
     */
    public static final int MAX_FRAME_SIZE = dev.tessera.agent.netty.Listeners.MAX_READ;

    private static final AsciiString OK = HttpResponseStatus.OK.codeAsText();

    private Hbone() {}

    /** The settings an HBONE server advertises. */
    public static Http2Settings serverSettings() {
        return new Http2Settings().initialWindowSize(STREAM_WINDOW).maxConcurrentStreams(MAX_CONCURRENT_STREAMS)
                .maxFrameSize(MAX_FRAME_SIZE);
    }

    /** The settings an HBONE client advertises (no server push). */
    public static Http2Settings clientSettings() {
        return new Http2Settings().initialWindowSize(STREAM_WINDOW).pushEnabled(false).maxFrameSize(MAX_FRAME_SIZE);
    }

    /** The CONNECT request headers for {@code target}, telling the source address when known. */
    public static Http2Headers connectRequest(InetSocketAddress target, InetSocketAddress source) {
        requireNonNull(target, "target");
        Http2Headers h = new DefaultHttp2Headers()
                .method(HttpMethod.CONNECT.asciiName())
                .authority(authority(target));
        if (source != null) {
            h.set(SOURCE_HEADER, authority(source));
        }
        return h;
    }

    /** {@code ip:port} ({@code [v6]:port}). */
    public static String authority(InetSocketAddress a) {
        return NetUtil.toSocketAddressString(a);
    }

    /** The response accepting a CONNECT. */
    public static Http2Headers accepted() {
        return new DefaultHttp2Headers().status(OK);
    }

    /** The response refusing a CONNECT for {@code reason} (its HTTP status, its name as header). */
    public static Http2Headers refused(CloseReason reason) {
        int status = reason.httpStatus() >= 400 ? reason.httpStatus() : 502;
        return new DefaultHttp2Headers().status(AsciiString.of(Integer.toString(status)))
                .set(REASON_HEADER, reason.name());
    }

    /** True when a CONNECT response accepts the tunnel. */
    public static boolean isAccepted(Http2Headers response) {
        return OK.contentEquals(response.status());
    }

    /** The reason a server gave for refusing a CONNECT ({@link CloseReason#TUNNEL_REFUSED} if none). */
    public static CloseReason refusalReason(Http2Headers response) {
        return CloseReason.parse(response.get(REASON_HEADER), CloseReason.TUNNEL_REFUSED);
    }

    /**
     * Parses a CONNECT {@code :authority}: a literal IPv4 address or a bracketed IPv6 address, a colon and
     * a decimal port 1-65535. Host names are refused (the tunnel never resolves names).
     *
     * @throws IllegalArgumentException naming the value and the expected form
     */
    public static InetSocketAddress parseAuthority(CharSequence authority) {
        if (authority == null || authority.length() == 0) {
            throw new IllegalArgumentException("authority: missing (expected: IP:port)");
        }
        String s = authority.toString();
        int colon = s.lastIndexOf(':');
        if (colon <= 0 || colon == s.length() - 1) {
            throw new IllegalArgumentException("authority: '" + s + "' (expected: IP:port)");
        }
        String host = s.substring(0, colon);
        String portText = s.substring(colon + 1);
        if (host.startsWith("[") && host.endsWith("]")) {
            host = host.substring(1, host.length() - 1);
            if (!NetUtil.isValidIpV6Address(host)) {
                throw new IllegalArgumentException("authority: '" + s + "' (expected: IP:port with a literal IP)");
            }
        } else if (!NetUtil.isValidIpV4Address(host)) {
            throw new IllegalArgumentException("authority: '" + s + "' (expected: IP:port with a literal IP)");
        }
        int port = parsePort(portText, s);
        byte[] bytes = NetUtil.createByteArrayFromIpAddressString(host);
        try {
            return new InetSocketAddress(InetAddress.getByAddress(bytes), port);
        } catch (UnknownHostException e) {
            throw new IllegalArgumentException("authority: '" + s + "' (expected: IP:port with a literal IP)", e);
        }
    }

    private static int parsePort(String text, String authority) {
        if (text.length() > 5) {
            throw new IllegalArgumentException("authority: '" + authority + "' port " + text + " (expected: 1-65535)");
        }
        int port = 0;
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (c < '0' || c > '9') {
                throw new IllegalArgumentException("authority: '" + authority + "' port '" + text + "' (expected: 1-65535)");
            }
            port = port * 10 + (c - '0');
        }
        if (port < 1 || port > 65535) {
            throw new IllegalArgumentException("authority: '" + authority + "' port " + port + " (expected: 1-65535)");
        }
        return port;
    }

    /**
     * The HTTP/2 codec of both ends of a tunnel, made to read frames without copying: a DATA frame (up to 16 KiB
     * plus a 9-byte header) seldom ends where a TLS read ends, and with Netty's default cumulator every read that
     * follows a partial frame was copied whole into the cumulation buffer: 6 % of a receiving agent's CPU in bulk
     * transfer (async-profiler, issue 10). The composite cumulator appends the read instead; frames are sliced out
     * of it as before.
     */
    public static io.netty.handler.codec.http2.Http2FrameCodec withoutCopies(io.netty.handler.codec.http2.Http2FrameCodec codec) {
        codec.setCumulator(io.netty.handler.codec.ByteToMessageDecoder.COMPOSITE_CUMULATOR);
        return codec;
    }

    /** Between TLS and HTTP/2 on both ends of a tunnel: see {@link PassFlushCoalescer}. */
    public static PassFlushCoalescer flushConsolidation() {
        return new PassFlushCoalescer();
    }
}
