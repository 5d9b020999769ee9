package dev.tessera.cli.install;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tessera.cli.Main;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Namespace;
import io.fabric8.kubernetes.api.model.apps.DaemonSet;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.rbac.ClusterRoleBinding;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.List;
import org.junit.jupiter.api.Test;

/** {@code tessera install}: its output parses, carries the options, and bad options are usage errors. */
class InstallCommandTest {

    record Run(int exit, String out, String err) {}

    @Test
    void defaultOutputIsTheShippedManifests() {
        Run r = run("install");
        assertThat(r.exit()).isZero();
        List<HasMetadata> rendered = Manifests.parse("stdout", r.out());
        List<HasMetadata> shipped = Manifests.load();
        assertThat(rendered).hasSameSizeAs(shipped);
        for (int i = 0; i < shipped.size(); i++) {
            assertThat(rendered.get(i)).as(shipped.get(i).getKind()).isEqualTo(shipped.get(i));
        }
    }

    @Test
    void nonDefaultOptionsAreCarriedEverywhere() {
        Run r = run("install", "--namespace=mesh-system", "--trust-domain=prod.example.org",
                "--agent-image=registry.example.com:5000/tessera/node-agent:9.9.9",
                "--controller-image=registry.example.com/tessera/controller@sha256:" + "a".repeat(64),
                "--controller-replicas=3", "--mesh-cidr=10.0.0.0/8", "--mesh-cidr=172.16.0.0/12");
        assertThat(r.exit()).as(r.err()).isZero();
        List<HasMetadata> objects = Manifests.parse("stdout", r.out());

        assertThat(objects).filteredOn(o -> o instanceof Namespace).singleElement()
                .extracting(o -> o.getMetadata().getName()).isEqualTo("mesh-system");
        assertThat(objects).filteredOn(o -> o.getMetadata().getNamespace() != null)
                .allSatisfy(o -> assertThat(o.getMetadata().getNamespace()).isEqualTo("mesh-system"));
        // (the CRDs' descriptions mention the default root namespace in prose; every object outside them moved)
        assertThat(Manifests.toYaml(objects.stream().filter(o -> !o.getKind().equals("CustomResourceDefinition"))
                .toList())).doesNotContain("tessera-system").doesNotContain("cluster.local");
        assertThat(objects).filteredOn(o -> o instanceof ClusterRoleBinding).flatExtracting(
                o -> ((ClusterRoleBinding) o).getSubjects()).allSatisfy(s -> assertThat(s.getNamespace()).isEqualTo("mesh-system"));

        Deployment controller = only(objects, Deployment.class);
        assertThat(controller.getSpec().getReplicas()).isEqualTo(3);
        var c = controller.getSpec().getTemplate().getSpec().getContainers().get(0);
        assertThat(c.getImage()).isEqualTo("registry.example.com/tessera/controller@sha256:" + "a".repeat(64));
        assertThat(c.getArgs()).contains("--namespace=mesh-system", "--trust-domain=prod.example.org");

        DaemonSet agent = only(objects, DaemonSet.class);
        var a = agent.getSpec().getTemplate().getSpec().getContainers().get(0);
        assertThat(a.getImage()).isEqualTo("registry.example.com:5000/tessera/node-agent:9.9.9");
        assertThat(a.getArgs()).contains("--trust-domain=prod.example.org",
                "--controller=tessera-controller.mesh-system.svc:15012");
        assertThat(a.getArgs()).filteredOn(x -> x.startsWith("--mesh-cidr="))
                .containsExactly("--mesh-cidr=10.0.0.0/8", "--mesh-cidr=172.16.0.0/12");
    }

    @Test
    void badOptionsAreUsageErrorsNamingTheOption() {
        assertUsageError(run("install", "--namespace=Mesh_System"), "--namespace: 'Mesh_System' (expected:");
        assertUsageError(run("install", "--namespace=" + "a".repeat(64)), "--namespace: 'aaaa");
        assertUsageError(run("install", "--trust-domain=spiffe://x"), "--trust-domain: 'spiffe://x' (expected:");
        assertUsageError(run("install", "--agent-image=Tessera Agent"), "--agent-image: 'Tessera Agent' (expected:");
        assertUsageError(run("install", "--controller-image="), "--controller-image: '' (expected:");
        assertUsageError(run("install", "--controller-replicas=0"), "--controller-replicas: 0 (expected: 1-9)");
        assertUsageError(run("install", "--mesh-cidr=10.0.0.1/8"), "--mesh-cidr: '10.0.0.1/8' (expected:");
        assertUsageError(run("install", "--mesh-cidr=10.0.0.0/33"), "--mesh-cidr: '10.0.0.0/33' (expected:");
    }

    private static void assertUsageError(Run r, String message) {
        assertThat(r.exit()).as(r.err()).isEqualTo(2);
        assertThat(r.err()).contains(message);
        assertThat(r.out()).isEmpty();
    }

    private static <T> T only(List<HasMetadata> objects, Class<T> type) {
        return objects.stream().filter(type::isInstance).map(type::cast).reduce((x, y) -> {
            throw new AssertionError("more than one " + type.getSimpleName());
        }).orElseThrow();
    }

    static Run run(String... args) {
        var out = new StringWriter();
        var err = new StringWriter();
        var cl = Main.commandLine();
        cl.setOut(new PrintWriter(out));
        cl.setErr(new PrintWriter(err));
        int exit = cl.execute(args);
        return new Run(exit, out.toString(), err.toString());
    }
}
