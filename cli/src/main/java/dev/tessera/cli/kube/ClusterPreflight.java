package dev.tessera.cli.kube;

import dev.tessera.cli.install.InstallOptions;
import dev.tessera.cli.install.ManifestRenderer;
import dev.tessera.cli.observe.Check;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinition;
import io.fabric8.kubernetes.api.model.authorization.v1.ResourceAttributesBuilder;
import io.fabric8.kubernetes.api.model.authorization.v1.SelfSubjectAccessReview;
import io.fabric8.kubernetes.api.model.authorization.v1.SelfSubjectAccessReviewBuilder;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.VersionInfo;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * {@code tessera check --pre} against a cluster: can Tessera be installed there? The API server's version
 * against {@link Compatibility#MIN_KUBERNETES}, the CRDs (present, or creatable by this user), RBAC (a
 * SelfSubjectAccessReview for creating every kind {@code tessera install} creates, and for the pod proxy and
 * port-forward the other {@code --kube} commands use) and every Linux node's
 * kernel (Node {@code status.nodeInfo.kernelVersion}) against {@link Compatibility#MIN_KERNEL}.
 */
public final class ClusterPreflight {

    private static final String K = "kubernetes";
    private static final String C = "CRDs";
    private static final String R = "RBAC";
    private static final String N = "nodes";

    private final KubeCluster cluster;

    public ClusterPreflight(KubeCluster cluster) {
        this.cluster = cluster;
    }

    /** Every check; an unreachable API server is the only check then. */
    public List<Check> run() {
        List<Check> out = new ArrayList<>();
        Check version = version(cluster);
        out.add(version);
        if (version.status() == Check.Status.FAIL && version.name().equals("API server")) {
            return out;
        }
        List<HasMetadata> objects = installObjects(cluster.namespace());
        Map<String, Boolean> allowed = new LinkedHashMap<>();
        List<Check> rbac = new ArrayList<>();
        for (HasMetadata o : objects) {
            String key = key(o);
            if (allowed.containsKey(key)) {
                continue;
            }
            boolean ok = mayCreate(o);
            allowed.put(key, ok);
            String what = "create " + resource(o) + (namespaced(o) ? " in " + cluster.namespace() : "");
            rbac.add(ok ? Check.ok(R, what, "allowed")
                    : Check.fail(R, what, "denied for the current user",
                            "tessera install needs to create every kind it ships; use an account bound to cluster-admin, or"
                                    + " ask for create on " + resource(o)));
        }
        for (HasMetadata o : objects) {
            if (o instanceof CustomResourceDefinition crd) {
                out.add(crd(crd, allowed.getOrDefault(key(o), false)));
            }
        }
        out.addAll(rbac);
        out.addAll(operatorAccess());
        out.addAll(nodes());
        return out;
    }

    /** The API server answers, with a Kubernetes version at least the minimum. */
    static Check version(KubeCluster cluster) {
        VersionInfo v;
        try {
            v = cluster.client().getKubernetesVersion();
        } catch (KubernetesClientException e) {
            return Check.fail(K, "API server", cluster.describe() + ": " + KubeCluster.message(e),
                    "is the kubeconfig's context right (--context, --kubeconfig) and the API server reachable?");
        }
        int[] mm = Compatibility.majorMinor(v.getMajor(), v.getMinor());
        String shown = v.getGitVersion() != null ? v.getGitVersion() : v.getMajor() + "." + v.getMinor();
        String expected = "expected: >= " + Compatibility.show(Compatibility.MIN_KUBERNETES) + ", docs/compatibility.md";
        if (mm == null) {
            return Check.warn(K, "Kubernetes version", shown + " (unparsable; " + expected + ")",
                    "check the version by hand");
        }
        return Compatibility.atLeast(mm, Compatibility.MIN_KUBERNETES)
                ? Check.ok(K, "Kubernetes version", shown + " (" + expected + ")")
                : Check.fail(K, "Kubernetes version", shown + " (" + expected + ")",
                        "the agent's securityContext.appArmorProfile needs Kubernetes 1.30: upgrade the cluster");
    }

    private Check crd(CustomResourceDefinition crd, boolean creatable) {
        String name = crd.getMetadata().getName();
        CustomResourceDefinition have = cluster.client().apiextensions().v1().customResourceDefinitions().withName(name)
                .get();
        if (have != null) {
            return Check.ok(C, name, "installed");
        }
        return creatable ? Check.ok(C, name, "not installed yet; tessera install creates it")
                : Check.fail(C, name, "not installed, and the current user may not create CustomResourceDefinitions",
                        "ask a cluster admin to apply daemonset/crds/ first");
    }

    private List<Check> nodes() {
        List<Node> nodes = cluster.client().nodes().list().getItems();
        if (nodes.isEmpty()) {
            return List.of(Check.fail(N, "nodes", "none listed", "the agents need nodes to run on"));
        }
        List<Check> out = new ArrayList<>();
        for (Node n : nodes) {
            out.add(kernel(n));
        }
        return out;
    }

    /** One node's kernel against the minimum (non-Linux nodes get no agent: the DaemonSet selects Linux). */
    static Check kernel(Node n) {
        String name = "node " + n.getMetadata().getName();
        var info = n.getStatus() == null ? null : n.getStatus().getNodeInfo();
        if (info == null) {
            return Check.warn(N, name, "no status.nodeInfo", "the kubelet has not reported yet: re-run the check");
        }
        if (info.getOperatingSystem() != null && !"linux".equals(info.getOperatingSystem())) {
            return Check.ok(N, name, info.getOperatingSystem() + ": no agent (the DaemonSet selects kubernetes.io/os=linux)");
        }
        String kernel = info.getKernelVersion();
        int[] v = Compatibility.majorMinor(kernel);
        String expected = "expected: >= " + Compatibility.show(Compatibility.MIN_KERNEL) + ", docs/compatibility.md";
        if (v == null) {
            return Check.warn(N, name, "kernel '" + kernel + "' (unparsable; " + expected + ")", "check the kernel by hand");
        }
        return Compatibility.atLeast(v, Compatibility.MIN_KERNEL)
                ? Check.ok(N, name, "kernel " + kernel + " (" + expected + ")")
                : Check.fail(N, name, "kernel " + kernel + " (" + expected + ")",
                        "the eBPF programs need " + dev.tessera.cli.observe.KernelRequirements.newest() + ": upgrade this"
                                + " node's kernel, or keep the agents off it (chart value nodeSelector)");
    }

    /**
     * What the other {@code --kube} commands need of this user in Tessera's namespace, beyond reading the
     * objects: {@code get pods/proxy} (the agents' and controllers' metrics through the API server's pod proxy)
     * and {@code create pods/portforward} (the agent's localhost-only admin API). Installing needs neither, so a
     * denial is a warning naming the commands that will fail.
     */
    private List<Check> operatorAccess() {
        List<Check> out = new ArrayList<>();
        out.add(access("get", "proxy", "tessera check, stat, proxy-status and version",
                "read the agents' and controllers' metrics through the API server's pod proxy"));
        out.add(access("create", "portforward", "tessera config NODE", "reads the agent's admin API through a port-forward"));
        return out;
    }

    private Check access(String verb, String subresource, String commands, String why) {
        String ns = cluster.namespace();
        String what = verb + " pods/" + subresource + " in " + ns;
        var attributes = new ResourceAttributesBuilder().withVerb(verb).withGroup("").withResource("pods")
                .withSubresource(subresource).withNamespace(ns).build();
        return allowed(attributes) ? Check.ok(R, what, "allowed (" + commands + ")")
                : Check.warn(R, what, "denied for the current user: " + commands + " will fail",
                        commands + " " + why + "; ask for " + verb + " on pods/" + subresource + " in namespace " + ns
                                + " (a Role bound to this user)");
    }

    private boolean mayCreate(HasMetadata o) {
        var attributes = new ResourceAttributesBuilder().withVerb("create").withGroup(o.getApiVersion().contains("/")
                ? o.getApiVersion().substring(0, o.getApiVersion().indexOf('/')) : "").withResource(o.getPlural());
        if (namespaced(o)) {
            attributes.withNamespace(cluster.namespace());
        }
        return allowed(attributes.build());
    }

    private boolean allowed(io.fabric8.kubernetes.api.model.authorization.v1.ResourceAttributes attributes) {
        SelfSubjectAccessReview review = new SelfSubjectAccessReviewBuilder().withNewSpec()
                .withResourceAttributes(attributes).endSpec().build();
        var answer = cluster.client().authorization().v1().selfSubjectAccessReview().create(review);
        return answer.getStatus() != null && Boolean.TRUE.equals(answer.getStatus().getAllowed());
    }

    /** What {@code tessera install} creates in {@code namespace}. */
    static List<HasMetadata> installObjects(String namespace) {
        var d = InstallOptions.defaults();
        return ManifestRenderer.render(new InstallOptions(namespace, d.trustDomain(), d.agentImage(), d.controllerImage(),
                d.controllerReplicas(), d.meshCidrs()));
    }

    private static boolean namespaced(HasMetadata o) {
        return o.getMetadata().getNamespace() != null;
    }

    private static String resource(HasMetadata o) {
        String api = o.getApiVersion();
        return o.getPlural() + (api.contains("/") ? "." + api.substring(0, api.indexOf('/')) : "");
    }

    private static String key(HasMetadata o) {
        return resource(o) + (namespaced(o) ? "@ns" : "");
    }
}
