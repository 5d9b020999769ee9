package dev.tessera.kube.discovery;

import io.fabric8.kubernetes.api.model.OwnerReference;
import io.fabric8.kubernetes.api.model.Pod;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The workload a pod belongs to, named as Istio names it for telemetry ({@code source_workload},
 * {@code destination_workload}): the pod's controller from its owner references, one level up where the
 * controller is an implementation detail. Shared by the controller (informer caches) and local mode
 * (manifests), so both name the same pod the same way; reads the pod only.
 *
 * <p>Rules (istio {@code pkg/kube} {@code GetDeployMetaFromPod}):
 * <ul>
 *   <li>no owner reference with {@code controller: true}: the pod's own name, kind {@code Pod};
 *   <li>a ReplicaSet whose name ends with {@code -<pod-template-hash label>}: that name without the suffix,
 *       kind {@code Deployment} (a ReplicaSet of a Deployment; the Deployment itself is not read);
 *   <li>a ReplicaSet whose name ends with {@code -<rollouts-pod-template-hash label>}: kind {@code Rollout};
 *   <li>a Job whose name ends with {@code -} and 8 to 10 digits: the name without them, kind {@code CronJob}
 *       (the CronJob controller names its Jobs {@code <cronjob>-<scheduled time>});
 *   <li>any other controller (StatefulSet, DaemonSet, Job, ReplicaSet, ReplicationController, a custom
 *       kind): the controller's name and kind.
 * </ul>
 * Istio looks at owners only when the pod has {@code metadata.generateName}; pods created by a controller
 * always have one, and local-mode manifests need not spell it, so it is not required here.
 */
public final class WorkloadNames {

    /** Label a Deployment's ReplicaSets and pods carry with the pod template's hash. */
    public static final String POD_TEMPLATE_HASH = "pod-template-hash";
    /** The same hash on the ReplicaSets of an Argo Rollout. */
    public static final String ROLLOUTS_POD_TEMPLATE_HASH = "rollouts-pod-template-hash";

    private static final Pattern CRON_JOB = Pattern.compile("(.+)-\\d{8,10}");

    private WorkloadNames() {}

    /**
     * A workload's name and kind.
     *
     * @param name the workload's name (never empty)
     * @param kind {@code Pod}, {@code Deployment}, {@code StatefulSet}, {@code DaemonSet}, {@code Job},
     *     {@code CronJob}, {@code Rollout} or the controller's own kind
     */
    public record Owner(String name, String kind) {}

    /** The workload of {@code pod}. */
    public static Owner of(Pod pod) {
        var meta = pod.getMetadata();
        String podName = meta.getName();
        OwnerReference controller = null;
        if (meta.getOwnerReferences() != null) {
            for (OwnerReference ref : meta.getOwnerReferences()) {
                if (Boolean.TRUE.equals(ref.getController()) && ref.getName() != null && !ref.getName().isEmpty()
                        && ref.getKind() != null) {
                    controller = ref;
                    break;
                }
            }
        }
        if (controller == null) {
            return new Owner(podName, "Pod");
        }
        Map<String, String> labels = meta.getLabels() == null ? Map.of() : meta.getLabels();
        String name = controller.getName();
        String kind = controller.getKind();
        if ("ReplicaSet".equals(kind)) {
            String stripped = stripHash(name, labels.get(POD_TEMPLATE_HASH));
            if (stripped != null) {
                return new Owner(stripped, "Deployment");
            }
            stripped = stripHash(name, labels.get(ROLLOUTS_POD_TEMPLATE_HASH));
            if (stripped != null) {
                return new Owner(stripped, "Rollout");
            }
        } else if ("Job".equals(kind)) {
            Matcher m = CRON_JOB.matcher(name);
            if (m.matches()) {
                return new Owner(m.group(1), "CronJob");
            }
        }
        return new Owner(name, kind);
    }

    /** {@code name} without {@code -hash} at its end, or null when the hash is absent or not its suffix. */
    private static String stripHash(String name, String hash) {
        if (hash == null || hash.isEmpty() || !name.endsWith("-" + hash) || name.length() == hash.length() + 1) {
            return null;
        }
        return name.substring(0, name.length() - hash.length() - 1);
    }
}
