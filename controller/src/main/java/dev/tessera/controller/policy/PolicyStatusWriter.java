package dev.tessera.controller.policy;

import static java.util.Objects.requireNonNull;

import dev.tessera.api.policy.Translation;
import dev.tessera.controller.kube.PolicyResources;
import dev.tessera.kube.policy.PolicyTranslator;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.BooleanSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Writes each policy's {@code .status} on the leader: {@code observedGeneration} and one condition
 * {@code Accepted} ({@code True}, reason {@code Accepted}; or {@code False}, reason {@code Invalid}, the
 * translation errors as message). It works on its own thread from the latest policy objects it was given
 * (never modifying them: it writes copies through the status subresource) and writes only what differs,
 * so its own status updates, which come back as watch events, settle at once.
 */
public final class PolicyStatusWriter implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(PolicyStatusWriter.class);

    /** The condition type. */
    public static final String ACCEPTED = "Accepted";

    private final KubernetesClient client;
    private final BooleanSupplier isLeader;
    private final ExecutorService executor;
    private final AtomicBoolean pending = new AtomicBoolean();
    private volatile List<GenericKubernetesResource> latest = List.of();
    private volatile int invalid;

    public PolicyStatusWriter(KubernetesClient client, BooleanSupplier isLeader) {
        this.client = requireNonNull(client, "client");
        this.isLeader = requireNonNull(isLeader, "isLeader");
        this.executor = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "tessera-policy-status");
            t.setDaemon(true);
            return t;
        });
    }

    /** Takes the current policy objects (read-only) and schedules a pass. */
    public void submit(List<GenericKubernetesResource> objects) {
        latest = List.copyOf(objects);
        schedule();
    }

    /** Schedules a pass over the last objects (e.g. after becoming the leader). */
    public void resync() {
        schedule();
    }

    /** How many of the last submitted policies are invalid. */
    public int invalidCount() {
        return invalid;
    }

    private void schedule() {
        if (pending.compareAndSet(false, true)) {
            executor.execute(() -> {
                pending.set(false);
                pass(latest);
            });
        }
    }

    private void pass(List<GenericKubernetesResource> objects) {
        int bad = 0;
        for (GenericKubernetesResource o : objects) {
            Translation<?> t = translate(o);
            if (!t.valid()) {
                bad++;
            }
            if (!isLeader.getAsBoolean()) {
                continue; // counted, not written
            }
            try {
                write(o, t);
            } catch (KubernetesClientException e) {
                // 409/404: the object changed or went away; its watch event brings a new pass.
                if (e.getCode() != 409 && e.getCode() != 404) {
                    log.warn("status of {} {}: {}", o.getKind(), t.key(), e.getMessage());
                }
            }
        }
        invalid = bad;
    }

    static Translation<?> translate(GenericKubernetesResource o) {
        return "PeerAuthentication".equals(o.getKind()) ? PolicyTranslator.peerAuthentication(o)
                : PolicyTranslator.authorizationPolicy(o);
    }

    private void write(GenericKubernetesResource o, Translation<?> t) {
        Object existing = o.getAdditionalProperties().get("status");
        Map<String, Object> desired = status(t, o.getMetadata().getGeneration(), existing);
        if (desired.equals(existing)) {
            return;
        }
        GenericKubernetesResource copy = client.getKubernetesSerialization().clone(o);
        copy.getAdditionalProperties().put("status", desired);
        client.genericKubernetesResources(PolicyResources.forKind(o.getKind()))
                .inNamespace(o.getMetadata().getNamespace()).resource(copy).updateStatus();
        log.info("{} {}: Accepted={}{}", o.getKind(), t.key(), t.valid(), t.valid() ? "" : " " + t.errors());
    }

    /**
     * The status for a translation; keeps the existing condition's {@code lastTransitionTime} while its
     * {@code status} stays the same.
     */
    static Map<String, Object> status(Translation<?> t, Long generation, Object existing) {
        String status = t.valid() ? "True" : "False";
        String time = Instant.now().truncatedTo(ChronoUnit.SECONDS).toString();
        Object previous = condition(existing);
        if (previous instanceof Map<?, ?> p && status.equals(p.get("status")) && p.get("lastTransitionTime") != null) {
            time = p.get("lastTransitionTime").toString();
        }
        var c = new LinkedHashMap<String, Object>();
        c.put("type", ACCEPTED);
        c.put("status", status);
        c.put("reason", t.valid() ? "Accepted" : "Invalid");
        c.put("message", t.valid() ? "valid; distributed to the agents"
                : String.join("; ", t.errors()) + " (enforced fail-closed on the workloads it selects)");
        if (generation != null) {
            c.put("observedGeneration", generation);
        }
        c.put("lastTransitionTime", time);
        var s = new LinkedHashMap<String, Object>();
        if (generation != null) {
            s.put("observedGeneration", generation);
        }
        s.put("conditions", List.of(c));
        return normalize(s);
    }

    private static Object condition(Object status) {
        if (status instanceof Map<?, ?> m && m.get("conditions") instanceof List<?> l) {
            return l.stream().filter(c -> c instanceof Map<?, ?> cm && ACCEPTED.equals(cm.get("type"))).findFirst()
                    .orElse(null);
        }
        return null;
    }

    /** Numbers as JSON parsing gives them back (int when small), so a re-read status compares equal. */
    private static Map<String, Object> normalize(Map<String, Object> m) {
        var out = new LinkedHashMap<String, Object>();
        m.forEach((k, v) -> out.put(k, v instanceof Long l && l == l.intValue() ? (Object) l.intValue()
                : v instanceof Map<?, ?> mm ? normalize(cast(mm))
                : v instanceof List<?> list ? list.stream().map(e -> e instanceof Map<?, ?> em ? normalize(cast(em)) : e).toList()
                : v));
        return out;
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> cast(Map<?, ?> m) {
        return (Map<String, Object>) m;
    }

    @Override
    public void close() {
        executor.shutdownNow();
    }
}
