package dev.tessera.controller;

import dev.tessera.api.push.MeshConfig;
import dev.tessera.controller.identity.IssuingCa;
import dev.tessera.controller.identity.StaticTokenAuthenticator;
import dev.tessera.controller.identity.SvidIssuer;
import dev.tessera.controller.push.PushServer;
import dev.tessera.controller.push.PushServerConfig;
import dev.tessera.controller.watch.MeshWatcher;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.NodeBuilder;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.ServiceBuilder;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointBuilder;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSliceBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import java.net.InetAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Benchmark, not a test (its name matches neither {@code *Test} nor {@code *IT}, so no build runs it): the
 * Kubernetes-mode path of one pod change at scale, from the API server's watch to the push server, in one JVM.
 * The fabric8 mock API server (CRUD mode) holds {@code KUBE_SCALE_NODES} Nodes (default 200) with
 * {@code KUBE_SCALE_PODS_PER_NODE} pods each (default 50: 10,000 pods), 250 namespaces and 4 Services with
 * EndpointSlices per namespace, shaped like {@code bench/scale.sh}'s cluster. Not 50,000 pods: the mock's CRUD
 * store finds an object by scanning all of them, so creating n pods costs O(n^2) (50,000 did not finish in 4
 * minutes), and every PATCH below pays one scan too. The controller's real {@link MeshWatcher} (informers, key queue,
 * reconcile, {@code MeshModel.snapshot()}) feeds a real {@link PushServer}; each change patches one pod's labels
 * through the API and times until the push server's hub has encoded that version (its listener runs before
 * this one). No agent is connected: the fan-out to agents is the local-mode run's "published -> every agent"
 * row. Run: {@code mvn -o -pl controller test -Dtest=KubeScaleBench -Dsurefire.failIfNoSpecifiedTests=false}.
 */
@EnableKubernetesMockClient(crud = true)
class KubeScaleBench {

    /** The mock server logs every request at INFO through java.util.logging: 50,000 lines slow the run down. */
    private static final java.util.logging.Logger MOCK_LOG = java.util.logging.Logger.getLogger("io.fabric8.mockwebserver");

    static {
        MOCK_LOG.setLevel(java.util.logging.Level.WARNING);
    }

    KubernetesMockServer server;
    KubernetesClient client;

    private static int env(String name, int fallback) {
        String v = System.getenv(name);
        return v == null || v.isBlank() ? fallback : Integer.parseInt(v.strip());
    }

    private static String node(int i) {
        return String.format(Locale.ROOT, "node-%04d", i);
    }

    private static String ip(int node, int offset) {
        int host = node * 64 + offset + 2; // a /26 per node in 198.18.0.0/16
        return "198.18." + (host >> 8) + "." + (host & 0xff);
    }

