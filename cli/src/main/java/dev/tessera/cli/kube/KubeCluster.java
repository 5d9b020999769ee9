package dev.tessera.cli.kube;

import static java.util.Objects.requireNonNull;

import dev.tessera.cli.install.InstallOptions;
import dev.tessera.cli.install.ManifestRenderer;
import dev.tessera.cli.observe.PromText;
import io.fabric8.kubernetes.api.model.NamedContext;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.http.HttpResponse;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * A Tessera installation in a real cluster, reached through a kubeconfig: the objects of its namespace,
 * and the agents' and controllers' HTTP ports through the API server's pod proxy
 * ({@code /api/v1/namespaces/NS/pods/POD:PORT/proxy/PATH}), which needs no route from this machine to the
 * pods, only RBAC {@code get} on {@code pods/proxy}.
 */
public final class KubeCluster implements AutoCloseable {

    /** Where {@code tessera install} and the chart put the controller and the agents. */
    public static final String DEFAULT_NAMESPACE = InstallOptions.DEFAULT_NAMESPACE;
    /** Label every Tessera object carries (chart {@code tessera.labels}). */
    static final String PART_OF = "app.kubernetes.io/part-of";
    static final String COMPONENT = "app.kubernetes.io/component";
    static final String CONTROLLER_COMPONENT = "controller";
    static final String AGENT_COMPONENT = "node-agent";
    /** The object names of the chart and of {@code tessera install}. */
    public static final String CONTROLLER = ManifestRenderer.CONTROLLER;
    public static final String AGENT = ManifestRenderer.AGENT;

    private final KubernetesClient client;
    private final String namespace;
    private final Duration timeout;
    private final String context;

    /**
     * @param client    the API client (closed with this)
     * @param namespace Tessera's namespace
     * @param timeout   per-request timeout of the pod-proxy requests
     * @param context   the kubeconfig context, for messages ({@code null}: not from a kubeconfig)
     */
    public KubeCluster(KubernetesClient client, String namespace, Duration timeout, String context) {
        this.client = requireNonNull(client, "client");
        this.namespace = requireNonNull(namespace, "namespace");
        this.timeout = requireNonNull(timeout, "timeout");
        this.context = context;
    }

    /**
     * Connects through a kubeconfig.
     *
     * @param kubeconfig the file; {@code null}: {@code $KUBECONFIG} or {@code ~/.kube/config}
     * @param context    the context; {@code null}: the file's current context
     * @param namespace  Tessera's namespace; {@code null}: {@link #DEFAULT_NAMESPACE} (not the context's
     *                   namespace: Tessera lives in its own)
     * @throws IllegalArgumentException when the file or the context does not exist
     */
    public static KubeCluster connect(Path kubeconfig, String context, String namespace, Duration timeout) {
        Config config;
        if (kubeconfig != null) {
            if (!Files.isReadable(kubeconfig)) {
                throw new IllegalArgumentException("kubeconfig: " + kubeconfig + " (expected: a readable kubeconfig file)");
            }
            config = Config.fromKubeconfig(context, kubeconfig.toFile());
        } else {
            config = Config.autoConfigure(context);
        }
        if (context != null) {
            NamedContext current = config.getCurrentContext();
            if (current == null || !context.equals(current.getName())) {
                throw new IllegalArgumentException("context: '" + context + "' (expected one of the kubeconfig's: "
                        + config.getContexts().stream().map(NamedContext::getName).toList() + ")");
            }
        }
        int ms = (int) Math.min(Integer.MAX_VALUE, timeout.toMillis());
        config.setRequestTimeout(ms);
        config.setConnectionTimeout(ms);
        config.setRequestRetryBackoffLimit(0); // a CLI answers now; the user re-runs it
        String name = config.getCurrentContext() == null ? null : config.getCurrentContext().getName();
        var client = new KubernetesClientBuilder().withConfig(config).build();
        return new KubeCluster(client, namespace == null ? DEFAULT_NAMESPACE : namespace, timeout, name);
    }

