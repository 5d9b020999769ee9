package dev.tessera.agent.admin;

import static java.util.Objects.requireNonNull;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpHandler;
import com.sun.net.httpserver.HttpServer;
import io.prometheus.metrics.expositionformats.OpenMetricsTextFormatWriter;
import io.prometheus.metrics.expositionformats.PrometheusTextFormatWriter;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.BindException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The agent's HTTP endpoints, each on its own port as the brief fixes them: Prometheus metrics
 * ({@code :15020/metrics}, text or OpenMetrics by Accept header), readiness ({@code :15021/healthz/ready},
 * 200 or 503 with the unmet conditions) and the admin API, bound to localhost only ({@code :15000}).
 * All three bind in {@link #start()} so a port clash fails start-up.
 */
public final class HttpEndpoints implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(HttpEndpoints.class);

    private final HttpServer metrics;
    private final HttpServer ready;
    private final HttpServer admin;
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
        metrics = bind(new InetSocketAddress(metricsPort), "metrics");
        HttpServer r = null;
        try { // all or nothing: a port still held by the previous agent must not leave the others bound
            r = bind(new InetSocketAddress(readyPort), "readiness");
            admin = bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), adminPort), "admin");
        } catch (IOException | RuntimeException e) {
            if (r != null) {
                r.stop(0);
            }
            metrics.stop(0);
            throw e;
        }
        ready = r;

        var text = PrometheusTextFormatWriter.create();
        var openMetrics = OpenMetricsTextFormatWriter.create();
        metrics.createContext("/metrics", ex -> {
            String accept = ex.getRequestHeaders().getFirst("Accept");
            var writer = openMetrics.accepts(accept) ? openMetrics : text;
            var body = new ByteArrayOutputStream(8192);
            try {
                beforeScrape.run();
            } catch (RuntimeException e) {
                log.warn("metrics: pre-scrape flush failed", e);
            }
            writer.write(body, registry.scrape());
            ex.getResponseHeaders().set("Content-Type", writer.getContentType());
            send(ex, 200, body.toByteArray());
        });
        ready.createContext("/healthz/ready", ex -> {
            List<String> unmet = readiness.get();
            if (unmet.isEmpty()) {
                // the pid tells two agents of one node apart during an upgrade (listener handoff)
                send(ex, 200, ("ready pid=" + ProcessHandle.current().pid() + "\n").getBytes(StandardCharsets.UTF_8));
            } else {
                send(ex, 503, ("not ready: " + String.join("; ", unmet) + "\n").getBytes(StandardCharsets.UTF_8));
            }
        });
        for (var route : adminRoutes.entrySet()) {
            admin.createContext(route.getKey(), json(route.getValue()));
        }
        admin.createContext("/", ex -> send(ex, 404, ("unknown admin path; try one of "
                + adminRoutes.keySet() + "\n").getBytes(StandardCharsets.UTF_8)));
    }

    /** Runs {@code flush} before every scrape (e.g. to publish the bytes of open connections). */
    public void beforeScrape(Runnable flush) {
        beforeScrape = requireNonNull(flush, "flush");
    }

    /** Adds an admin route that handles any method (call before {@link #start()}). */
    public void adminRoute(String path, AdminHandler handler) {
        requireNonNull(handler, "handler");
        admin.createContext(path, ex -> {
            AdminResponse r;
            try {
                String body = new String(ex.getRequestBody().readAllBytes(), StandardCharsets.UTF_8);
                r = handler.handle(ex.getRequestMethod(), ex.getRequestURI().getRawQuery(), body);
            } catch (RuntimeException e) {
                log.warn("admin {} failed", ex.getRequestURI(), e);
                r = new AdminResponse(500, "{\"error\":\"" + e.toString().replace("\"", "'") + "\"}");
            }
            ex.getResponseHeaders().set("Content-Type", "application/json");
            send(ex, r.status(), (r.json() + "\n").getBytes(StandardCharsets.UTF_8));
        });
    }

    private static HttpServer bind(InetSocketAddress address, String what) throws IOException {
        try {
            HttpServer s = HttpServer.create(address, 64);
            s.setExecutor(Executors.newSingleThreadExecutor(r -> {
                Thread t = new Thread(r, "http-" + what);
                t.setDaemon(true);
                return t;
            }));
            return s;
        } catch (BindException e) {
            throw new BindException(what + " endpoint: cannot bind " + address + ": " + e.getMessage()
                    + " (is another agent running on this node?)");
        }
    }

    private static HttpHandler json(Supplier<String> body) {
        return ex -> {
            try {
                ex.getResponseHeaders().set("Content-Type", "application/json");
                send(ex, 200, body.get().getBytes(StandardCharsets.UTF_8));
            } catch (RuntimeException e) {
                log.warn("admin {} failed", ex.getRequestURI(), e);
                send(ex, 500, ("{\"error\":\"" + e + "\"}").getBytes(StandardCharsets.UTF_8));
            }
        };
    }

    private static void send(HttpExchange ex, int status, byte[] body) throws IOException {
        try (ex) {
            ex.sendResponseHeaders(status, body.length == 0 ? -1 : body.length);
            try (OutputStream out = ex.getResponseBody()) {
                out.write(body);
            }
        }
    }

    public void start() {
        metrics.start();
        ready.start();
        admin.start();
    }

    @Override
    public void close() {
        admin.stop(0);
        ready.stop(0);
        metrics.stop(0);
    }
}
