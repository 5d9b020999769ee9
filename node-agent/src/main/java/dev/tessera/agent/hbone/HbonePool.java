package dev.tessera.agent.hbone;

import static java.util.Objects.requireNonNull;

import dev.tessera.agent.connection.CloseReason;
import dev.tessera.agent.connection.ConnectionListener;
import dev.tessera.agent.netty.EventLoops;
import dev.tessera.agent.tls.TlsContexts;
import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.handler.codec.http2.Http2StreamChannelBootstrap;
import io.netty.handler.ssl.SslContext;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The HBONE client: a pool of TLS + HTTP/2 connections, one per {@link PoolKey} (source identity,
 * destination identity, destination node) and event loop while it has stream capacity, and CONNECT
 * streams opened on them. A new application connection costs one HTTP/2 stream, not a handshake. A
 * connection that closes, receives GOAWAY or is full of streams is skipped and a new one is opened.
 *
 * <p>Loop affinity: a stream is opened on a connection owned by the caller's event loop (the application
 * connection's), so the application socket, its stream, the TLS connection and every buffer between them
 * are handled by one thread: no task hand-off, wake-up or cross-thread buffer release per read. The cost
 * is one TLS connection per key and worker thread (the agent runs at most a few) instead of one per key.
 */
public final class HbonePool implements AutoCloseable {

    /** How long a tunnel TCP connect, and the CONNECT answer, may take. */
    public static final int CONNECT_TIMEOUT_MILLIS = 5_000;

    private final TlsContexts tls;
    private final ConnectionListener listener;
    private final Bootstrap bootstrap;
    private final Map<PoolKey, List<TunnelConnection>> pool = new HashMap<>();
    private boolean closed;

    public HbonePool(TlsContexts tls, EventLoops loops, ConnectionListener listener) {
        this(tls, loops, listener, null);
    }