    public KubernetesClient client() {
        return client;
    }

    public String namespace() {
        return namespace;
    }

    /** {@code context CTX (https://api...)}, for messages and {@code tessera version}. */
    public String describe() {
        return (context == null ? "" : "context " + context + ", ") + client.getMasterUrl();
    }

    /** The controller's pods, by name. */
    public List<Pod> controllerPods() {
        return pods(CONTROLLER_COMPONENT);
    }

    /** The agents' pods, by node. */
    public List<Pod> agentPods() {
        return pods(AGENT_COMPONENT).stream()
                .sorted(Comparator.comparing((Pod p) -> String.valueOf(p.getSpec().getNodeName()))
                        .thenComparing(p -> p.getMetadata().getName()))
                .toList();
    }

    private List<Pod> pods(String component) {
        return client.pods().inNamespace(namespace).withLabel(PART_OF, "tessera").withLabel(COMPONENT, component)
                .list().getItems().stream().sorted(Comparator.comparing(p -> p.getMetadata().getName())).toList();
    }

    /** True when the pod's Ready condition is True. */
    public static boolean ready(Pod pod) {
        return pod.getStatus() != null && pod.getStatus().getConditions() != null
                && pod.getStatus().getConditions().stream()
                        .anyMatch(c -> "Ready".equals(c.getType()) && "True".equals(c.getStatus()));
    }

    /** Why a pod is not ready, from its Ready condition or phase. */
    public static String notReadyReason(Pod pod) {
        if (pod.getStatus() == null) {
            return "no status yet";
        }
        var ready = pod.getStatus().getConditions() == null ? null : pod.getStatus().getConditions().stream()
                .filter(c -> "Ready".equals(c.getType())).findFirst().orElse(null);
        String phase = pod.getStatus().getPhase() == null ? "unknown phase" : "phase " + pod.getStatus().getPhase();
        if (ready == null) {
            return phase + ", no Ready condition";
        }
        return phase + ", Ready=" + ready.getStatus() + (ready.getReason() == null ? "" : " (" + ready.getReason()
                + (ready.getMessage() == null ? "" : ": " + ready.getMessage()) + ")");
    }

    /** An answer through the pod proxy. */
    public record Response(int status, String body) {}

    /** {@code GET PATH} on the pod's {@code PORT}, through the API server's pod proxy. */
    public Response proxyGet(String pod, int port, String path) throws IOException {
        String url = client.getMasterUrl().toString().replaceAll("/+$", "") + proxyPath(namespace, pod, port, path);
        var http = client.getHttpClient();
        var request = http.newHttpRequestBuilder().uri(url).timeout(timeout.toMillis(), TimeUnit.MILLISECONDS).build();
        try {
            HttpResponse<String> r = http.sendAsync(request, String.class).get(timeout.toMillis() + 1000,
                    TimeUnit.MILLISECONDS);
            return new Response(r.code(), r.body() == null ? "" : r.body());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        } catch (ExecutionException e) {
            Throwable c = e.getCause() == null ? e : e.getCause();
            throw new IOException("GET " + proxyPath(namespace, pod, port, path) + ": " + c.getMessage(), c);
        } catch (TimeoutException e) {
            throw new IOException("GET " + proxyPath(namespace, pod, port, path) + ": no answer within " + timeout, e);
        }
    }

