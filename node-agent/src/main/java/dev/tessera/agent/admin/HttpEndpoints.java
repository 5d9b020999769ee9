package dev.tessera.agent.admin;

import static java.util.Objects.requireNonNull;

import dev.tessera.api.http.HttpEndpointServer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.ServerChannel;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.util.concurrent.DefaultThreadFactory;
import io.prometheus.metrics.expositionformats.OpenMetricsTextFormatWriter;
import io.prometheus.metrics.expositionformats.PrometheusTextFormatWriter;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The agent's HTTP endpoints, each on its own port as the brief fixes them: Prometheus metrics
 * ({@code :15020/metrics}, text or OpenMetrics by Accept header), readiness ({@code :15021/healthz/ready},
 * 200 or 503 with the unmet conditions) and the admin API, bound to localhost only ({@code :15000}).
 * All three bind in the constructor so a port clash fails start-up, and accept from {@link #start()}.
 * They run on {@link HttpEndpointServer}: one event-loop thread reads every socket, so a client that holds
 * half a request stalls nobody and is cut at the request deadline; connections are capped; readiness has
 * its own handler thread.
 */
public final class HttpEndpoints implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(HttpEndpoints.class);

    /**
     * One event loop of the data path's kind (epoll when available, on Netty's {@code FastThreadLocalThread}): the
     * JIT compiles Netty's channel, pipeline and buffer code for the data path's types; with NIO channels on a plain
     * thread here, every probe and scrape after start-up met code compiled for epoll only and sent it back to the
     * interpreter ({@code class_check} / {@code bimorphic} deoptimisations on the event loop's hottest methods,
     * issue 10).
     */
    private static final boolean EPOLL = Epoll.isAvailable();
    private static final Class<? extends ServerChannel> SERVER_CHANNEL = EPOLL
            ? EpollServerSocketChannel.class
            : NioServerSocketChannel.class;

    private final EventLoopGroup io = new MultiThreadIoEventLoopGroup(1,
            new DefaultThreadFactory("http-io", true),
            EPOLL ? EpollIoHandler.newFactory() : NioIoHandler.newFactory());
    /** Readiness answers on its own thread: a long scrape or admin dump never delays a probe. */
    private final ThreadPoolExecutor probes = bounded("http-ready");
    private final ThreadPoolExecutor serving = bounded("http-serve");
    private final HttpEndpointServer metrics;
    private final HttpEndpointServer ready;
    private final HttpEndpointServer admin;
    private volatile Runnable beforeScrape = () -> {};

    /** An admin route that sees the request: method, raw query string (may be null) and body. */
    @FunctionalInterface
    public interface AdminHandler {
        /** Returns the status and JSON body. */
        AdminResponse handle(String method, String query, String body);
    }

    /** An admin response: HTTP status and JSON body. */
    public record AdminResponse(int status, String json) {}

    /**
     * @param readiness returns the unmet readiness conditions; empty means ready
     * @param adminRoutes admin path (e.g. {@code /config_dump}) -> JSON body supplier
     */
    public HttpEndpoints(int metricsPort, int readyPort, int adminPort, PrometheusRegistry registry,
            Supplier<List<String>> readiness, Map<String, Supplier<String>> adminRoutes) throws IOException {
        requireNonNull(registry, "registry");
        requireNonNull(readiness, "readiness");
        requireNonNull(adminRoutes, "adminRoutes");
        var bound = new java.util.ArrayList<HttpEndpointServer>(3);
        try { // all or nothing: a port still held by the previous agent must not leave the others bound
            bound.add(new HttpEndpointServer("metrics", new InetSocketAddress(metricsPort), io,
                    SERVER_CHANNEL, serving, HttpEndpointServer.DEFAULTS));
            bound.add(new HttpEndpointServer("readiness", new InetSocketAddress(readyPort), io,
                    SERVER_CHANNEL, probes, HttpEndpointServer.DEFAULTS));
            bound.add(new HttpEndpointServer("admin", new InetSocketAddress(InetAddress.getLoopbackAddress(), adminPort),
                    io, SERVER_CHANNEL, serving, HttpEndpointServer.DEFAULTS));
        } catch (IOException | RuntimeException e) {
            bound.forEach(HttpEndpointServer::close);
            shutdownThreads();
            throw e;
        }
        metrics = bound.get(0);
        ready = bound.get(1);
        admin = bound.get(2);

        var text = PrometheusTextFormatWriter.create();
        var openMetrics = OpenMetricsTextFormatWriter.create();
        metrics.route("/metrics", req -> {
            var writer = openMetrics.accepts(req.header("accept")) ? openMetrics : text;
            var body = new ByteArrayOutputStream(8192);
            try {
                beforeScrape.run();
            } catch (RuntimeException e) {
                log.warn("metrics: pre-scrape flush failed", e);
            }
            writer.write(body, registry.scrape());
            return new HttpEndpointServer.Response(200, writer.getContentType(), body.toByteArray());
        });
        metrics.route("/", req -> HttpEndpointServer.Response.text(404, "try /metrics\n"));
        ready.route("/healthz/ready", req -> {
            List<String> unmet = readiness.get();
            if (unmet.isEmpty()) {
                // the pid tells two agents of one node apart during an upgrade (listener handoff)
                return HttpEndpointServer.Response.text(200, "ready pid=" + ProcessHandle.current().pid() + "\n");
            }
            return HttpEndpointServer.Response.text(503, "not ready: " + String.join("; ", unmet) + "\n");
        });
        ready.route("/", req -> HttpEndpointServer.Response.text(404, "try /healthz/ready\n"));
        for (var route : adminRoutes.entrySet()) {
            Supplier<String> body = route.getValue();
            admin.route(route.getKey(), req -> {
                try {
                    return HttpEndpointServer.Response.json(200, body.get());
                } catch (RuntimeException e) {
                    log.warn("admin {} failed", req.path(), e);
                    return HttpEndpointServer.Response.json(500, "{\"error\":\"" + e.toString().replace("\"", "'") + "\"}");
                }
            });
        }
        admin.route("/", req -> HttpEndpointServer.Response.text(404, "unknown admin path; try one of "
                + adminRoutes.keySet() + "\n"));
    }

    /** Runs {@code flush} before every scrape (e.g. to publish the bytes of open connections). */
    public void beforeScrape(Runnable flush) {
        beforeScrape = requireNonNull(flush, "flush");
    }

    /** Adds an admin route that handles any method (call before {@link #start()}). */
    public void adminRoute(String path, AdminHandler handler) {
        requireNonNull(handler, "handler");
        admin.route(path, req -> {
            AdminResponse r;
            try {
                r = handler.handle(req.method(), req.rawQuery(), req.bodyText());
            } catch (RuntimeException e) {
                log.warn("admin {} failed", req.path(), e);
                r = new AdminResponse(500, "{\"error\":\"" + e.toString().replace("\"", "'") + "\"}");
            }
            return HttpEndpointServer.Response.json(r.status(), r.json() + "\n");
        });
    }

    /** Connections the endpoints refused (caps) or cut (request deadline), all three together. */
    public long refused() {
        return metrics.refused() + ready.refused() + admin.refused();
    }

    public void start() {
        metrics.start();
        ready.start();
        admin.start();
    }

    @Override
    public void close() {
        admin.close();
        ready.close();
        metrics.close();
        shutdownThreads();
    }

    private void shutdownThreads() {
        probes.shutdownNow();
        serving.shutdownNow();
        io.shutdownGracefully(0, 1, TimeUnit.SECONDS).awaitUninterruptibly(2, TimeUnit.SECONDS);
    }

    /** One daemon thread with a bounded queue: overload is answered 503, never queued without bound. */
    private static ThreadPoolExecutor bounded(String name) {
        return new ThreadPoolExecutor(1, 1, 0, TimeUnit.MILLISECONDS, new ArrayBlockingQueue<>(64), daemon(name));
    }

    private static ThreadFactory daemon(String name) {
        return r -> {
            Thread t = new Thread(r, name);
            t.setDaemon(true);
            return t;
        };
    }
}