    @Test
    void onePodChangeFromTheWatchToThePushServer() throws Exception {
        int nodes = env("KUBE_SCALE_NODES", 200);
        int perNode = env("KUBE_SCALE_PODS_PER_NODE", 50);
        int changes = env("KUBE_SCALE_CHANGES", 50);
        int namespaces = 250;
        long t0 = System.nanoTime();
        ExecutorService pool = Executors.newFixedThreadPool(4);
        for (int i = 0; i < namespaces; i++) {
            var b = new NamespaceBuilder().withNewMetadata().withName("ns-" + i).endMetadata();
            if (i % 10 != 9) {
                b.editMetadata().addToLabels("tessera.dev/dataplane-mode", "ambient").endMetadata();
            }
            client.namespaces().resource(b.build()).create();
        }
        for (int i = 0; i < nodes; i++) {
            int n = i;
            pool.submit(() -> client.nodes().resource(new NodeBuilder().withNewMetadata().withName(node(n)).endMetadata()
                    .withNewSpec().withPodCIDR(ip(n, -2) + "/26").endSpec()
                    .withNewStatus().addNewAddress().withType("InternalIP")
                    .withAddress("198.19." + (128 + n / 250) + "." + (1 + n % 250)).endAddress().endStatus().build()).create());
        }
        var podsOfApp = new ConcurrentHashMap<String, List<String[]>>(); // ns/app -> [pod name, ip]
        var latch = new CountDownLatch(nodes);
        for (int i = 0; i < nodes; i++) {
            int n = i;
            pool.submit(() -> {
                try {
                    for (int k = 0; k < perNode; k++) {
                        int g = n * perNode + k;
                        String ns = "ns-" + g % namespaces;
                        int app = (g / namespaces) % 8;
                        String name = "app-" + app + "-" + node(n) + "-" + k;
                        client.pods().inNamespace(ns).resource(new PodBuilder().withNewMetadata().withName(name)
                                .withNamespace(ns).addToLabels("app", "app-" + app).addToLabels("version", "v1")
                                .addToLabels("pod-template-hash", Integer.toHexString(app * 0x9e3779b1)).endMetadata()
                                .withNewSpec().withNodeName(node(n)).withServiceAccountName("sa-app-" + app).endSpec()
                                .withNewStatus().withPhase("Running").withPodIP(ip(n, k)).endStatus().build()).create();
                        podsOfApp.computeIfAbsent(ns + "/app-" + (app % 4), x -> java.util.Collections.synchronizedList(
                                new ArrayList<>())).add(new String[] {name, ip(n, k)});
                    }
                } finally {
                    latch.countDown();
                }
            });
        }
        latch.await();
        int vip = 0;
        for (int i = 0; i < namespaces; i++) {
            for (int s = 0; s < 4; s++) {
                String ns = "ns-" + i;
                String name = "app-" + s;
                vip++;
                client.services().inNamespace(ns).resource(new ServiceBuilder().withNewMetadata().withName(name)
                        .withNamespace(ns).endMetadata().withNewSpec().withClusterIP("198.19." + (vip >> 8) + "." + (vip & 0xff))
                        .addNewPort().withName("http").withPort(80).withNewTargetPort(8080).endPort().endSpec().build())
                        .create();
                var slice = new EndpointSliceBuilder().withNewMetadata().withName(name + "-x").withNamespace(ns)
                        .addToLabels("kubernetes.io/service-name", name).endMetadata().withAddressType("IPv4")
                        .addNewPort().withName("http").withPort(8080).endPort();
                for (String[] p : podsOfApp.getOrDefault(ns + "/" + name, List.of())) {
                    slice.addToEndpoints(new EndpointBuilder().withAddresses(p[1]).withNewConditions().withReady(true)
                            .endConditions().withNewTargetRef().withKind("Pod").withName(p[0]).withNamespace(ns)
                            .endTargetRef().build());
                }
                client.discovery().v1().endpointSlices().inNamespace(ns).resource(slice.build()).create();
            }
        }
        pool.shutdown();
        log("created %d nodes, %d pods, %d services in the mock API server (%d ms)", nodes, nodes * perNode,
                namespaces * 4, ms(System.nanoTime() - t0));

        var watcher = new MeshWatcher(client, "cluster.local", 0);
        var seen = new ConcurrentHashMap<Long, Long>(); // version -> nanoTime the hub had encoded it
        var labels = new ConcurrentHashMap<String, Long>(); // "ns/pod=version" -> first version that holds it
        var ca = IssuingCa.generate("cluster.local");
        var tokens = StaticTokenAuthenticator.parse("t", List.of("token-of-node-0000-0123456789," + node(0)));
        var issuer = new SvidIssuer(ca, tokens, () -> watcher.current().mesh(), "cluster.local", Duration.ofHours(1));
        var config = PushServerConfig.defaults("cluster.local", "tessera-system")
                .withBind(InetAddress.getByName("127.0.0.1"), 0);
        long s0 = System.nanoTime();
        watcher.start();
        log("informers synced and first state published: %s (%d ms)", watcher.current().mesh(), ms(System.nanoTime() - s0));
        try (PushServer push = new PushServer(config, watcher, tokens, issuer, ca).start()) {
            watcher.addListener((MeshConfig c) -> seen.put(c.version(), System.nanoTime())); // after the push server's
            var random = new Random(42);
            long[] total = new long[changes];
            for (int k = 0; k < changes; k++) {
                Thread.sleep(100 + random.nextInt(300));
                int n = random.nextInt(nodes);
                int p = random.nextInt(perNode);
                int g = n * perNode + p;
                String ns = "ns-" + g % namespaces;
                String name = "app-" + (g / namespaces) % 8 + "-" + node(n) + "-" + p;
                String version = "v" + (2 + k);
                long before = watcher.current().version();
                long w0 = System.nanoTime();
                client.pods().inNamespace(ns).withName(name).edit(x -> new PodBuilder(x).editMetadata()
                        .addToLabels("version", version).endMetadata().build());
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
                Long at = null;
                while (at == null && System.nanoTime() < deadline) {
                    var w = watcher.current().mesh().workload(ns, name);
                    if (w.isPresent() && version.equals(w.get().labels().get("version"))) {
                        at = seen.get(watcher.current().version());
                        long v = watcher.current().version();
                        for (long x = before + 1; x <= v && at != null; x++) { // the first version holding it
                            var m = seen.get(x);
                            if (m != null && m < at) {
                                at = m;
                            }
                        }
                    }
                    if (at == null) {
                        Thread.sleep(1);
                    }
                }
                total[k] = at == null ? -1 : at - w0;
                log("change %d (%s/%s version=%s): encoded by the push server after %s ms", k, ns, name, version,
                        at == null ? "?" : ms(total[k]));
            }
            long[] sorted = total.clone();
            Arrays.sort(sorted);
            log("one pod change, API write -> MeshWatcher reconcile -> published -> push server's delta encoded:"
                    + " p50 %d ms, p99 %d ms, max %d ms (%d changes, %s)", ms(pct(sorted, 50)), ms(pct(sorted, 99)),
                    ms(sorted[sorted.length - 1]), changes, watcher.current().mesh());
        } finally {
            watcher.close();
        }
    }

    private static long pct(long[] sorted, int p) {
        int rank = (int) Math.ceil(p / 100.0 * sorted.length);
        return sorted[Math.max(0, rank - 1)];
    }

    private static long ms(long nanos) {
        return nanos / 1_000_000;
    }

    private static void log(String format, Object... args) {
        System.out.printf(Locale.ROOT, "[kube-scale] " + format + "%n", args);
    }
}