    /**
     * {@code GET PATH} on the pod's {@code PORT} on ITS localhost, through a port-forward (the agent's admin API
     * listens on 127.0.0.1 only, which the pod proxy, dialling the pod's IP, cannot reach). One HTTP/1.0
     * request; the answer is complete when the remote closes or its Content-Length has arrived.
     */
    public Response portForwardGet(String pod, int port, String path) throws IOException {
        byte[] request = ("GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1:" + port + "\r\nConnection: close\r\n\r\n")
                .getBytes(java.nio.charset.StandardCharsets.US_ASCII);
        var answer = new HttpAnswer();
        try (var forward = client.pods().inNamespace(namespace).withName(pod).portForward(port,
                java.nio.channels.Channels.newChannel(new java.io.ByteArrayInputStream(request)), answer)) {
            try {
                answer.complete.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted", e);
            } catch (ExecutionException | TimeoutException e) {
                throw new IOException("port-forward to " + namespace + "/" + pod + ":" + port + path + ": no complete answer"
                        + " within " + timeout + problems(forward), e);
            }
            byte[] raw = answer.bytes();
            if (raw.length == 0) {
                throw new IOException("port-forward to " + namespace + "/" + pod + ":" + port + ": connection closed without"
                        + " an answer" + problems(forward) + " (is the agent listening on 127.0.0.1:" + port + "?)");
            }
            var r = dev.tessera.cli.local.NodeHttp.parse(raw);
            return new Response(r.status(), r.body());
        }
    }

    private static String problems(io.fabric8.kubernetes.client.PortForward forward) {
        var all = new ArrayList<Throwable>(forward.getClientThrowables());
        all.addAll(forward.getServerThrowables());
        return all.isEmpty() ? "" : " (" + all.stream().map(t -> t.getMessage() == null ? t.toString() : t.getMessage()).distinct()
                .reduce((a, b) -> a + "; " + b).orElse("") + ")";
    }

    /** Collects the forwarded answer; complete on close or once the Content-Length has arrived. */
    private static final class HttpAnswer implements java.nio.channels.WritableByteChannel {
        final java.util.concurrent.CompletableFuture<Void> complete = new java.util.concurrent.CompletableFuture<>();
        private final java.io.ByteArrayOutputStream buffer = new java.io.ByteArrayOutputStream();
        private volatile boolean open = true;

        @Override
        public synchronized int write(java.nio.ByteBuffer src) {
            int n = src.remaining();
            byte[] b = new byte[n];
            src.get(b);
            buffer.write(b, 0, n);
            if (lengthReached()) {
                complete.complete(null);
            }
            return n;
        }

        synchronized byte[] bytes() {
            return buffer.toByteArray();
        }

        private boolean lengthReached() {
            String text = buffer.toString(java.nio.charset.StandardCharsets.ISO_8859_1);
            int end = text.indexOf("\r\n\r\n");
            if (end < 0) {
                return false;
            }
            var m = java.util.regex.Pattern.compile("(?im)^content-length:\\s*(\\d+)\\s*$").matcher(text.substring(0, end));
            return m.find() && buffer.size() - (end + 4) >= Long.parseLong(m.group(1));
        }

        @Override
        public boolean isOpen() {
            return open;
        }

        @Override
        public void close() {
            open = false;
            complete.complete(null);
        }
    }

    /** The API server's proxy path to a pod's port. */
    public static String proxyPath(String namespace, String pod, int port, String path) {
        return "/api/v1/namespaces/" + namespace + "/pods/" + pod + ":" + port + "/proxy"
                + (path.startsWith("/") ? path : "/" + path);
    }

    /**
     * The pod's Prometheus metrics on {@code port}, parsed.
     *
     * @throws IOException with the status, the path and the start of the body when it is not 200
     */
    public List<PromText.Sample> metrics(String pod, int port) throws IOException {
        Response r = proxyGet(pod, port, "/metrics");
        if (r.status() != 200) {
            String body = r.body().strip();
            throw new IOException("GET " + proxyPath(namespace, pod, port, "/metrics") + " answered HTTP " + r.status()
                    + (body.isEmpty() ? "" : ": " + (body.length() > 200 ? body.substring(0, 200) + "…" : body)));
        }
        return PromText.parse(r.body());
    }

    /** A {@link KubernetesClientException}'s message, short. */
    static String message(KubernetesClientException e) {
        return e.getCode() > 0 ? "HTTP " + e.getCode() + ": " + (e.getStatus() != null && e.getStatus().getMessage() != null
                ? e.getStatus().getMessage() : e.getMessage()) : String.valueOf(e.getMessage());
    }

    @Override
    public void close() {
        client.close();
    }
}
