package dev.tessera.controller.watch;

import static java.util.Objects.requireNonNull;

import dev.tessera.common.model.MeshSnapshot;
import dev.tessera.controller.model.KubernetesObjects;
import dev.tessera.controller.model.MeshModel;
import dev.tessera.controller.model.NodeState;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Namespace;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import io.fabric8.kubernetes.client.informers.cache.Cache;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Discovery: fabric8 informers on Namespaces, Pods and Nodes whose handlers only enqueue keys, and one
 * reconcile thread that reads the informer caches (never modifying a cached object), updates the
 * {@link MeshModel} and publishes an immutable {@link MeshSnapshot} whenever something changed.
 *
 * <p>A namespace change (e.g. the {@code tessera.dev/dataplane-mode} label added) re-evaluates every pod
 * of that namespace. A pod that is deleted, stops running or moves leaves its old node's state in the
 * same snapshot that shows it elsewhere.
 */
public final class MeshWatcher implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(MeshWatcher.class);

    private static final String NS = "ns:";
    private static final String POD = "pod:";
    private static final String NODE = "node:";
    private static final String SYNC = "sync:";

    private final KubernetesClient client;
    private final String trustDomain;
    private final long resyncMillis;
    private final KeyQueue queue = new KeyQueue();
    private final MeshModel model = new MeshModel();
    private final List<Consumer<MeshSnapshot>> listeners = new CopyOnWriteArrayList<>();
    private volatile MeshSnapshot current = MeshSnapshot.EMPTY;
    private volatile boolean running;
    private SharedIndexInformer<Namespace> namespaces;
    private SharedIndexInformer<Pod> pods;
    private SharedIndexInformer<Node> nodes;
    private Thread reconciler;

    /**
     * @param client the API client (it needs list/watch on namespaces, pods and nodes)
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

    /** Starts the informers (returning once their caches are filled) and the reconcile thread. */
    public synchronized void start() {
        if (running) {
            throw new IllegalStateException("already started");
        }
        running = true;
        // Namespaces first: pods are judged by their namespace's labels from its cache. Events that
        // arrive while the later informers sync just wait in the queue.
        try {
            namespaces = client.namespaces().inform(enqueue(NS), resyncMillis);
            nodes = client.nodes().inform(enqueue(NODE), resyncMillis);
            pods = client.pods().inAnyNamespace().inform(enqueue(POD), resyncMillis);
        } catch (RuntimeException e) {
            close(); // do not leak the informers that did start
            throw e;
        }
        queue.add(SYNC); // publish a first snapshot even for an empty cluster
        // Started last, so it sees the informer fields (Thread.start is a happens-before edge).
        reconciler = new Thread(this::reconcileLoop, "tessera-reconcile");
        reconciler.setDaemon(true);
        reconciler.start();
    }

    /** Adds a listener called on the reconcile thread with each new snapshot (keep it quick). */
    public void addListener(Consumer<MeshSnapshot> listener) {
        listeners.add(requireNonNull(listener, "listener"));
    }

    /** The latest snapshot ({@link MeshSnapshot#EMPTY} before the first reconcile). */
    public MeshSnapshot snapshot() {
        return current;
    }

    /** The latest state of one node. */
    public NodeState snapshotFor(String node) {
        return NodeState.of(current, requireNonNull(node, "node"));
    }

    private <T extends HasMetadata> ResourceEventHandler<T> enqueue(String prefix) {
        return new ResourceEventHandler<>() {
            @Override
            public void onAdd(T obj) {
                queue.add(prefix + Cache.metaNamespaceKeyFunc(obj));
            }

            @Override
            public void onUpdate(T oldObj, T newObj) {
                queue.add(prefix + Cache.metaNamespaceKeyFunc(newObj));
            }

            @Override
            public void onDelete(T obj, boolean deletedFinalStateUnknown) {
                queue.add(prefix + Cache.metaNamespaceKeyFunc(obj));
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
        return key.equals(SYNC);
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

    private void publish(MeshSnapshot snapshot) {
        current = snapshot;
        log.debug("published {}", snapshot);
        for (Consumer<MeshSnapshot> l : listeners) {
            try {
                l.accept(snapshot);
            } catch (RuntimeException e) {
                log.warn("snapshot listener failed: {}", e.toString());
            }
        }
    }

    /** Stops the informers and the reconcile thread. */
    @Override
    public synchronized void close() {
        running = false;
        for (SharedIndexInformer<?> i : new SharedIndexInformer<?>[] {pods, nodes, namespaces}) {
            if (i != null) {
                i.close();
            }
        }
        if (reconciler != null) {
            reconciler.interrupt();
            try {
                reconciler.join(5_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
