package dev.tessera.agent.admin;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tessera.api.identity.SpiffeId;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

class ReadinessTest {

    private static final SpiffeId CLIENT = SpiffeId.parse("spiffe://cluster.local/ns/demo/sa/client");
    private static final SpiffeId SERVER = SpiffeId.parse("spiffe://cluster.local/ns/demo/sa/server");
    private static final Map<String, Boolean> ATTACHED = Map.of("tsr_connect4", true, "tsr_sockops", true);

    @Test
    void readyWhenProgramsAttachedStateSyncedAndEveryIdentityCertified() {
        assertThat(Readiness.unmet(ATTACHED, true, List.of(CLIENT, SERVER), Set.of(CLIENT, SERVER))).isEmpty();
        assertThat(Readiness.unmet(ATTACHED, true, List.of(), Set.of())).as("no meshed pod on the node").isEmpty();
    }

    @Test
    void programsNotLoadedOrNotAttachedAreNamed() {
        assertThat(Readiness.unmet(null, true, List.of(), Set.of())).containsExactly("eBPF programs not attached");
        assertThat(Readiness.unmet(Map.of(), true, List.of(), Set.of())).containsExactly("eBPF programs not attached");
        var programs = new LinkedHashMap<String, Boolean>();
        programs.put("tsr_connect4", false);
        programs.put("tsr_sockops", true);
        assertThat(Readiness.unmet(programs, true, List.of(), Set.of()))
                .containsExactly("program tsr_connect4 not attached to the cgroup");
    }

    @Test
    void unsyncedStateAndMissingCertificatesAreNamed() {
        assertThat(Readiness.unmet(ATTACHED, false, List.of(), Set.of())).containsExactly("cluster state not synced");
        assertThat(Readiness.unmet(ATTACHED, true, List.of(SERVER, CLIENT), Set.of(CLIENT)))
                .containsExactly("certificates missing for [spiffe://cluster.local/ns/demo/sa/server]");
    }

    @Test
    void everyUnmetConditionIsReportedAtOnce() {
        assertThat(Readiness.unmet(null, false, List.of(CLIENT), Set.of())).containsExactly(
                "eBPF programs not attached", "cluster state not synced",
                "certificates missing for [spiffe://cluster.local/ns/demo/sa/client]");
    }

    @Test
    void aProtocolVersionSkewWithTheControllerIsNamedFirst() {
        String skew = "the controller tessera-controller:15012 refused this agent's push protocol 3: PROTOCOL_VERSION: ...";
        assertThat(Readiness.unmet(ATTACHED, true, List.of(), Set.of(), Map.of(), skew))
                .containsExactly("controller protocol version skew: " + skew);
        assertThat(Readiness.unmet(ATTACHED, false, List.of(), Set.of(), Map.of(), skew))
                .containsExactly("controller protocol version skew: " + skew, "cluster state not synced");
        assertThat(Readiness.unmet(ATTACHED, true, List.of(), Set.of(), Map.of(), null)).isEmpty();
    }

    @Test
    void podsWhosePlaintextPolicyDidNotFitAreNamed() {
        assertThat(Readiness.plaintextPolicyRefused(Map.of("shop/api", "needs 9 entries, 2 are left")))
                .isEqualTo("plaintext policy not in the kernel for [shop/api] (plaintext to them is denied): "
                        + "needs 9 entries, 2 are left");
    }
}
