package dev.tessera.controller;

import dev.tessera.api.push.MeshConfig;
import dev.tessera.controller.identity.IssuingCa;
import dev.tessera.controller.identity.StaticTokenAuthenticator;
import dev.tessera.controller.identity.SvidIssuer;
import dev.tessera.controller.model.KubernetesObjects;
import dev.tessera.controller.model.MeshModel;
import dev.tessera.controller.push.PushServer;
import dev.tessera.controller.push.PushServerConfig;
import dev.tessera.controller.watch.MeshSource;
import dev.tessera.kube.discovery.ServiceTranslator;
import io.fabric8.kubernetes.api.model.NodeBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.ServiceBuilder;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointBuilder;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSliceBuilder;
import java.net.InetAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;

/**
 * Benchmark, not a test (no build runs it): Kubernetes mode's own work for one pod change at 50,000 pods, without
 * the API server. {@link KubeScaleBench} cannot reach 50,000 pods (the fabric8 mock's CRUD store scans every object
 * per request), so this one replays what the informers would deliver: the cluster's Pods, Nodes, Services and
 * EndpointSlices are built as fabric8 objects in memory (the shape of {@code bench/scale.sh}'s cluster: 1,000 nodes
 * x 50 pods, 250 namespaces, 4 Services with an EndpointSlice each per namespace) and go through the same steps as
 * {@code MeshWatcher}'s reconcile ({@code KubernetesObjects.workload}/{@code node}, {@code ServiceTranslator},
 * {@link MeshModel}). Each change is one pod's edited label arriving as a watch event would: from that moment to
 * the real {@link PushServer}'s hub having diffed and encoded the new version (reconcile, {@code MeshModel.snapshot()},
 * publish, the hub's delta), on this thread. Not included: the informer's decoding and queueing, the fan-out to
 * agents (the local-mode run measures that). Run: {@code mvn -o -pl controller -am test -Dtest=KubeReplayScaleBench
 * -Dsurefire.failIfNoSpecifiedTests=false} ({@code KUBE_REPLAY_NODES}, {@code KUBE_REPLAY_PODS_PER_NODE},
 * {@code KUBE_REPLAY_CHANGES}).
 */
class KubeReplayScaleBench {

    private static int env(String name, int fallback) {
        String v = System.getenv(name);
        return v == null || v.isBlank() ? fallback : Integer.parseInt(v.strip());
    }

    private static String node(int i) {
        return String.format(Locale.ROOT, "node-%04d", i);
    }

    private static String ip(int node, int offset) {
        int host = node * 64 + offset + 2;
        return "198.18." + (host >> 8) + "." + (host & 0xff);
    }

    /** The replayed source: publishes what the model holds, as {@code MeshWatcher.publish} does. */
    private static final class ReplaySource implements MeshSource {
        final List<Consumer<MeshConfig>> listeners = new CopyOnWriteArrayList<>();
        volatile MeshConfig current = MeshConfig.EMPTY;

        void publish(MeshConfig c) {
            current = c;
            listeners.forEach(l -> l.accept(c));
        }

        @Override
        public void start() {}

        @Override
        public MeshConfig current() {
            return current;
        }

        @Override
        public void addListener(Consumer<MeshConfig> listener) {
            listeners.add(listener);
        }

        @Override
        public void close() {}
    }

