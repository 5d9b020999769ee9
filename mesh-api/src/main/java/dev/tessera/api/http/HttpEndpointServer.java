package dev.tessera.api.http;

import static java.util.Objects.requireNonNull;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.QueryStringDecoder;
import io.netty.util.concurrent.GlobalEventExecutor;
import io.netty.util.concurrent.ScheduledFuture;
import java.io.IOException;
import java.net.BindException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A small HTTP/1.1 server for probes, metrics and admin endpoints that no client can stall. Sockets are read
 * by a Netty event loop, so a slow or silent client holds only its own connection, never a thread; every
 * connection must deliver a complete request within the request deadline (from accept, and from the end of
 * the previous response on a kept-alive connection, the idle timeout), or it is closed; connections are
 * capped globally and per source address (a kept-alive connection idle between requests is closed to make
 * room, so only connections in the middle of a request count against a cap); request lines, headers and
 * bodies are bounded. Handlers run on
 * the executor the server is given or their route's own (never on the event loop), one request at a time
 * per connection; a full executor queue is answered 503.
 * What it refuses is counted ({@link #refused()}).
 *
 * <p>The JDK's {@code HttpServer} it replaces read request headers on its single worker thread: one client
 * that sent half a request stalled readiness probes and scrapes until it gave up.
 */
public final class HttpEndpointServer implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(HttpEndpointServer.class);

    /** A request as handlers see it. */
    public record Request(String method, String path, String rawQuery, Map<String, String> headers, byte[] body) {
        /** A header by lower-case name, or null. */
        public String header(String lowerCaseName) {
            return headers.get(lowerCaseName);
        }

        /** The body as UTF-8 text. */
        public String bodyText() {
            return new String(body, StandardCharsets.UTF_8);
        }
    }

    /** A response: status, content type and body. */
    public record Response(int status, String contentType, byte[] body) {
        public Response {
            requireNonNull(contentType, "contentType");
            requireNonNull(body, "body");
        }

        public static Response text(int status, String text) {
            return new Response(status, "text/plain; charset=utf-8", text.getBytes(StandardCharsets.UTF_8));
        }

        public static Response json(int status, String json) {
            return new Response(status, "application/json", json.getBytes(StandardCharsets.UTF_8));
        }
    }

    /** Answers one request (on the server's executor). */
    @FunctionalInterface
    public interface Handler {
        Response handle(Request request) throws Exception;
    }

    private record Route(String prefix, Handler handler, Executor executor) {}

    private final String name;
    private final Executor executor;
    private final Settings settings;
    private final List<Route> routes = new CopyOnWriteArrayList<>();
    private final ChannelGroup connections = new DefaultChannelGroup("http", GlobalEventExecutor.INSTANCE);
    private final AtomicInteger open = new AtomicInteger();
    private final Map<InetAddress, AtomicInteger> perSource = new ConcurrentHashMap<>();
    private final AtomicLong refused = new AtomicLong();
    /** Kept-alive connections waiting for their next request, and their source. */
    private final Map<Channel, InetAddress> idle = new ConcurrentHashMap<>();
    private final Channel server;

    /** Limits; {@link #DEFAULTS} suit probes, scrapes and an admin API. */
    public record Settings(Duration requestDeadline, Duration idleTimeout, int maxConnections,
            int maxConnectionsPerSource, int maxBodyBytes) {
        public Settings {
            requireNonNull(requestDeadline, "requestDeadline");
            requireNonNull(idleTimeout, "idleTimeout");
            if (maxConnections < 1 || maxConnectionsPerSource < 1 || maxBodyBytes < 0) {
                throw new IllegalArgumentException("connection caps: " + maxConnections + "/" + maxConnectionsPerSource
                        + ", body: " + maxBodyBytes + " (expected: caps >= 1, body >= 0)");
            }
        }

        public Settings withRequestDeadline(Duration d) {
            return new Settings(d, idleTimeout, maxConnections, maxConnectionsPerSource, maxBodyBytes);
        }

        public Settings withMaxConnections(int total, int perSource) {
            return new Settings(requestDeadline, idleTimeout, total, perSource, maxBodyBytes);
        }
    }

    /**
     * 5 s to deliver a request (a kubelet probe's whole budget is 1 s by default), 60 s idle on kept-alive
     * connections, 64 connections in all and 16 per source address, 64 KiB bodies.
     */
    public static final Settings DEFAULTS = new Settings(Duration.ofSeconds(5), Duration.ofSeconds(60), 64, 16, 64 * 1024);

    /**
     * Binds {@code address} at once (a busy port fails here) without accepting until {@link #start()}.
     *
     * @param name the endpoint's name in messages and logs, e.g. "readiness"
     * @param group the event loop(s) reading the sockets (may be shared by several servers)
     * @param executor where handlers run
     * @throws BindException naming the endpoint and the address when the port cannot be bound
     */
    public HttpEndpointServer(String name, InetSocketAddress address, EventLoopGroup group, Executor executor,
            Settings settings) throws IOException {
        this(name, address, group, NioServerSocketChannel.class, executor, settings);
    }

    /**
     * As {@link #HttpEndpointServer(String, InetSocketAddress, EventLoopGroup, Executor, Settings)}, with the
     * listening channel's class matching {@code group}'s transport (e.g. epoll's server channel for a group of
     * epoll event loops).
     */
    public HttpEndpointServer(String name, InetSocketAddress address, EventLoopGroup group,
            Class<? extends io.netty.channel.ServerChannel> channelClass, Executor executor, Settings settings)
            throws IOException {
        this.name = requireNonNull(name, "name");
        this.executor = requireNonNull(executor, "executor");
        this.settings = requireNonNull(settings, "settings");
        requireNonNull(address, "address");
        var b = new ServerBootstrap().group(requireNonNull(group, "group")).channel(requireNonNull(channelClass, "channelClass"))
                .option(ChannelOption.AUTO_READ, false) // bound now, accepting from start()
                .option(ChannelOption.SO_BACKLOG, 128)
                .childHandler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        if (!admit(ch)) {
                            ch.close();
                            return;
                        }
                        ch.pipeline().addLast("codec", new HttpServerCodec(4096, 8192, 8192))
                                .addLast("aggregate", new HttpObjectAggregator(settings.maxBodyBytes()))
                                .addLast("exchange", new Exchange());
                    }
                });
        var bound = b.bind(address).awaitUninterruptibly();
        if (!bound.isSuccess()) {
            var e = new BindException(name + " endpoint: cannot bind " + address + ": " + bound.cause().getMessage()
                    + " (is another process using the port?)");
            e.initCause(bound.cause());
            throw e;
        }
        server = bound.channel();
    }

    /**
     * Adds a route: requests whose path equals {@code prefix} or starts with it (then "/" or anything, as
     * the JDK's contexts match) go to {@code handler}; the longest matching prefix wins.
     */
    public HttpEndpointServer route(String prefix, Handler handler) {
        return route(prefix, handler, executor);
    }

    /** Like {@link #route(String, Handler)}, with the handler on its own executor (e.g. scrapes apart from probes). */
    public HttpEndpointServer route(String prefix, Handler handler, Executor executor) {
        requireNonNull(prefix, "prefix");
        requireNonNull(handler, "handler");
        requireNonNull(executor, "executor");
        routes.add(new Route(prefix, handler, executor));
        var sorted = new ArrayList<>(routes);
        sorted.sort(Comparator.comparingInt((Route r) -> r.prefix().length()).reversed());
        routes.clear();
        routes.addAll(sorted);
        return this;
    }

    /** Starts accepting. */
    public void start() {
        server.config().setAutoRead(true);
    }

    /** The bound address. */
    public InetSocketAddress address() {
        return (InetSocketAddress) server.localAddress();
    }

    /** Connections closed at once for a cap, or cut for missing their request deadline. */
    public long refused() {
        return refused.get();
    }

    /** Open client connections. */
    public int connections() {
        return open.get();
    }

    private boolean admit(Channel ch) {
        InetAddress source = ((InetSocketAddress) ch.remoteAddress()).getAddress();
        AtomicInteger fromSource = perSource.computeIfAbsent(source, k -> new AtomicInteger());
        int total = open.incrementAndGet();
        int mine = fromSource.incrementAndGet();
        // Over a cap, a kept-alive connection waiting between requests makes room (from the same source for
        // the per-source cap, from any for the global one): clients that open a new connection per request
        // and never close the old ones are served; only connections in the middle of a request count.
        if (mine > settings.maxConnectionsPerSource()) {
            mine -= evictIdle(source) ? 1 : 0;
        }
        if (total > settings.maxConnections()) {
            total -= evictIdle(null) ? 1 : 0;
        }
        if (total > settings.maxConnections() || mine > settings.maxConnectionsPerSource()) {
            refused.incrementAndGet();
            release(source, fromSource);
            log.debug("{} endpoint: connection from {} refused (cap {} in all, {} per source)", name, source,
                    settings.maxConnections(), settings.maxConnectionsPerSource());
            return false;
        }
        connections.add(ch);
        ch.closeFuture().addListener(f -> release(source, fromSource));
        return true;
    }

    /** Closes one connection idle between requests (from {@code source}, or any if null); false if none. */
    private boolean evictIdle(InetAddress source) {
        for (var e : idle.entrySet()) {
            if ((source == null || source.equals(e.getValue())) && idle.remove(e.getKey(), e.getValue())) {
                e.getKey().close();
                return true;
            }
        }
        return false;
    }

    private void release(InetAddress source, AtomicInteger fromSource) {
        open.decrementAndGet();
        if (fromSource.decrementAndGet() <= 0) {
            perSource.remove(source, fromSource);
        }
    }

    private Route routeFor(String path) {
        for (Route r : routes) {
            if (path.startsWith(r.prefix())) {
                return r;
            }
        }
        return null;
    }

    /** One connection: a deadline armed until each request is complete, handlers off the event loop. */
    private final class Exchange extends SimpleChannelInboundHandler<FullHttpRequest> {
        private ScheduledFuture<?> deadline;

        @Override
        public void handlerAdded(ChannelHandlerContext ctx) {
            arm(ctx, settings.requestDeadline(), "no complete request");
        }

        private void arm(ChannelHandlerContext ctx, Duration after, String why) {
            disarm();
            deadline = ctx.executor().schedule(() -> {
                refused.incrementAndGet();
                log.debug("{} endpoint: closing {}: {} within {} ms", name, ctx.channel().remoteAddress(), why,
                        after.toMillis());
                ctx.close();
            }, after.toMillis(), TimeUnit.MILLISECONDS);
        }

        private void disarm() {
            if (deadline != null) {
                deadline.cancel(false);
                deadline = null;
            }
        }

        @Override
        protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest msg) {
            disarm();
            idle.remove(ctx.channel());
            ctx.channel().config().setAutoRead(false); // one request at a time
            boolean keepAlive = HttpUtil.isKeepAlive(msg);
            if (!msg.decoderResult().isSuccess()) {
                respond(ctx, Response.text(400, "bad request\n"), false);
                return;
            }
            var decoder = new QueryStringDecoder(msg.uri());
            var headers = new java.util.HashMap<String, String>();
            msg.headers().forEach(h -> headers.putIfAbsent(h.getKey().toLowerCase(java.util.Locale.ROOT), h.getValue()));
            byte[] body = new byte[msg.content().readableBytes()];
            msg.content().readBytes(body);
            String rawQuery = msg.uri().indexOf('?') < 0 ? null : msg.uri().substring(msg.uri().indexOf('?') + 1);
            var request = new Request(msg.method().name(), decoder.path(), rawQuery, headers, body);
            Route route = routeFor(request.path());
            try {
                (route == null ? executor : route.executor()).execute(() -> {
                    Response r;
                    try {
                        r = route == null ? Response.text(404, "no such path\n") : route.handler().handle(request);
                    } catch (Exception | Error e) {
                        log.warn("{} endpoint: {} {} failed", name, request.method(), request.path(), e);
                        r = Response.text(500, "internal error: " + e + "\n");
                    }
                    Response answer = r;
                    ctx.executor().execute(() -> respond(ctx, answer, keepAlive));
                });
            } catch (RejectedExecutionException overloaded) {
                refused.incrementAndGet();
                respond(ctx, Response.text(503, "overloaded\n"), false);
            }
        }

        private void respond(ChannelHandlerContext ctx, Response r, boolean keepAlive) {
            if (!ctx.channel().isActive()) {
                return;
            }
            FullHttpResponse res = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.valueOf(r.status()),
                    Unpooled.wrappedBuffer(r.body()));
            res.headers().set(HttpHeaderNames.CONTENT_TYPE, r.contentType())
                    .setInt(HttpHeaderNames.CONTENT_LENGTH, r.body().length);
            if (keepAlive) {
                res.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.KEEP_ALIVE);
                ctx.writeAndFlush(res).addListener((ChannelFutureListener) f -> {
                    if (f.isSuccess()) {
                        arm(ctx, settings.idleTimeout(), "no next request");
                        idle.put(ctx.channel(), ((InetSocketAddress) ctx.channel().remoteAddress()).getAddress());
                        ctx.channel().config().setAutoRead(true);
                    } else {
                        ctx.close();
                    }
                });
            } else {
                res.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
                ctx.writeAndFlush(res).addListener(ChannelFutureListener.CLOSE);
            }
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) throws Exception {
            disarm();
            idle.remove(ctx.channel());
            super.channelInactive(ctx);
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            log.debug("{} endpoint: connection {} failed: {}", name, ctx.channel().remoteAddress(), cause.toString());
            ctx.close();
        }
    }

    /** Stops accepting and closes every connection. */
    @Override
    public void close() {
        server.close().awaitUninterruptibly(2, TimeUnit.SECONDS);
        connections.close().awaitUninterruptibly(2, TimeUnit.SECONDS);
    }
}
