package dev.tessera.controller.watch;

import static java.util.Objects.requireNonNull;

import dev.tessera.api.model.MeshSnapshot;
import dev.tessera.api.push.MeshConfig;
import dev.tessera.controller.kube.PolicyResources;
import dev.tessera.controller.model.KubernetesObjects;
import dev.tessera.controller.model.MeshModel;
import dev.tessera.controller.model.NodeState;
import dev.tessera.kube.discovery.ServiceTranslator;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Namespace;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import io.fabric8.kubernetes.client.informers.cache.Cache;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.function.LongConsumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Discovery, the Kubernetes {@link MeshSource}: fabric8 informers on Namespaces, Nodes, Pods, Services,
 * EndpointSlices ({@code discovery.k8s.io/v1}) and the policy CRDs whose handlers only enqueue keys, and
 * one reconcile thread that reads the informer caches (never modifying a cached object), updates the
 * {@link MeshModel} and publishes an immutable {@link MeshConfig} whenever something changed.
 *
 * <p>A namespace change (e.g. the {@code tessera.dev/dataplane-mode} label added) re-evaluates every pod
 * of that namespace. A pod that is deleted, stops running or moves leaves its old node's state in the
 * same snapshot that shows it elsewhere. An EndpointSlice event re-reconciles its Service (label
 * {@code kubernetes.io/service-name}); a policy event re-translates every policy (they are few), and
 * invalid policies travel with their errors.
 */
public final class MeshWatcher implements MeshSource {

    private static final Logger log = LoggerFactory.getLogger(MeshWatcher.class);

    private static final String NS = "ns:";
    private static final String POD = "pod:";
    private static final String NODE = "node:";
    private static final String SVC = "svc:";
    private static final String POLICY = "policy:";
    private static final String SYNC = "sync:";

    private final KubernetesClient client;
    private final String trustDomain;
    private final long resyncMillis;
    private final KeyQueue queue = new KeyQueue();
    private final MeshModel model = new MeshModel();
    private final List<Consumer<MeshConfig>> listeners = new CopyOnWriteArrayList<>();
    private final List<Consumer<List<GenericKubernetesResource>>> policyListeners = new CopyOnWriteArrayList<>();
    private volatile LongConsumer reconcileObserver = nanos -> { };
    private volatile MeshConfig current = MeshConfig.EMPTY;
    private volatile boolean running;
    private final List<SharedIndexInformer<?>> informers = new ArrayList<>();
    private SharedIndexInformer<Namespace> namespaces;
    private SharedIndexInformer<Pod> pods;
    private SharedIndexInformer<Node> nodes;
    private SharedIndexInformer<Service> services;
    private SharedIndexInformer<EndpointSlice> slices;
    private final List<SharedIndexInformer<GenericKubernetesResource>> policies = new ArrayList<>();
    private Thread reconciler;

    /**
     * @param client the API client (it needs list/watch on namespaces, pods, nodes, services,
     *     endpointslices and the policy CRDs; see {@code dev.tessera.controller.kube.ApiCalls})
     * @param trustDomain the trust domain of the workload identities
     * @param resyncMillis informer resync period (0 disables resync)
     */
    public MeshWatcher(KubernetesClient client, String trustDomain, long resyncMillis) {
        this.client = requireNonNull(client, "client");
        this.trustDomain = requireNonNull(trustDomain, "trustDomain");
        if (resyncMillis < 0) {
            throw new IllegalArgumentException("resyncMillis: " + resyncMillis + " (expected: >= 0)");
        }
        this.resyncMillis = resyncMillis;
    }

