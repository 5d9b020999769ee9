package dev.tessera.agent.handoff;

import static java.util.Objects.requireNonNull;

import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollChannelOption;
import io.netty.channel.epoll.EpollDomainSocketChannel;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.unix.DomainSocketAddress;
import io.netty.channel.unix.DomainSocketReadMode;
import io.netty.channel.unix.FileDescriptor;
import io.netty.channel.unix.Socket;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The new agent's side of a listener handoff: connects to the running agent's handoff socket, receives its
 * listening sockets (SCM_RIGHTS) and, once the caller has adopted them, acknowledges so the old agent stops
 * accepting on its copies. No socket file, nobody listening, or no epoll: {@link #request} returns null
 * and the caller binds as usual.
 */
public final class HandoffClient implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(HandoffClient.class);

    private final EventLoopGroup group;
    private final Channel channel;
    /** The received sockets by the address they are bound to, in the order they came. */
    private final Map<InetSocketAddress, Integer> fdsByAddress;

    /**
     * How long to wait, after the {@link HandoffServer#LISTENERS} sockets every agent sends, for more: an agent
     * with an IPv6 outbound listener ({@code --node-ip6}) sends it third, in the same flush, so it is normally
     * there already; an older agent sends two and the wait ends empty.
     */
    static final Duration EXTRA_WAIT = Duration.ofMillis(200);

    private HandoffClient(EventLoopGroup group, Channel channel, Map<InetSocketAddress, Integer> fdsByAddress) {
        this.group = group;
        this.channel = channel;
        this.fdsByAddress = fdsByAddress;
    }

    /**
     * Asks the agent serving {@code socket} for its {@link HandoffServer#LISTENERS} listening sockets.
     *
     * @return the received sockets, or null when no agent answered (bind as usual)
     * @throws IOException when an agent answered but the handoff broke half-way
     */
    public static HandoffClient request(Path socket, Duration timeout) throws IOException {
        requireNonNull(socket, "socket");
        if (!Files.exists(socket) || !Epoll.isAvailable()) {
            return null;
        }
        EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
        BlockingQueue<Object> received = new LinkedBlockingQueue<>();
        var f = new Bootstrap().group(group).channel(EpollDomainSocketChannel.class)
                .option(EpollChannelOption.DOMAIN_SOCKET_READ_MODE, DomainSocketReadMode.FILE_DESCRIPTORS)
                .handler(new ChannelInboundHandlerAdapter() {
                    @Override
                    public void channelRead(ChannelHandlerContext ctx, Object msg) {
                        received.add(msg);
                    }

                    @Override
                    public void channelInactive(ChannelHandlerContext ctx) {
                        received.add("closed");
                    }
                })
                .connect(new DomainSocketAddress(socket.toFile())).awaitUninterruptibly();
        if (!f.isSuccess()) { // a stale file of an agent that is gone
            log.info("no agent answers on the handoff socket {} ({}): binding the listeners", socket,
                    f.cause().getMessage());
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
            return null;
        }
        var fds = new LinkedHashMap<InetSocketAddress, Integer>();
        try {
            long deadline = System.nanoTime() + timeout.toNanos();
            while (fds.size() < HandoffServer.MAX_LISTENERS) {
                boolean extra = fds.size() >= HandoffServer.LISTENERS;
                long wait = extra ? EXTRA_WAIT.toNanos() : Math.max(0, deadline - System.nanoTime());
                Object m = received.poll(wait, TimeUnit.NANOSECONDS);
                if (extra && !(m instanceof FileDescriptor)) {
                    break; // no third socket (an agent without an IPv6 listener, or an older one)
                }
                if (!(m instanceof FileDescriptor fd)) {
                    throw new IOException("handoff from " + socket + ": expected " + HandoffServer.LISTENERS
                            + " listening sockets, got " + fds.size() + (m == null ? " before the timeout" : " then " + m));
                }
                InetSocketAddress local = localAddress(fd);
                if (local == null) {
                    fd.close();
                    throw new IOException("handoff from " + socket + ": received a descriptor that is not a socket");
                }
                Integer dup = fds.put(local, fd.intValue());
                if (dup != null) {
                    new FileDescriptor(dup).close();
                }
            }
        } catch (IOException | InterruptedException | RuntimeException e) {
            closeAll(fds);
            f.channel().close();
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
            if (e instanceof InterruptedException) {
                Thread.currentThread().interrupt();
            }
            throw e instanceof IOException io ? io : new IOException("handoff from " + socket + ": " + e, e);
        }
        log.info("received listening sockets {} from the running agent over {}", fds.keySet(), socket);
        return new HandoffClient(group, f.channel(), fds);
    }

    private static InetSocketAddress localAddress(FileDescriptor fd) {
        try {
            return new Socket(fd.intValue()).localAddress(); // getsockname; the wrapper is not closed
        } catch (RuntimeException e) {
            return null;
        }
    }

    /**
     * Takes the first received listening socket bound to {@code port}, whatever its address (the caller owns it
     * from now on and closes it, e.g. through the channel that wraps it), or -1 when none was received for that
     * port. With two sockets on one port (the IPv4 and IPv6 outbound listeners) take them by address.
     */
    public int take(int port) {
        for (InetSocketAddress a : fdsByAddress.keySet()) {
            if (a.getPort() == port) {
                return fdsByAddress.remove(a);
            }
        }
        return -1;
    }

    /** Takes the received listening socket bound to exactly {@code address}, or -1 when none was received. */
    public int take(InetSocketAddress address) {
        Integer fd = fdsByAddress.remove(requireNonNull(address, "address"));
        return fd == null ? -1 : fd;
    }

    /** The ports of the received sockets not taken yet. */
    public java.util.Set<Integer> ports() {
        var out = new java.util.HashSet<Integer>();
        fdsByAddress.keySet().forEach(a -> out.add(a.getPort()));
        return java.util.Set.copyOf(out);
    }

    /** The addresses of the received sockets not taken yet. */
    public java.util.Set<InetSocketAddress> addresses() {
        return java.util.Set.copyOf(fdsByAddress.keySet());
    }

    /** Tells the old agent the sockets are adopted: it stops accepting on its copies and releases its ports. */
    /** The running agent closed the handoff connection (it exited or crashed): there is nobody to acknowledge. */
    public boolean peerGone() {
        return !channel.isActive();
    }

    public void acknowledge() throws IOException {
        var w = channel.writeAndFlush(Unpooled.wrappedBuffer(new byte[] {HandoffServer.ACK})).awaitUninterruptibly();
        if (!w.isSuccess()) {
            throw new IOException("handoff: cannot acknowledge: " + w.cause().getMessage(), w.cause());
        }
    }

    /**
     * Closes the handoff connection and every received socket not {@link #take taken} (without an
     * acknowledgement the old agent keeps serving on its own copies).
     */
    @Override
    public void close() {
        closeAll(fdsByAddress);
        fdsByAddress.clear();
        channel.close().awaitUninterruptibly(1, TimeUnit.SECONDS);
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).awaitUninterruptibly(3, TimeUnit.SECONDS);
    }

    private static void closeAll(Map<InetSocketAddress, Integer> fds) {
        for (int fd : fds.values()) {
            try {
                new FileDescriptor(fd).close();
            } catch (IOException e) {
                log.debug("closing received fd {}: {}", fd, e.toString());
            }
        }
    }
}
