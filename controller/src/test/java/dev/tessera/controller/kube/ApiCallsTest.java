package dev.tessera.controller.kube;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.tessera.api.identity.CertificateAuthority;
import dev.tessera.api.identity.SpiffeId;
import dev.tessera.controller.KubernetesController;
import dev.tessera.controller.MockCluster;
import dev.tessera.controller.identity.FakeTokenReviews;
import dev.tessera.controller.identity.SvidRefusedException;
import dev.tessera.controller.kube.ApiCalls.ApiCall;
import dev.tessera.controller.kube.ApiCalls.Scope;
import dev.tessera.controller.leader.Leadership;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.rbac.ClusterRole;
import io.fabric8.kubernetes.api.model.rbac.ClusterRoleBinding;
import io.fabric8.kubernetes.api.model.rbac.PolicyRule;
import io.fabric8.kubernetes.api.model.rbac.Role;
import io.fabric8.kubernetes.api.model.rbac.RoleBinding;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import io.fabric8.mockwebserver.http.RecordedRequest;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Drift between {@link ApiCalls}, {@code daemonset/base/controller-rbac.yaml} and the code: the RBAC
 * rules equal the registry, and the real controller, driven through every write it makes, sends the mock
 * API server only requests the registry allows.
 */
@EnableKubernetesMockClient(crud = true)
class ApiCallsTest {

    KubernetesMockServer server;
    KubernetesClient client;

    static final Path RBAC = Path.of("..", "daemonset", "base", "controller-rbac.yaml");

    /** A rule flattened: scope|group|resource|verb|resourceName ("*" when not limited). */
    private static Set<String> flatten(Scope scope, String group, String resource, Set<String> verbs, Set<String> names) {
        var out = new TreeSet<String>();
        for (String v : verbs) {
            for (String n : names.isEmpty() ? Set.of("*") : names) {
                out.add(scope + "|" + group + "|" + resource + "|" + v + "|" + n);
            }
        }
        return out;
    }

    private static Set<String> flatten(Scope scope, List<PolicyRule> rules) {
        var out = new TreeSet<String>();
        for (PolicyRule r : rules) {
            for (String g : r.getApiGroups()) {
                for (String res : r.getResources()) {
                    out.addAll(flatten(scope, g, res, Set.copyOf(r.getVerbs()),
                            r.getResourceNames() == null ? Set.of() : Set.copyOf(r.getResourceNames())));
                }
            }
        }
        return out;
    }

    @Test
    void rbacRulesEqualTheRegistry() throws Exception {
        List<HasMetadata> objects;
        try (InputStream in = Files.newInputStream(RBAC)) {
            objects = new KubernetesSerialization().unmarshal(in);
        }
        var granted = new TreeSet<String>();
        int bindings = 0;
        for (HasMetadata o : objects) {
            if (o instanceof ClusterRole cr) {
                granted.addAll(flatten(Scope.CLUSTER, cr.getRules()));
            } else if (o instanceof Role r) {
                assertThat(r.getMetadata().getNamespace()).isEqualTo("tessera-system");
                granted.addAll(flatten(Scope.CONTROLLER_NAMESPACE, r.getRules()));
            } else if (o instanceof ClusterRoleBinding b) {
                assertThat(b.getRoleRef().getName()).isEqualTo("tessera-controller");
                assertThat(b.getSubjects()).singleElement().satisfies(s -> {
                    assertThat(s.getName()).isEqualTo("tessera-controller");
                    assertThat(s.getNamespace()).isEqualTo("tessera-system");
                });
                bindings++;
            } else if (o instanceof RoleBinding b) {
                assertThat(b.getRoleRef().getKind()).isEqualTo("Role");
                assertThat(b.getSubjects()).singleElement().satisfies(s -> assertThat(s.getName()).isEqualTo("tessera-controller"));
                bindings++;
            }
        }
        var registry = new TreeSet<String>();
        for (ApiCall c : ApiCalls.ALL) {
            registry.addAll(flatten(c.scope(), c.group(), c.resource(), c.verbs(), c.resourceNames()));
        }
        assertThat(granted).isEqualTo(registry);
        assertThat(bindings).isEqualTo(2);
    }