    /**
     * A pool whose tunnels leave from {@code localAddress} (the node's address, any port): the peer agent
     * accepts a client's source hint only for pods of the node the tunnel comes from.
     */
    public HbonePool(TlsContexts tls, EventLoops loops, ConnectionListener listener, java.net.InetAddress localAddress) {
        this.tls = requireNonNull(tls, "tls");
        this.listener = requireNonNull(listener, "listener");
        this.bootstrap = new Bootstrap()
                .group(requireNonNull(loops, "loops").worker())
                .channel(loops.socketChannelClass())
                .option(ChannelOption.TCP_NODELAY, true)
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, CONNECT_TIMEOUT_MILLIS)
                .option(ChannelOption.WRITE_BUFFER_WATER_MARK, dev.tessera.agent.netty.Listeners.WATER_MARK)
                .option(ChannelOption.RCVBUF_ALLOCATOR, dev.tessera.agent.netty.Listeners.READS);
        if (localAddress != null) {
            bootstrap.localAddress(new InetSocketAddress(localAddress, 0));
        }
    }

    /**
     * Opens a CONNECT stream to {@code target} through the pooled connection for {@code key}.
     *
     * @param source the source pod's address, sent for the server's logs (may be null)
     * @param caller the event loop the returned future notifies on (the application connection's)
     * @return the stream once the server answered 200 (AUTO_READ off, nothing read yet), or a failure with
     *     a {@link TunnelException}
     */
    public Future<Http2StreamChannel> connect(PoolKey key, InetSocketAddress target, InetSocketAddress source,
            EventLoop caller) {
        return connect(key, target, source, caller, null);
    }

    /**
     * Opens a CONNECT stream to {@code target} and sends {@code early}, what the client sent so far, with the
     * CONNECT, and what it adds to {@code early} while the answer is on its way right behind (early data: the
     * server holds it until its policy check passed and the pod is connected, and a refusal still fails the
     * returned future). {@code early} stays the caller's: release it once the future completed (a retry on
     * another connection sends it again). Call from {@code caller}, the event loop {@code early} is confined to.
     */
    public Future<Http2StreamChannel> connect(PoolKey key, InetSocketAddress target, InetSocketAddress source,
            EventLoop caller, EarlyData early) {
        requireNonNull(key, "key");
        requireNonNull(target, "target");
        Promise<Http2StreamChannel> result = caller.newPromise();
        // A stream the server never processed (its agent was draining: GOAWAY, or the connection closed under
        // it) is retried once on another connection; anything the server answered is final.
        attempt(key, target, source, caller, early).addListener(f -> {
            if (f.isSuccess()) {
                complete(result, (Http2StreamChannel) f.getNow());
            } else if (f.cause() instanceof TunnelException te && te.unprocessed()) {
                attempt(key, target, source, caller, early).addListener(g -> {
                    if (g.isSuccess()) {
                        complete(result, (Http2StreamChannel) g.getNow());
                    } else {
                        result.tryFailure(g.cause());
                    }
                });
            } else {
                result.tryFailure(f.cause());
            }
        });
        return result;
    }

    private static void complete(Promise<Http2StreamChannel> result, Http2StreamChannel stream) {
        if (!result.trySuccess(stream)) {
            stream.close(); // the caller gave up meanwhile
        }
    }

    private Future<Http2StreamChannel> attempt(PoolKey key, InetSocketAddress target, InetSocketAddress source,
            EventLoop caller, EarlyData early) {
        Promise<Http2StreamChannel> result = caller.newPromise();
        TunnelConnection conn;
        try {
            conn = acquire(key, caller);
        } catch (TunnelException e) {
            return result.setFailure(e);
        }
        conn.ready().addListener(f -> {
            if (!f.isSuccess()) {
                conn.release();
                result.tryFailure(f.cause());
                return;
            }
            new Http2StreamChannelBootstrap((Channel) f.getNow())
                    .option(ChannelOption.AUTO_READ, false)
                    .handler(new ConnectRequest(target, source, early, result, CONNECT_TIMEOUT_MILLIS))
                    .open()
                    .addListener(s -> {
                        if (s.isSuccess()) {
                            ((Channel) s.getNow()).closeFuture().addListener(c -> conn.release());
                        } else {
                            conn.release();
                            conn.retire();
                            // never created, so never processed (e.g. the connection had just received GOAWAY)
                            result.tryFailure(TunnelException.unprocessed("cannot open a stream to " + key.node()
                                    + ": " + s.cause()));
                        }
                    });
        });
        // A connection that will not process our streams is not used again (before the retry picks one).
        result.addListener(f -> {
            if (!f.isSuccess() && f.cause() instanceof TunnelException te && te.unprocessed()) {
                conn.retire();
            }
        });
        return result;
    }

    private TunnelConnection acquire(PoolKey key, EventLoop caller) throws TunnelException {
        TunnelConnection fresh;
        SslContext ctx;
        synchronized (this) {
            if (closed) {
                throw new TunnelException(CloseReason.SHUTDOWN, "the HBONE client pool is closed");
            }
            List<TunnelConnection> list = pool.computeIfAbsent(key, k -> new ArrayList<>(1));
            ctx = tls.client(key.source()).orElseThrow(() -> new TunnelException(CloseReason.NO_CERTIFICATE,
                    "this node holds no certificate for " + key.source()));
            for (TunnelConnection c : list) {
                if (c.tls() != ctx) {
                    // made with an older certificate or trust bundle (a renewal, a root rotation): its open
                    // streams continue, new ones go over a connection that presents the current certificate
                    c.retire();
                } else if (c.loop() == caller && c.tryReserve()) {
                    return c;
                }
            }
            fresh = new TunnelConnection(key, caller, ctx);
            fresh.tryReserve();
            list.add(fresh);
        }
        fresh.connect(bootstrap, ctx, listener, () -> remove(fresh));
        return fresh;
    }

    private synchronized void remove(TunnelConnection c) {
        List<TunnelConnection> list = pool.get(c.key());
        if (list != null && list.remove(c) && list.isEmpty()) {
            pool.remove(c.key());
        }
    }

    /** Pooled connections (connecting or established). */
    public synchronized int connections() {
        return pool.values().stream().mapToInt(List::size).sum();
    }

    /** Streams currently open or being opened over pooled connections. */
    public synchronized int streams() {
        return pool.values().stream().flatMap(List::stream).mapToInt(TunnelConnection::streams).sum();
    }

    /** Closes every pooled connection (their streams are reset) and refuses new streams. */
    @Override
    public void close() {
        List<TunnelConnection> all;
        synchronized (this) {
            closed = true;
            all = pool.values().stream().flatMap(List::stream).toList();
        }
        all.forEach(TunnelConnection::close);
    }
}