    /**
     * Starts the informers (returning once their caches are filled) and the reconcile thread, and waits
     * (up to 30 s) for the first state to be published.
     */
    @Override
    public synchronized void start() throws InterruptedException {
        if (running) {
            throw new IllegalStateException("already started");
        }
        running = true;
        // Namespaces first: pods are judged by their namespace's labels from its cache. Events that
        // arrive while the later informers sync just wait in the queue.
        try {
            namespaces = add(client.namespaces().inform(enqueue(o -> NS + key(o)), resyncMillis));
            nodes = add(client.nodes().inform(enqueue(o -> NODE + key(o)), resyncMillis));
            pods = add(client.pods().inAnyNamespace().inform(enqueue(o -> POD + key(o)), resyncMillis));
            services = add(client.services().inAnyNamespace().inform(enqueue(o -> SVC + key(o)), resyncMillis));
            slices = add(client.discovery().v1().endpointSlices().inAnyNamespace().inform(
                    enqueue(s -> ServiceTranslator.serviceOf(s)
                            .map(n -> SVC + s.getMetadata().getNamespace() + "/" + n).orElse(null)), resyncMillis));
            for (var kind : PolicyResources.ALL) {
                policies.add(add(client.genericKubernetesResources(kind).inAnyNamespace()
                        .inform(enqueue(o -> POLICY), resyncMillis)));
            }
        } catch (RuntimeException e) {
            close(); // do not leak the informers that did start
            throw e;
        }
        queue.add(SYNC); // publish a first state even for an empty cluster
        queue.add(POLICY);
        // Started last, so it sees the informer fields (Thread.start is a happens-before edge).
        reconciler = new Thread(this::reconcileLoop, "tessera-reconcile");
        reconciler.setDaemon(true);
        reconciler.start();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (current.version() == 0 && System.nanoTime() < deadline) {
            wait(20);
        }
    }

    private <T> SharedIndexInformer<T> add(SharedIndexInformer<T> informer) {
        informers.add(informer);
        return informer;
    }

    @Override
    public void addListener(Consumer<MeshConfig> listener) {
        listeners.add(requireNonNull(listener, "listener"));
    }

    /**
     * Adds a listener called on the reconcile thread after policy objects changed, with the cached
     * policy objects of both kinds (read-only: never modify them; keep it quick).
     */
    public void addPolicyListener(Consumer<List<GenericKubernetesResource>> listener) {
        policyListeners.add(requireNonNull(listener, "listener"));
    }

    /** Observes how long each reconcile batch took (nanoseconds), on the reconcile thread. */
    public void onReconcile(LongConsumer observer) {
        this.reconcileObserver = requireNonNull(observer, "observer");
    }

    @Override
    public MeshConfig current() {
        return current;
    }

    /** The latest mesh snapshot ({@link MeshSnapshot#EMPTY} before the first reconcile). */
    public MeshSnapshot snapshot() {
        return current.mesh();
    }

    /** The latest state of one node. */
    public NodeState snapshotFor(String node) {
        return NodeState.of(current.mesh(), requireNonNull(node, "node"));
    }

    private static String key(HasMetadata o) {
        return Cache.metaNamespaceKeyFunc(o);
    }

    private <T extends HasMetadata> ResourceEventHandler<T> enqueue(Function<T, String> keyOf) {
        return new ResourceEventHandler<>() {
            @Override
            public void onAdd(T obj) {
                offer(keyOf.apply(obj));
            }

            @Override
            public void onUpdate(T oldObj, T newObj) {
                offer(keyOf.apply(oldObj)); // e.g. a slice relabelled to another Service
                offer(keyOf.apply(newObj));
            }

            @Override
            public void onDelete(T obj, boolean deletedFinalStateUnknown) {
                offer(keyOf.apply(obj));
            }

            private void offer(String key) {
                if (key != null) {
                    queue.add(key);
                }
            }
        };
    }

