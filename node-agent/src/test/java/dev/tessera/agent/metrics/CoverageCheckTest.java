package dev.tessera.agent.metrics;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tessera.api.identity.CertificateAuthority;
import dev.tessera.api.identity.SpiffeId;
import dev.tessera.api.model.Workload;
import java.net.InetAddress;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class CoverageCheckTest {

    private final Map<String, Long> cookies = new HashMap<>();
    private final Set<Long> kernel = new HashSet<>();
    private final Map<String, X509Certificate> certs = new HashMap<>();
    private final List<Workload> pods;

    CoverageCheckTest() throws Exception {
        pods = List.of(pod("a", "198.18.1.2"), pod("b", "198.18.1.3"));
    }

    private static Workload pod(String name, String ip) throws Exception {
        return new Workload("shop", name, "node1", InetAddress.getByName(ip), name, Map.of(), true,
                new SpiffeId("cluster.local", "shop", name));
    }

    private CoverageCheck check(Instant now, Runnable repair) {
        return new CoverageCheck(new CoverageCheck.Inputs() {
            public List<Workload> expected() {
                return pods;
            }

            public Optional<Long> netnsCookie(Workload pod) {
                return Optional.ofNullable(cookies.get(pod.name()));
            }

            public Set<Long> enrolledCookies() {
                return kernel;
            }

            public Optional<X509Certificate> certificate(Workload pod) {
                return Optional.ofNullable(certs.get(pod.name()));
            }
        }, Clock.fixed(now, ZoneOffset.UTC), repair);
    }

    @Test
    void provesCaptureInTheKernelMapAndCertificateValidityAndRepairsMissingPods() throws Exception {
        var ca = CertificateAuthority.generate("cluster.local");
        for (Workload w : pods) {
            certs.put(w.name(), dev.tessera.agent.testing.TestIdentities.issue(ca, w.identity(), w.identity()).leaf());
        }
        cookies.put("a", 11L);
        cookies.put("b", 12L);
        kernel.addAll(Set.of(11L, 12L));
        var repairs = new AtomicInteger();
        Instant now = Instant.now();
        CoverageCheck.Result ok = check(now, repairs::incrementAndGet).run();
        assertThat(ok.gap()).isZero();
        assertThat(ok.captured()).isEqualTo(2);
        assertThat(repairs).hasValue(0);

        kernel.remove(12L); // someone cleared the pod from the map
        CoverageCheck c = check(now, repairs::incrementAndGet);
        CoverageCheck.Result lost = c.run();
        assertThat(lost.uncaptured()).containsExactly("shop/b");
        assertThat(lost.gap()).isEqualTo(1);
        assertThat(repairs).hasValue(1);
        assertThat(c.repairs()).isEqualTo(1);

        CoverageCheck.Result expired = check(now.plus(CertificateAuthority.DEFAULT_TTL.plusHours(1)), () -> {}).run();
        assertThat(expired.certified()).isZero();
        assertThat(expired.uncertified()).containsExactly("shop/a", "shop/b");
        assertThat(expired.gap()).isEqualTo(2);
    }
}
