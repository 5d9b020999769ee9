package dev.tessera.controller.metrics;

import static java.util.Objects.requireNonNull;

import dev.tessera.api.http.HttpEndpointServer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.prometheus.metrics.expositionformats.PrometheusTextFormatWriter;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

/**
 * The controller's plain-HTTP port (15014): {@code /metrics} (Prometheus text format),
 * {@code /healthz/live} (the process serves) and {@code /healthz/ready} (200 once the first mesh state is
 * published and the CA is loaded, else 503) on {@link HttpEndpointServer}: a client holding half a request
 * stalls nobody (the kubelet's liveness probe keeps its answer) and is cut at the request deadline;
 * connections are capped. Nothing on the data path.
 */
public final class HealthServer implements AutoCloseable {

    private final EventLoopGroup io = new MultiThreadIoEventLoopGroup(1, (java.util.concurrent.ThreadFactory) r -> daemon(r, "tessera-http-15014-io"),
            NioIoHandler.newFactory());
    /** Probes answer on their own thread: a slow scrape never delays liveness or readiness. */
    private final ThreadPoolExecutor probes = bounded("tessera-http-15014-probes");
    private final ThreadPoolExecutor scrapes = bounded("tessera-http-15014-metrics");
    private final HttpEndpointServer server;

    /**
     * Binds at once (a busy port fails start-up).
     *
     * @param address where to listen
     * @param registry what {@code /metrics} exposes
     * @param ready the readiness check
     */
    public HealthServer(InetSocketAddress address, PrometheusRegistry registry, BooleanSupplier ready) throws IOException {
        requireNonNull(registry, "registry");
        requireNonNull(ready, "ready");
        try {
            server = new HttpEndpointServer("controller health", requireNonNull(address, "address"), io, probes,
                    HttpEndpointServer.DEFAULTS);
        } catch (IOException | RuntimeException e) {
            shutdownThreads();
            throw e;
        }
        PrometheusTextFormatWriter writer = PrometheusTextFormatWriter.create();
        server.route("/metrics", req -> get(req, () -> {
            var body = new ByteArrayOutputStream();
            writer.write(body, registry.scrape());
            return new HttpEndpointServer.Response(200, writer.getContentType(), body.toByteArray());
        }), scrapes);
        server.route("/healthz/live", req -> get(req, () -> HttpEndpointServer.Response.text(200, "live\n")));
        server.route("/healthz/ready", req -> get(req, () -> ready.getAsBoolean()
                ? HttpEndpointServer.Response.text(200, "ready\n")
                : HttpEndpointServer.Response.text(503, "not ready: waiting for the first mesh state and the CA\n")));
        server.route("/", req -> HttpEndpointServer.Response.text(404, "try /metrics, /healthz/live or /healthz/ready\n"));
        server.start();
    }

    /** The bound port. */
    public int port() {
        return server.address().getPort();
    }

    private interface Answer {
        HttpEndpointServer.Response get() throws IOException;
    }

    private static HttpEndpointServer.Response get(HttpEndpointServer.Request req, Answer answer) throws IOException {
        if (!"GET".equals(req.method()) && !"HEAD".equals(req.method())) {
            return HttpEndpointServer.Response.text(405, "method not allowed (expected: GET)\n");
        }
        return answer.get();
    }

    @Override
    public void close() {
        server.close();
        shutdownThreads();
    }

    private void shutdownThreads() {
        probes.shutdownNow();
        scrapes.shutdownNow();
        io.shutdownGracefully(0, 1, TimeUnit.SECONDS).awaitUninterruptibly(2, TimeUnit.SECONDS);
    }

    private static ThreadPoolExecutor bounded(String name) {
        return new ThreadPoolExecutor(1, 1, 0, TimeUnit.MILLISECONDS, new ArrayBlockingQueue<>(64), r -> daemon(r, name));
    }

    private static Thread daemon(Runnable r, String name) {
        Thread t = new Thread(r, name);
        t.setDaemon(true);
        return t;
    }
}
