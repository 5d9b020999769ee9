package dev.tessera.cli.install;

import static java.util.Objects.requireNonNull;

import dev.tessera.api.net.Ipv4Cidr;
import java.util.List;
import java.util.regex.Pattern;

/**
 * What {@code tessera install} changes in the shipped manifests. Every value is checked here, and a bad
 * one fails with the option's name and what was expected.
 *
 * @param namespace the mesh's namespace (controller, agents, CA)
 * @param trustDomain the SPIFFE trust domain
 * @param agentImage the node agent's image
 * @param controllerImage the controller's image
 * @param controllerReplicas controller replicas (one leader, the others serve agents)
 * @param meshCidrs the cluster's pod and service CIDRs (captured destinations); empty keeps the chart's
 *     defaults
 */
public record InstallOptions(String namespace, String trustDomain, String agentImage, String controllerImage,
        int controllerReplicas, List<String> meshCidrs) {

    public static final String DEFAULT_NAMESPACE = "tessera-system";
    public static final String DEFAULT_TRUST_DOMAIN = "cluster.local";
    public static final String DEFAULT_AGENT_IMAGE = "tessera/node-agent:0.1.0";
    public static final String DEFAULT_CONTROLLER_IMAGE = "tessera/controller:0.1.0";
    public static final int DEFAULT_CONTROLLER_REPLICAS = 2;

    private static final Pattern DNS_LABEL = Pattern.compile("[a-z0-9]([-a-z0-9]*[a-z0-9])?");
    private static final Pattern DNS_NAME = Pattern.compile("[a-z0-9]([-a-z0-9_]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9_]*[a-z0-9])?)*");
    /** A distribution reference: [host[:port]/]path[:tag][@digest], path components in lower case. */
    private static final Pattern IMAGE = Pattern.compile(
            "(?:[a-zA-Z0-9.-]+(?::[0-9]+)?/)?[a-z0-9]+(?:[._-]+[a-z0-9]+)*(?:/[a-z0-9]+(?:[._-]+[a-z0-9]+)*)*"
                    + "(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[a-f0-9]{64})?");

    public InstallOptions {
        requireNonNull(namespace, "namespace");
        requireNonNull(trustDomain, "trustDomain");
        requireNonNull(agentImage, "agentImage");
        requireNonNull(controllerImage, "controllerImage");
        meshCidrs = List.copyOf(requireNonNull(meshCidrs, "meshCidrs"));
        if (namespace.length() > 63 || !DNS_LABEL.matcher(namespace).matches()) {
            throw new IllegalArgumentException("--namespace: '" + namespace
                    + "' (expected: a Kubernetes namespace name, [a-z0-9-], at most 63 characters)");
        }
        if (trustDomain.length() > 253 || !DNS_NAME.matcher(trustDomain).matches()) {
            throw new IllegalArgumentException("--trust-domain: '" + trustDomain
                    + "' (expected: a lowercase DNS name such as cluster.local, [a-z0-9._-], at most 253 characters)");
        }
        checkImage("--agent-image", agentImage);
        checkImage("--controller-image", controllerImage);
        if (controllerReplicas < 1 || controllerReplicas > 9) {
            throw new IllegalArgumentException("--controller-replicas: " + controllerReplicas + " (expected: 1-9)");
        }
        for (String c : meshCidrs) {
            try {
                Ipv4Cidr.parse(c);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("--mesh-cidr: '" + c + "' (expected: an IPv4 CIDR a.b.c.d/n, n in 0-32,"
                        + " host bits zero)", e);
            }
        }
    }

    /** The options of a plain {@code kubectl apply -k daemonset/}. */
    public static InstallOptions defaults() {
        return new InstallOptions(DEFAULT_NAMESPACE, DEFAULT_TRUST_DOMAIN, DEFAULT_AGENT_IMAGE, DEFAULT_CONTROLLER_IMAGE,
                DEFAULT_CONTROLLER_REPLICAS, List.of());
    }

    private static void checkImage(String option, String image) {
        if (image.length() > 512 || !IMAGE.matcher(image).matches()) {
            throw new IllegalArgumentException(option + ": '" + image
                    + "' (expected: an image reference such as registry.example.com/tessera/node-agent:0.1.0)");
        }
    }
}