    @Test
    void onePodChangeFromTheWatchEventToThePushServer() throws Exception {
        int nodes = env("KUBE_REPLAY_NODES", 1000);
        int perNode = env("KUBE_REPLAY_PODS_PER_NODE", 50);
        int changes = env("KUBE_REPLAY_CHANGES", 200);
        int namespaces = 250;
        long t0 = System.nanoTime();
        var model = new MeshModel();
        Map<String, String> ambient = Map.of("tessera.dev/dataplane-mode", "ambient");
        for (int n = 0; n < nodes; n++) {
            var node = new NodeBuilder().withNewMetadata().withName(node(n)).endMetadata()
                    .withNewSpec().withPodCIDR(ip(n, -2) + "/26").endSpec()
                    .withNewStatus().addNewAddress().withType("InternalIP")
                    .withAddress("198.19." + (128 + n / 250) + "." + (1 + n % 250)).endAddress().endStatus().build();
            model.putNode(node(n), KubernetesObjects.node(node).orElse(null));
        }
        var pods = new HashMap<String, Pod>();
        var podsOfService = new HashMap<String, List<String[]>>();
        for (int n = 0; n < nodes; n++) {
            for (int k = 0; k < perNode; k++) {
                int g = n * perNode + k;
                int nsIndex = g % namespaces;
                String ns = "ns-" + nsIndex;
                int app = (g / namespaces) % 8;
                String name = "app-" + app + "-" + node(n) + "-" + k;
                Pod pod = new PodBuilder().withNewMetadata().withName(name).withNamespace(ns)
                        .addToLabels("app", "app-" + app).addToLabels("version", "v1")
                        .addToLabels("pod-template-hash", Integer.toHexString(app * 0x9e3779b1)).endMetadata()
                        .withNewSpec().withNodeName(node(n)).withServiceAccountName("sa-app-" + app).endSpec()
                        .withNewStatus().withPhase("Running").withPodIP(ip(n, k)).endStatus().build();
                pods.put(ns + "/" + name, pod);
                model.putWorkload(ns + "/" + name, KubernetesObjects.workload(pod, nsIndex % 10 != 9 ? ambient : null,
                        "cluster.local").orElse(null));
                podsOfService.computeIfAbsent(ns + "/app-" + (app % 4), x -> new ArrayList<>()).add(new String[] {name, ip(n, k)});
            }
        }
        int vip = 0;
        for (int i = 0; i < namespaces; i++) {
            for (int s = 0; s < 4; s++) {
                String ns = "ns-" + i;
                String name = "app-" + s;
                vip++;
                var svc = new ServiceBuilder().withNewMetadata().withName(name).withNamespace(ns).endMetadata()
                        .withNewSpec().withClusterIP("198.19." + (vip >> 8) + "." + (vip & 0xff))
                        .addNewPort().withName("http").withPort(80).withNewTargetPort(8080).endPort().endSpec().build();
                var slice = new EndpointSliceBuilder().withNewMetadata().withName(name + "-x").withNamespace(ns)
                        .addToLabels("kubernetes.io/service-name", name).endMetadata().withAddressType("IPv4")
                        .addNewPort().withName("http").withPort(8080).endPort();
                for (String[] p : podsOfService.getOrDefault(ns + "/" + name, List.of())) {
                    slice.addToEndpoints(new EndpointBuilder().withAddresses(p[1]).withNewConditions().withReady(true)
                            .endConditions().withNewTargetRef().withKind("Pod").withName(p[0]).withNamespace(ns)
                            .endTargetRef().build());
                }
                List<EndpointSlice> own = List.of(slice.build());
                var result = ServiceTranslator.translate(svc, ServiceTranslator.clusterIps(svc), own,
                        portName -> Optional.empty(), new ArrayList<>());
                model.putService(ns + "/" + name, result.orElse(null));
            }
        }
        var source = new ReplaySource();
        source.publish(model.snapshot());
        log("replayed %d nodes, %d pods, %d services into the model and published %s (%d ms)", nodes, nodes * perNode,
                namespaces * 4, source.current().mesh(), ms(System.nanoTime() - t0));

        var ca = IssuingCa.generate("cluster.local");
        var tokens = StaticTokenAuthenticator.parse("t", List.of("token-of-node-0000-0123456789," + node(0)));
        var issuer = new SvidIssuer(ca, tokens, () -> source.current().mesh(), "cluster.local", Duration.ofHours(1));
        var config = PushServerConfig.defaults("cluster.local", "tessera-system").withBind(InetAddress.getByName("127.0.0.1"), 0);
        try (PushServer push = new PushServer(config, source, tokens, issuer, ca).start()) {
            var random = new Random(42);
            var keys = new ArrayList<>(pods.keySet());
            keys.sort(null);
            long[] total = new long[changes];
            for (int k = 0; k < changes; k++) {
                Thread.sleep(20 + random.nextInt(80));
                String key = keys.get(random.nextInt(keys.size()));
                Pod edited = new PodBuilder(pods.get(key)).editMetadata().addToLabels("version", "v" + (2 + k)).endMetadata()
                        .build();
                pods.put(key, edited);
                String ns = edited.getMetadata().getNamespace();
                int nsIndex = Integer.parseInt(ns.substring(3));
                long w0 = System.nanoTime(); // the watch event is here
                boolean changed = model.putWorkload(key, KubernetesObjects.workload(edited,
                        nsIndex % 10 != 9 ? ambient : null, "cluster.local").orElse(null));
                if (changed) {
                    source.publish(model.snapshot()); // the push server's listener: the hub diffs and encodes
                }
                total[k] = System.nanoTime() - w0;
                if (push.version() != source.current().version()) {
                    throw new AssertionError("the push server did not take version " + source.current().version());
                }
            }
            int warmUp = Math.min(20, changes / 4); // interpreted code and first compilations: left out of the figures
            long[] sorted = Arrays.copyOfRange(total, warmUp, changes);
            Arrays.sort(sorted);
            log("one pod change, watch event -> reconcile -> MeshModel.snapshot() -> push server's delta encoded: p50 %.1f ms,"
                    + " p99 %.1f ms, max %.1f ms (%d changes after %d of warm-up, %s)", pct(sorted, 50) / 1e6,
                    pct(sorted, 99) / 1e6, sorted[sorted.length - 1] / 1e6, sorted.length, warmUp, source.current().mesh());
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
        System.out.printf(Locale.ROOT, "[kube-replay] " + format + "%n", args);
    }
}
