package dev.tessera.agent.netty;

import static java.util.Objects.requireNonNull;

import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.AdaptiveRecvByteBufAllocator;
import io.netty.channel.Channel;
import io.netty.channel.ChannelOption;
import io.netty.channel.RecvByteBufAllocator;
import io.netty.channel.WriteBufferWaterMark;
import java.net.InetSocketAddress;

/**
 * What the agent's two TCP listeners (15001 and 15008) share: a server bootstrap that binds at start-up
 * but does not accept until {@link #acceptConnections}, so a port clash fails start-up while connections
 * arriving before the agent is ready wait in the listen backlog instead of being reset.
 */
public final class Listeners {

    /** Listen backlog: room for the connections that arrive while the agent starts. */
    public static final int BACKLOG = 4096;
    /** Write buffer limits of every relayed socket: back-pressure starts at 1 MiB queued. */
    public static final WriteBufferWaterMark WATER_MARK = new WriteBufferWaterMark(256 * 1024, 1024 * 1024);
    /**
     * The most one read of a relayed socket (pod sockets, HBONE tunnels) takes: 256 KiB, where Netty's default is
     * 64 KiB. Netty's adaptive allocator grows a channel's reads toward it only while reads fill the buffer, so
     * requests and responses of a few KB still read a few KB; a bulk transfer reads a quarter as often, with a
     * quarter of the epoll passes, TLS unwrap calls and HTTP/2 frames. Jar A/B on the bench cluster (seven arms
     * each, interleaved): iperf3 median 6.65 against 5.65 Gbit/s, both agents' CPU per GB 1.72 against 2.01 s, 64 KB
     * requests 7,631 against 6,452 req/s; 100 B and 1 KB unchanged, RSS unchanged. 1 MiB measured worse than both
     * (bench/profiles/README.md, "reads and frames of 256 KiB").
     */
    public static final int MAX_READ = 256 * 1024;
    /** The receive allocator of every relayed socket, reads of up to {@link #MAX_READ}. */
    public static final RecvByteBufAllocator READS = new AdaptiveRecvByteBufAllocator(64, 2048, MAX_READ);

    private Listeners() {}

    /** A server bootstrap on {@code loops}, not accepting until told, with TCP_NODELAY on accepted sockets. */
    public static ServerBootstrap paused(EventLoops loops) {
        requireNonNull(loops, "loops");
        return new ServerBootstrap()
                .group(loops.boss(), loops.worker())
                .channel(loops.serverChannelClass())
                .option(ChannelOption.AUTO_READ, false)
                .option(ChannelOption.SO_REUSEADDR, true)
                .option(ChannelOption.SO_BACKLOG, BACKLOG)
                .childOption(ChannelOption.TCP_NODELAY, true)
                .childOption(ChannelOption.RCVBUF_ALLOCATOR, READS);
    }

    /**
     * What both listeners dial pods with (passthrough, same-node delivery, the HBONE server's upstream): no
     * read before the relay asks, half-close, the tunnel's connect timeout, the relay's water mark.
     */
    public static Bootstrap dialer(EventLoops loops, long connectTimeoutMillis) {
        requireNonNull(loops, "loops");
        return new Bootstrap()
                .channel(loops.socketChannelClass())
                .option(ChannelOption.AUTO_READ, false)
                .option(ChannelOption.ALLOW_HALF_CLOSURE, true)
                .option(ChannelOption.TCP_NODELAY, true)
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) connectTimeoutMillis)
                .option(ChannelOption.WRITE_BUFFER_WATER_MARK, WATER_MARK)
                .option(ChannelOption.RCVBUF_ALLOCATOR, READS)
                .handler(QuietCloseHandler.INSTANCE);
    }

    /**
     * Binds, or fails naming the listener and the address.
     *
     * @param what the listener's name for the message, e.g. "outbound proxy"
     */
    public static Channel bind(String what, ServerBootstrap bootstrap, InetSocketAddress address) {
        var f = bootstrap.bind(address).awaitUninterruptibly();
        if (!f.isSuccess()) {
            throw new IllegalStateException(what + ": cannot bind " + address.getAddress().getHostAddress() + ":"
                    + address.getPort() + " (port " + address.getPort() + "): " + f.cause().getMessage(), f.cause());
        }
        return f.channel();
    }

    /**
     * Adopts a listening socket received from the previous agent (listener handoff) instead of binding: the
     * socket keeps its address and its backlog, so connections queued in it are not lost.
     *
     * @param fd the received descriptor (epoll only)
     * @param expected the address the socket must be bound to
     */
    public static Channel adopt(String what, ServerBootstrap bootstrap, int fd, InetSocketAddress expected) {
        var channel = new io.netty.channel.epoll.EpollServerSocketChannel(fd);
        InetSocketAddress local = channel.localAddress();
        if (local == null || !local.equals(expected)) {
            throw new IllegalStateException(what + ": the handed-over socket is bound to " + local + " (expected: "
                    + expected + ")");
        }
        var f = withChannel(bootstrap, channel).register().awaitUninterruptibly();
        if (!f.isSuccess()) {
            throw new IllegalStateException(what + ": cannot adopt the handed-over socket " + local + ": "
                    + f.cause().getMessage(), f.cause());
        }
        return f.channel();
    }

    /** A copy of {@code b} (groups, options, handlers) whose channel is {@code channel}. */
    @SuppressWarnings("unchecked")
    private static ServerBootstrap withChannel(ServerBootstrap b, io.netty.channel.ServerChannel channel) {
        var c = b.config();
        var out = new ServerBootstrap().group(c.group(), c.childGroup()).channelFactory(() -> channel)
                .childHandler(c.childHandler());
        if (c.handler() != null) {
            out.handler(c.handler());
        }
        c.options().forEach((k, v) -> out.option((ChannelOption<Object>) k, v));
        c.childOptions().forEach((k, v) -> out.childOption((ChannelOption<Object>) k, v));
        return out;
    }

    /** The listening socket's descriptor (epoll only), for a handoff to the next agent. */
    public static int fd(String what, Channel server) {
        if (!(server instanceof io.netty.channel.unix.UnixChannel u)) {
            throw new IllegalStateException(what + ": not an epoll listener (no handoff without epoll)");
        }
        return u.fd().intValue();
    }

    /** Starts accepting on a listener bound by {@link #bind}. */
    public static void acceptConnections(String what, Channel server) {
        if (server == null) {
            throw new IllegalStateException(what + ": not started");
        }
        server.config().setAutoRead(true);
    }
}
