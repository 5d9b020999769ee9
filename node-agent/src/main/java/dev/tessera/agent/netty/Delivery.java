package dev.tessera.agent.netty;

import static java.util.Objects.requireNonNull;

import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.EventLoop;
import io.netty.channel.epoll.EpollChannelOption;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * How the agent dials a local pod (same-node delivery, the HBONE server's upstream): from the client pod's
 * address, so the server's {@code getpeername()} sees its real client. The socket is {@code IP_TRANSPARENT},
 * bound to {@code (client pod IP, 0)}; between bind and connect its 4-tuple goes to the {@link Registry}
 * (the kernel's {@code tsp_deliveries}, so the ingress program knows the SYN as the agent's, not as
 * plaintext), and it leaves the registry when the connection closes. The pod's replies are addressed to the
 * client pod; the node's reply routing (a mark on packets of transparent sockets and a local route for it,
 * {@code redirect.ReplyRouting}) keeps them on this socket.
 *
 * <p>Falls back to dialling from the node address (counted in {@link #fallbacks()}) when no source is known,
 * source and target differ in family, the source is IPv6 without IPv6 reply routing, the channel is not epoll, the pod dials itself (hairpin), or the bind or the
 * registry fails; with no registry set every dial is from the node address. Such a node-address dial is bound to
 * the registry's {@link Registry#nodeAddress} and recorded too, so the kernel recognises it by its 4-tuple.
 */
public final class Delivery {

    /** The kernel's record of the agent's deliveries (implemented over the pinned map by the composition root). */
    public interface Registry {
        /** Records a delivery before its SYN leaves; false when it could not be recorded. */
        boolean add(InetSocketAddress local, InetSocketAddress remote);

        /** Forgets it (its connection closed). */
        void remove(InetSocketAddress local, InetSocketAddress remote);

        /**
         * The node's address: dials that cannot come from the client pod are bound to it and recorded as well,
         * so the kernel need not trust the node address (null: such dials are neither bound nor recorded).
         */
        default InetAddress nodeAddress() {
            return null;
        }

        /** The node's IPv6 address, for dials to IPv6 pods as {@link #nodeAddress()} is for IPv4 (null: none). */
        default InetAddress nodeAddress6() {
            return null;
        }

        /** Whether replies to IPv6 client pods come back to transparent sockets (IPv6 reply routing is in place). */
        default boolean transparent6() {
            return false;
        }

        /** The node address of {@code target}'s family, or null. */
        default InetAddress nodeAddressFor(InetAddress target) {
            return target instanceof Inet4Address ? nodeAddress() : nodeAddress6();
        }
    }

    private static final Logger log = LoggerFactory.getLogger(Delivery.class);

    private final Bootstrap dialer;
    /** {@link #dialer} with IP_TRANSPARENT, built once (null without epoll). */
    private final Bootstrap transparentDialer;
    private final boolean epoll;
    private final AtomicBoolean warned = new AtomicBoolean();
    private volatile Registry registry;
    private final AtomicLong transparent = new AtomicLong();
    private final AtomicLong fallbacks = new AtomicLong();

    /** Dials with {@link Listeners#dialer} on {@code loops}. */
    public Delivery(EventLoops loops, long connectTimeoutMillis) {
        this.dialer = Listeners.dialer(loops, connectTimeoutMillis);
        this.epoll = EpollSocketChannel.class.equals(loops.socketChannelClass());
        this.transparentDialer = epoll ? dialer.clone().option(EpollChannelOption.IP_TRANSPARENT, true) : null;
    }

    /** Turns transparent delivery on ({@code registry} non-null) or off (null: every dial from the node). */
    public void useRegistry(Registry registry) {
        this.registry = registry;
    }

    /**
     * Dials {@code target} on {@code loop} from {@code source} when possible, else from the node address.
     *
     * @param source the client pod's address, or null when none can be vouched for
     */
    public Future<Channel> dial(EventLoop loop, InetAddress source, InetSocketAddress target) {
        requireNonNull(loop, "loop");
        requireNonNull(target, "target");
        Promise<Channel> result = loop.newPromise();
        Registry r = registry;
        // A pod reaching itself (through a Service VIP) gets a SYN from its own address on eth0, which its kernel
        // drops as a martian source: that hairpin is dialled from the node, as before.
        if (r == null || source == null || !sameFamily(source, target.getAddress())
                || !(source instanceof Inet4Address || r.transparent6()) || !epoll || source.equals(target.getAddress())) {
            if (r != null) {
                fallbacks.incrementAndGet();
            }
            fromNode(loop, r, target, result);
            return result;
        }
        bindRecordConnect(transparentDialer, loop, r, source, target, result, why -> {
            if (warned.compareAndSet(false, true)) {
                log.warn("transparent delivery failed, dialling from the node address ({}); further failures"
                        + " only at DEBUG, counted in tessera_pod_dials_total{source=\"node\"}", why);
            } else {
                log.debug("transparent delivery failed: {}", why);
            }
            fallbacks.incrementAndGet();
            fromNode(loop, r, target, result);
        }, transparent::incrementAndGet);
        return result;
    }

    /** Dials {@code target} from the node address (passthrough: no pod to speak for). */
    public Future<Channel> dialFromNode(EventLoop loop, InetSocketAddress target) {
        Promise<Channel> result = loop.newPromise();
        plain(loop, target, result);
        return result;
    }

    /** From the node address, recorded in {@code r} when it names the node address (else unrecorded). */
    private void fromNode(EventLoop loop, Registry r, InetSocketAddress target, Promise<Channel> result) {
        InetAddress node = r == null ? null : r.nodeAddressFor(target.getAddress());
        if (node == null || !sameFamily(node, target.getAddress())) {
            plain(loop, target, result);
            return;
        }
        bindRecordConnect(dialer, loop, r, node, target, result, why -> {
            log.debug("node-address dial to {} not recorded: {}", target, why);
            plain(loop, target, result);
        }, () -> { });
    }

    private static boolean sameFamily(InetAddress a, InetAddress b) {
        return (a instanceof Inet4Address) == (b instanceof Inet4Address);
    }

    /**
     * Binds to {@code from} (any port), records the 4-tuple in {@code r} before the SYN leaves, forgets it when
     * the channel closes, and connects; when the bind or the record fails the channel is closed and
     * {@code unrecorded} gets the reason (it dials some other way).
     */
    private static void bindRecordConnect(Bootstrap template, EventLoop loop, Registry r, InetAddress from,
            InetSocketAddress target, Promise<Channel> result, Consumer<String> unrecorded, Runnable recorded) {
        template.clone(loop).bind(new InetSocketAddress(from, 0)).addListener((ChannelFutureListener) bound -> {
            Channel ch = bound.channel();
            InetSocketAddress local = bound.isSuccess() ? (InetSocketAddress) ch.localAddress() : null;
            if (local == null || !r.add(local, target)) {
                ch.close();
                unrecorded.accept(local == null ? "bind " + from.getHostAddress() + ": " + bound.cause()
                        : "the kernel did not record " + local + " -> " + target);
                return;
            }
            ch.closeFuture().addListener(f -> r.remove(local, target));
            recorded.run();
            ch.connect(target).addListener((ChannelFutureListener) f -> complete(f, result));
        });
    }

    private void plain(EventLoop loop, InetSocketAddress target, Promise<Channel> result) {
        dialer.clone(loop).connect(target).addListener((ChannelFutureListener) f -> complete(f, result));
    }

    private static void complete(ChannelFuture f, Promise<Channel> result) {
        if (f.isSuccess()) {
            if (!result.trySuccess(f.channel())) {
                f.channel().close();
            }
        } else {
            f.channel().close();
            result.tryFailure(f.cause());
        }
    }

    /** Dials made from the client pod's address. */
    public long transparent() {
        return transparent.get();
    }

    /** Dials that had a registry but went out from the node address (no usable source, bind or map failed). */
    public long fallbacks() {
        return fallbacks.get();
    }
}
