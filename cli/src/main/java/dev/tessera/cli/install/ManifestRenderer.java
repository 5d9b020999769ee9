package dev.tessera.cli.install;

import static java.util.Objects.requireNonNull;

import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Namespace;
import io.fabric8.kubernetes.api.model.apps.DaemonSet;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.rbac.ClusterRoleBinding;
import io.fabric8.kubernetes.api.model.rbac.RoleBinding;
import io.fabric8.kubernetes.api.model.rbac.Subject;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import java.util.ArrayList;
import java.util.List;

/**
 * Applies {@link InstallOptions} to the shipped manifests by editing fabric8 model objects (never the
 * text): the namespace everywhere it appears (objects, binding subjects, the controller's
 * {@code --namespace}, the agents' {@code --controller} address), the trust domain in both programs' flags,
 * images, controller replicas and the agents' {@code --mesh-cidr}s. Each option does what the chart value
 * of the same meaning does ({@code ChartParityTest} renders both and compares them).
 */
public final class ManifestRenderer {

    /** Names the renderer edits; the manifests must contain them. */
    public static final String CONTROLLER = "tessera-controller";
    public static final String AGENT = "tessera-node-agent";

    private static final KubernetesSerialization SERIALIZATION = new KubernetesSerialization();

    private ManifestRenderer() {}

    /** The shipped manifests with {@code options} applied. */
    public static List<HasMetadata> render(InstallOptions options) {
        return render(Manifests.load(), options);
    }

    /** Copies of {@code objects} with {@code options} applied (the inputs are not changed). */
    public static List<HasMetadata> render(List<HasMetadata> objects, InstallOptions options) {
        requireNonNull(options, "options");
        String from = InstallOptions.DEFAULT_NAMESPACE;
        String ns = options.namespace();
        List<HasMetadata> out = new ArrayList<>();
        boolean sawController = false;
        boolean sawAgent = false;
        for (HasMetadata original : objects) {
            HasMetadata o = SERIALIZATION.clone(original);
            if (o instanceof Namespace && from.equals(o.getMetadata().getName())) {
                o.getMetadata().setName(ns);
            }
            if (from.equals(o.getMetadata().getNamespace())) {
                o.getMetadata().setNamespace(ns);
            }
            if (o instanceof ClusterRoleBinding b) {
                moveSubjects(b.getSubjects(), from, ns);
            } else if (o instanceof RoleBinding b) {
                moveSubjects(b.getSubjects(), from, ns);
            } else if (o instanceof Deployment d && CONTROLLER.equals(d.getMetadata().getName())) {
                sawController = true;
                d.getSpec().setReplicas(options.controllerReplicas());
                Container c = only(d.getSpec().getTemplate().getSpec().getContainers(), "Deployment " + CONTROLLER);
                c.setImage(options.controllerImage());
                setArg(c, "--namespace", ns);
                setArg(c, "--trust-domain", options.trustDomain());
            } else if (o instanceof DaemonSet ds && AGENT.equals(ds.getMetadata().getName())) {
                sawAgent = true;
                Container c = only(ds.getSpec().getTemplate().getSpec().getContainers(), "DaemonSet " + AGENT);
                c.setImage(options.agentImage());
                setArg(c, "--trust-domain", options.trustDomain());
                setArg(c, "--controller", CONTROLLER + "." + ns + ".svc:15012");
                if (!options.meshCidrs().isEmpty()) {
                    c.getArgs().removeIf(a -> a.startsWith("--mesh-cidr="));
                    options.meshCidrs().forEach(cidr -> c.getArgs().add("--mesh-cidr=" + cidr));
                }
            }
            out.add(o);
        }
        if (!sawController || !sawAgent) {
            throw new IllegalStateException("manifests: " + (sawController ? "" : "Deployment " + CONTROLLER + " ")
                    + (sawAgent ? "" : "DaemonSet " + AGENT + " ") + "missing (expected: daemonset/base)");
        }
        return out;
    }

    /** Replaces {@code flag=VALUE} in the container's args, or appends it. */
    static void setArg(Container c, String flag, String value) {
        List<String> args = c.getArgs();
        for (int i = 0; i < args.size(); i++) {
            if (args.get(i).startsWith(flag + "=")) {
                args.set(i, flag + "=" + value);
                return;
            }
        }
        args.add(flag + "=" + value);
    }

    private static Container only(List<Container> containers, String where) {
        if (containers.size() != 1) {
            throw new IllegalStateException(where + ": " + containers.size() + " containers (expected: 1)");
        }
        return containers.get(0);
    }

    private static void moveSubjects(List<Subject> subjects, String from, String to) {
        for (Subject s : subjects) {
            if (from.equals(s.getNamespace())) {
                s.setNamespace(to);
            }
        }
    }
}