    private void reconcileLoop() {
        while (running) {
            List<String> keys;
            try {
                keys = queue.takeAll(200, TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                return;
            }
            if (keys.isEmpty()) {
                continue;
            }
            long start = System.nanoTime();
            boolean changed = false;
            for (String key : keys) {
                try {
                    changed |= reconcile(key);
                } catch (RuntimeException e) {
                    log.warn("reconcile of {} failed: {}", key, e.toString());
                }
            }
            if (changed) {
                publish(model.snapshot());
            }
            reconcileObserver.accept(System.nanoTime() - start);
        }
    }

    private boolean reconcile(String key) {
        if (key.startsWith(POD)) {
            return reconcilePod(key.substring(POD.length()));
        }
        if (key.startsWith(NS)) {
            String ns = key.substring(NS.length());
            boolean changed = false;
            for (Pod pod : pods.getIndexer().byIndex(Cache.NAMESPACE_INDEX, ns)) {
                changed |= reconcilePod(Cache.metaNamespaceKeyFunc(pod));
            }
            return changed;
        }
        if (key.startsWith(NODE)) {
            String name = key.substring(NODE.length());
            Node node = nodes.getIndexer().getByKey(name);
            return model.putNode(name, node == null ? null : KubernetesObjects.node(node).orElse(null));
        }
        if (key.startsWith(SVC)) {
            return reconcileService(key.substring(SVC.length()));
        }
        if (key.equals(POLICY)) {
            List<GenericKubernetesResource> objects = new ArrayList<>();
            policies.forEach(i -> objects.addAll(i.getStore().list()));
            objects.sort(java.util.Comparator.comparing((GenericKubernetesResource o) -> o.getKind())
                    .thenComparing(MeshWatcher::key));
            boolean changed = model.setPolicies(objects);
            List<GenericKubernetesResource> view = List.copyOf(objects);
            for (var l : policyListeners) {
                try {
                    l.accept(view);
                } catch (RuntimeException e) {
                    log.warn("policy listener failed: {}", e.toString());
                }
            }
            return changed;
        }
        return key.equals(SYNC);
    }

    private boolean reconcileService(String svcKey) {
        Service svc = services.getIndexer().getByKey(svcKey);
        if (svc == null) {
            return model.putService(svcKey, null);
        }
        String ns = svc.getMetadata().getNamespace();
        String name = svc.getMetadata().getName();
        List<EndpointSlice> own = slices.getIndexer().byIndex(Cache.NAMESPACE_INDEX, ns).stream()
                .filter(s -> ServiceTranslator.serviceOf(s).map(name::equals).orElse(false))
                .sorted(java.util.Comparator.comparing(s -> s.getMetadata().getName()))
                .toList();
        var warnings = new ArrayList<String>();
        var result = ServiceTranslator.translate(svc, ServiceTranslator.clusterIps(svc), own,
                portName -> Optional.empty(), warnings);
        warnings.forEach(w -> log.warn("{}", w));
        return model.putService(svcKey, result.orElse(null));
    }

    private boolean reconcilePod(String podKey) {
        Pod pod = pods.getIndexer().getByKey(podKey);
        if (pod == null) {
            return model.putWorkload(podKey, null);
        }
        Namespace ns = namespaces.getIndexer().getByKey(pod.getMetadata().getNamespace());
        Map<String, String> nsLabels = ns == null ? null : ns.getMetadata().getLabels();
        return model.putWorkload(podKey, KubernetesObjects.workload(pod, nsLabels, trustDomain).orElse(null));
    }

    private void publish(MeshConfig config) {
        current = config;
        synchronized (this) {
            notifyAll();
        }
        log.debug("published {} with {} policies", config.mesh(), config.policies().all().size());
        for (Consumer<MeshConfig> l : listeners) {
            try {
                l.accept(config);
            } catch (RuntimeException e) {
                log.warn("mesh listener failed: {}", e.toString());
            }
        }
    }

    /** Stops the informers and the reconcile thread. */
    @Override
    public void close() {
        running = false;
        Thread r;
        synchronized (this) {
            for (SharedIndexInformer<?> i : informers) {
                i.close();
            }
            informers.clear();
            r = reconciler;
        }
        if (r != null) {
            r.interrupt();
            try {
                r.join(5_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
