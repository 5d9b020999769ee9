package dev.tessera.controller.metrics;

import static java.util.Objects.requireNonNull;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.prometheus.metrics.expositionformats.PrometheusTextFormatWriter;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.Executors;
import java.util.function.BooleanSupplier;

/**
 * The controller's plain-HTTP port (15014): {@code /metrics} (Prometheus text format),
 * {@code /healthz/live} (the process serves) and {@code /healthz/ready} (200 once the first mesh state is
 * published and the CA is loaded, else 503). One small thread; nothing on the data path.
 */
public final class HealthServer implements AutoCloseable {

    private final HttpServer server;

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
        server = HttpServer.create(requireNonNull(address, "address"), 16);
        server.setExecutor(Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "tessera-http-15014");
            t.setDaemon(true);
            return t;
        }));
        PrometheusTextFormatWriter writer = PrometheusTextFormatWriter.create();
        server.createContext("/metrics", ex -> {
            var body = new ByteArrayOutputStream();
            writer.write(body, registry.scrape());
            respond(ex, 200, writer.getContentType(), body.toByteArray());
        });
        server.createContext("/healthz/live", ex -> respond(ex, 200, "text/plain", "live\n".getBytes(StandardCharsets.UTF_8)));
        server.createContext("/healthz/ready", ex -> {
            boolean ok = ready.getAsBoolean();
            respond(ex, ok ? 200 : 503, "text/plain",
                    (ok ? "ready\n" : "not ready: waiting for the first mesh state and the CA\n").getBytes(StandardCharsets.UTF_8));
        });
        server.start();
    }

    /** The bound port. */
    public int port() {
        return server.getAddress().getPort();
    }

    private static void respond(HttpExchange ex, int status, String type, byte[] body) throws IOException {
        try (ex) {
            if (!"GET".equals(ex.getRequestMethod()) && !"HEAD".equals(ex.getRequestMethod())) {
                ex.sendResponseHeaders(405, -1);
                return;
            }
            ex.getResponseHeaders().set("Content-Type", type);
            ex.sendResponseHeaders(status, body.length);
            try (OutputStream out = ex.getResponseBody()) {
                out.write(body);
            }
        }
    }

    @Override
    public void close() {
        server.stop(0);
        ((java.util.concurrent.ExecutorService) server.getExecutor()).shutdownNow();
    }
}