    @Test
    void theControllerMakesOnlyRegisteredCalls() throws Exception {
        MockCluster.apply(client, MockCluster.mesh().resolve("cluster.yaml"));
        MockCluster.apply(client, MockCluster.mesh().resolve("k8s-only/web-slice.yaml"));
        new FakeTokenReviews(server).add("agent-node2", "tessera-system", "tessera-node-agent", "node2", "tessera-controller");
        try (KubernetesClient controllerClient = KubeClients.create(client.getConfiguration());
                KubernetesController c = KubernetesController.start(controllerClient, new KubernetesController.Options(
                        "tessera-system", "cluster.local", ApiCalls.CA_SECRET, "tessera-controller",
                        Set.of("tessera-system/tessera-node-agent"), true, "replica-1", Duration.ofHours(1),
                        Duration.ofSeconds(30), new Leadership.Timings(Duration.ofSeconds(3), Duration.ofSeconds(2),
                                Duration.ofMillis(200))))) {
            // Every write path: CA Secret and ConfigMap (start), status of all policies, lease renewals,
            // a TokenReview per CSR; then the ConfigMap re-published after someone changed it.
            await().atMost(Duration.ofSeconds(10)).until(() -> c.isLeader() && client.genericKubernetesResources(
                    PolicyResources.AUTHORIZATION_POLICY).inNamespace("shop").withName("broken").get()
                    .getAdditionalProperties().containsKey("status"));
            SpiffeId db = new SpiffeId("cluster.local", "shop", "db");
            assertThat(c.issuer().issue(CertificateAuthority.csr(CertificateAuthority.newKeyPair(), db), db, "agent-node2")
                    .leaf()).isNotNull();
            try {
                c.issuer().issue(CertificateAuthority.csr(CertificateAuthority.newKeyPair(), db), db, "forged");
            } catch (SvidRefusedException expected) {
                // counted; the point is the TokenReview call
            }
            client.configMaps().inNamespace("tessera-system").withName("tessera-ca-root-cert")
                    .edit(cm -> new io.fabric8.kubernetes.api.model.ConfigMapBuilder(cm).withData(java.util.Map.of("root-cert.pem", "x")).build());
            // What a leadership change does: re-publish, here through the update path.
            new dev.tessera.controller.identity.TrustBundlePublisher(controllerClient, "tessera-system", c::isLeader)
                    .publish(c.ca().trustBundle());
            // A rotation asked for on the generated CA Secret: the leader writes a new root into it.
            client.secrets().inNamespace("tessera-system").withName(ApiCalls.CA_SECRET).edit(s -> new io.fabric8.kubernetes
                    .api.model.SecretBuilder(s).editMetadata().addToAnnotations(
                            dev.tessera.controller.identity.CaSecretRotations.ROTATE_ANNOTATION, "now").endMetadata().build());
            await().atMost(Duration.ofSeconds(10)).until(() -> {
                c.rotationRequests().orElseThrow().poll();
                return client.secrets().inNamespace("tessera-system").withName(ApiCalls.CA_SECRET).get().getMetadata()
                        .getAnnotations().get(dev.tessera.controller.identity.CaSecretRotations.ROTATE_ANNOTATION) == null;
            });
        }
        var unregistered = new ArrayList<String>();
        var seen = new TreeSet<String>();
        RecordedRequest r;
        while ((r = server.takeRequest(10, TimeUnit.MILLISECONDS)) != null) {
            if (!KubeClients.USER_AGENT.equals(r.getHeader("User-Agent"))) {
                continue; // the test's own fixtures
            }
            Call call = Call.of(r.getMethod(), r.getPath());
            seen.add(call.verb() + " " + call.group() + "/" + call.resource());
            if (!ApiCalls.allows(call.group(), call.resource(), call.verb(), call.namespace(), call.name(), "tessera-system")) {
                unregistered.add(r.getMethod() + " " + r.getPath() + " -> " + call);
            }
        }
        assertThat(unregistered).as("requests not in ApiCalls").isEmpty();
        // And the registry holds nothing the controller never does (every resource/verb pair was seen).
        var registered = new TreeSet<String>();
        ApiCalls.ALL.forEach(a -> a.verbs().forEach(v -> registered.add(v + " " + a.group() + "/" + a.resource())));
        assertThat(seen).isEqualTo(registered);
    }

    /** An API request decoded into RBAC terms. */
    record Call(String verb, String group, String resource, String namespace, String name) {
        static Call of(String method, String pathAndQuery) {
            String path = pathAndQuery.split("\\?", 2)[0];
            String query = pathAndQuery.contains("?") ? pathAndQuery.substring(pathAndQuery.indexOf('?') + 1) : "";
            List<String> seg = new ArrayList<>(List.of(path.substring(1).split("/")));
            String group;
            if (seg.get(0).equals("api")) {
                group = "";
                seg = seg.subList(2, seg.size());
            } else {
                group = seg.get(1);
                seg = seg.subList(3, seg.size());
            }
            String ns = null;
            if (seg.size() >= 3 && seg.get(0).equals("namespaces")) {
                ns = seg.get(1);
                seg = seg.subList(2, seg.size());
            }
            String resource = seg.get(0);
            String name = seg.size() > 1 ? seg.get(1) : null;
            if (seg.size() > 2) {
                resource = resource + "/" + seg.get(2);
            }
            String verb = switch (method) {
                case "GET" -> name != null ? "get" : query.contains("watch=true") ? "watch" : "list";
                case "POST" -> "create";
                case "PUT" -> "update";
                case "PATCH" -> "patch";
                case "DELETE" -> name != null ? "delete" : "deletecollection";
                default -> method.toLowerCase(java.util.Locale.ROOT);
            };
            if (name == null && (verb.equals("list") || verb.equals("watch"))) {
                // RBAC limits a list or watch by resourceNames when it selects metadata.name=<name>.
                for (String param : query.split("&")) {
                    String p = java.net.URLDecoder.decode(param, java.nio.charset.StandardCharsets.UTF_8);
                    if (p.startsWith("fieldSelector=metadata.name=")) {
                        name = p.substring("fieldSelector=metadata.name=".length());
                    }
                }
            }
            return new Call(verb, group.isEmpty() ? "" : group, resource, ns, name);
        }
    }
}
