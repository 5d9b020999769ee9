package dev.tessera.controller.local;

import static java.util.Objects.requireNonNull;

import dev.tessera.api.model.MeshSnapshot;
import dev.tessera.api.netns.NetworkAttachments;
import dev.tessera.api.policy.PolicySet;
import dev.tessera.api.policy.Translation;
import dev.tessera.api.push.MeshConfig;
import dev.tessera.api.push.MeshDelta;
import dev.tessera.controller.watch.MeshSource;
import dev.tessera.localcluster.ClusterDescription;
import dev.tessera.localcluster.LocalClusterWatcher;
import dev.tessera.localcluster.LocalSnapshots;
import dev.tessera.localcluster.NetnsNaming;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Local mode's {@link MeshSource}: the mesh of a folder (or file) of Kubernetes manifests, watched for
 * changes with {@link LocalClusterWatcher}, converted by {@link LocalSnapshots} (the same conversion the
 * agent's own local mode uses) and the policies translated by {@link PolicySet}.
 *
 * <p>Pod IPs come from the cluster's {@code network.json} ({@link NetworkAttachments}, written by
 * {@code tessera local up}; re-read when it changes) or, without one, from the addressing plan of
 * {@code tessera local up} ({@link ClusterDescription#plan}: {@code status.podIP} or the next free address
 * of the node's pod CIDR, kept across edits). A change is published as a new version only when the
 * content changed. There is no API server, so an invalid policy is reported in the log (once per
 * change) instead of its {@code .status}; it still travels with its errors.
 */
public final class LocalMeshSource implements MeshSource {

    private static final Logger log = LoggerFactory.getLogger(LocalMeshSource.class);

    /** The cluster name used for the addressing plan when no network file is given. */
    public static final String PLAN_CLUSTER = "local";

    private final Path manifests;
    private final Path networkFile;
    private final String trustDomain;
    private final Duration poll;
    private final List<Consumer<MeshConfig>> listeners = new CopyOnWriteArrayList<>();
    private final LocalClusterWatcher watcher;
    private final ScheduledExecutorService networkPoll;
    private volatile MeshConfig current = MeshConfig.EMPTY;
    private ClusterDescription cluster;
    private NetworkAttachments plan;
    private FileTime networkStamp;
    private List<String> lastWarnings = List.of();
    private final LocalSnapshots.Memo memo = new LocalSnapshots.Memo();
    private List<Object> planInput; // what the last plan was made from (no network file)

    /**
     * @param manifests a manifest file or a folder of them
     * @param networkFile the cluster's {@code network.json}, or null to plan addresses from the manifests
     * @param trustDomain the trust domain of the workload identities
     * @param poll how often files are checked for changes
     */
    public LocalMeshSource(Path manifests, Path networkFile, String trustDomain, Duration poll) {
        this.manifests = requireNonNull(manifests, "manifests");
        this.networkFile = networkFile;
        this.trustDomain = requireNonNull(trustDomain, "trustDomain");
        this.poll = requireNonNull(poll, "poll");
        this.watcher = new LocalClusterWatcher(manifests, poll, this::onCluster);
        this.networkPoll = networkFile == null ? null : Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "tessera-network-watch");
            t.setDaemon(true);
            return t;
        });
    }

    /**
     * Loads the manifests (and network file) and publishes the first state.
     *
     * @throws IOException when a file cannot be read
     * @throws dev.tessera.localcluster.InvalidClusterException when the manifests are invalid
     */
    @Override
    public void start() throws IOException {
        if (networkFile != null) {
            networkStamp = Files.getLastModifiedTime(networkFile);
            NetworkAttachments.read(networkFile); // fail now, naming the file, when it is unreadable
        }
        watcher.start();
        if (networkPoll != null) {
            long ms = poll.toMillis();
            networkPoll.scheduleWithFixedDelay(this::checkNetwork, ms, ms, TimeUnit.MILLISECONDS);
        }
    }

    private synchronized void onCluster(ClusterDescription next) {
        cluster = next;
        rebuild();
    }

    private synchronized void checkNetwork() {
        try {
            FileTime t = Files.getLastModifiedTime(networkFile);
            if (!t.equals(networkStamp)) {
                networkStamp = t;
                rebuild();
            }
        } catch (IOException | RuntimeException e) {
            log.warn("{}: {}", networkFile, e.toString());
        }
    }

    private void rebuild() {
        NetworkAttachments network;
        try {
            network = networkFile != null ? NetworkAttachments.read(networkFile) : plan();
        } catch (IOException e) {
            log.error("{}: cannot be read, keeping the last state: {}", networkFile, e.getMessage());
            return;
        }
        long v = current.version() + 1;
        var conversion = LocalSnapshots.convert(cluster, network, trustDomain, v, memo);
        if (!conversion.warnings().equals(lastWarnings)) {
            conversion.warnings().forEach(w -> log.warn("{}", w));
            lastWarnings = conversion.warnings();
        }
        MeshSnapshot mesh = conversion.snapshot();
        MeshConfig next = new MeshConfig(v, mesh, dev.tessera.kube.policy.PolicyTranslator.translate(v, cluster.others()));
        // the same test as MeshContent equality, by key in one pass instead of two sorts of every object
        if (current.version() > 0 && MeshDelta.diff(current, next).isEmpty()) {
            return;
        }
        for (Translation<?> t : next.policies().rejected()) {
            log.warn("{} {} is invalid (enforced fail-closed): {}", t.kind(), t.key(), t.errors());
        }
        current = next;
        log.info("published version {}: {}", v, mesh);
        for (Consumer<MeshConfig> l : listeners) {
            try {
                l.accept(next);
            } catch (RuntimeException e) {
                log.warn("mesh listener failed: {}", e.toString());
            }
        }
    }

    /**
     * The addressing plan. A plan made from its own previous plan keeps every pod's address, so when no pod was
     * added, removed, moved or given another {@code status.podIP} and no node changed, the plan is the previous one:
     * most edits (labels, policies, services) skip planning 50,000 pods again.
     */
    private NetworkAttachments plan() {
        var input = new java.util.ArrayList<Object>(cluster.pods().size() * 4 + 1);
        input.add(cluster.nodeAddresses());
        for (var pod : cluster.pods()) {
            input.add(pod.getMetadata().getNamespace());
            input.add(pod.getMetadata().getName());
            input.add(pod.getSpec().getNodeName());
            input.add(pod.getStatus() == null ? null : pod.getStatus().getPodIP());
        }
        if (plan == null || !input.equals(planInput)) {
            plan = cluster.plan(PLAN_CLUSTER, NetnsNaming.STANDARD, plan);
            planInput = input;
        }
        return plan;
    }

    @Override
    public MeshConfig current() {
        return current;
    }

    @Override
    public void addListener(Consumer<MeshConfig> listener) {
        listeners.add(requireNonNull(listener, "listener"));
    }

    /** The error of the latest manifest change if it was rejected (the last good state stays), else null. */
    public String lastError() {
        return watcher.lastError();
    }

    @Override
    public void close() {
        watcher.close();
        if (networkPoll != null) {
            networkPoll.shutdownNow();
        }
    }
}
