package dev.tessera.agent.handoff;

import static java.util.Objects.requireNonNull;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerDomainSocketChannel;
import io.netty.channel.unix.DomainSocketAddress;
import io.netty.channel.unix.FileDescriptor;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The running agent's side of a listener handoff (the "seamless reload" of Envoy and HAProxy): serves a
 * Unix domain socket; a new agent on the same node that connects receives the listening sockets of 15001
 * and 15008 (SCM_RIGHTS, so both processes hold the same kernel sockets and no connection is refused in
 * between) and acknowledges once it adopted them; only then {@code onHandedOff} runs (stop accepting,
 * release the HTTP ports, drain). A new agent that disconnects without acknowledging leaves this agent
 * serving as before, and the socket is served again.
 *
 * <p>Protocol: the server sends {@link #LISTENERS} descriptors (each with one byte of payload) in one flush,
 * and a third, the IPv6 outbound listener, when it has one ({@code --node-ip6}; at most {@link #MAX_LISTENERS});
 * the client answers one byte {@link #ACK}. The addresses are read from the sockets themselves (getsockname),
 * so the order does not matter and an agent of either version understands the other.
 */
public final class HandoffServer implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(HandoffServer.class);

    /** Listening sockets every agent hands over: outbound capture and HBONE. */
    public static final int LISTENERS = 2;
    /** At most: with the IPv6 outbound capture listener. */
    public static final int MAX_LISTENERS = 3;
    /** The client's acknowledgement byte. */
    static final byte ACK = 'K';

    private final Path socket;
    private final Supplier<List<Integer>> listenerFds;
    private final Runnable onHandedOff;
    private final EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
    private volatile Channel server;
    private volatile boolean handedOff;
    private volatile boolean closed;
    private final java.util.concurrent.atomic.AtomicLong refusedPeers = new java.util.concurrent.atomic.AtomicLong();

    private HandoffServer(Path socket, Supplier<List<Integer>> listenerFds, Runnable onHandedOff) {
        this.socket = socket;
        this.listenerFds = listenerFds;
        this.onHandedOff = onHandedOff;
    }

    /**
     * Serves {@code socket} (a stale file is replaced; its directory is created).
     *
     * @param listenerFds the listening sockets to hand over, asked for at each handoff
     * @param onHandedOff runs (on its own thread) once a new agent adopted them
     * @return the server, or null without epoll (no descriptor passing: the next agent binds after this one)
     */
    public static HandoffServer serve(Path socket, Supplier<List<Integer>> listenerFds, Runnable onHandedOff)
            throws IOException {
        requireNonNull(socket, "socket");
        if (!Epoll.isAvailable()) {
            log.warn("no epoll: listener handoff disabled (an upgrade refuses connections between the two agents)");
            return null;
        }
        var s = new HandoffServer(socket, requireNonNull(listenerFds, "listenerFds"),
                requireNonNull(onHandedOff, "onHandedOff"));
        try {
            s.bind();
        } catch (IOException | RuntimeException e) {
            s.close();
            throw e;
        }
        return s;
    }

    private synchronized void bind() throws IOException {
        if (socket.getParent() != null) {
            Files.createDirectories(socket.getParent());
        }
        Files.deleteIfExists(socket); // a stale file: the agent that served it is gone (or handed off)
        // Loaded now, not at the next agent's connection: an upgrade typically replaces this agent's jar on
        // disk first, and a class first loaded after that cannot be read from it (NoClassDefFoundError, and
        // the upgrade falls back to a restart that refuses connections).
        Class<?> exchange = Exchange.class;
        log.debug("handoff exchange handler {} loaded", exchange.getName());
        var f = new ServerBootstrap().group(group).channel(EpollServerDomainSocketChannel.class)
                .childHandler(new io.netty.channel.ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        ch.pipeline().addLast(new Exchange()); // one per connection (a refused one comes first)
                    }
                })
                .bind(new DomainSocketAddress(socket.toFile())).awaitUninterruptibly();
        if (!f.isSuccess()) {
            throw new IOException("handoff socket " + socket + ": cannot bind: " + f.cause().getMessage(), f.cause());
        }
        server = f.channel();
        // Only this agent's user may even connect (the uid check below is the authority; this is depth).
        Files.setPosixFilePermissions(socket, java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"));
        log.info("serving listener handoffs on {}", socket);
    }

    /** True once a new agent adopted the listeners. */
    public boolean handedOff() {
        return handedOff;
    }

    /** Connections refused because the peer runs as another user than this agent. */
    public long refusedPeers() {
        return refusedPeers.get();
    }

    /** The uid of this process (the only one that may take the listeners). */
    private static int ownUid() throws IOException {
        return (Integer) Files.getAttribute(Path.of("/proc/self"), "unix:uid");
    }

    /** One handoff: send the descriptors, wait for the acknowledgement. */
    private final class Exchange extends ChannelInboundHandlerAdapter {
        private boolean acked;

        private boolean refused;

        @Override
        public void channelActive(ChannelHandlerContext ctx) {
            Channel s = server;
            if (handedOff || s == null) {
                ctx.close();
                return;
            }
            // The listening sockets are the node's whole data path: only a process of this agent's own user
            // (SO_PEERCRED, set by the kernel at connect) may take them.
            try {
                var peer = ((io.netty.channel.epoll.EpollDomainSocketChannel) ctx.channel()).peerCredentials();
                int own = ownUid();
                if (peer.uid() != own) {
                    refused = true;
                    refusedPeers.incrementAndGet();
                    log.warn("handoff socket: refused pid {} running as uid {} (expected: uid {}, this agent's)",
                            peer.pid(), peer.uid(), own);
                    ctx.close();
                    return;
                }
            } catch (IOException | RuntimeException e) {
                refused = true;
                refusedPeers.incrementAndGet();
                log.warn("handoff socket: cannot tell who connected ({}); refused", e.toString());
                ctx.close();
                return;
            }
            // Stop serving first: closing the server unlinks the path, which the new agent binds afterwards.
            server = null;
            s.close().addListener(closed -> {
                List<Integer> fds = listenerFds.get();
                log.info("a new agent asks for the listeners: sending {} socket(s)", fds.size());
                for (int fd : fds) {
                    ctx.write(new FileDescriptor(fd));
                }
                ctx.flush();
            });
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ByteBuf b = (ByteBuf) msg;
            try {
                if (!acked && b.isReadable() && b.readByte() == ACK) {
                    acked = true;
                    handedOff = true;
                    log.info("the new agent adopted the listeners: this agent stops accepting and drains");
                    new Thread(onHandedOff, "handoff-drain").start();
                }
            } finally {
                b.release();
            }
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            if (!acked && !closed && !refused) {
                log.warn("the new agent left without adopting the listeners: this agent keeps serving");
                new Thread(() -> { // not on the event loop: bind() waits for it
                    try {
                        bind();
                    } catch (IOException e) {
                        log.warn("cannot serve the handoff socket again: {}", e.toString());
                    }
                }, "handoff-rebind").start();
            }
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            log.warn("handoff connection failed: {}", cause.toString());
            ctx.close();
        }
    }

    /** Stops serving (the path is removed unless a new agent took it over). */
    @Override
    public void close() {
        closed = true;
        Channel s = server;
        if (s != null) {
            s.close().awaitUninterruptibly(2, TimeUnit.SECONDS);
        }
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).awaitUninterruptibly(3, TimeUnit.SECONDS);
    }
}
