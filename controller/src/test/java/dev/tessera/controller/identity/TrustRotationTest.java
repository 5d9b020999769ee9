package dev.tessera.controller.identity;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;

class TrustRotationTest {

    private static final Instant T0 = Instant.parse("2026-12-06T17:00:00Z");

    private final IssuingCa old = IssuingCa.generate("cluster.local");
    private final IssuingCa next = IssuingCa.generate("cluster.local");
    private final TrustRotation rotation = new TrustRotation(old);

    private static TrustRotation.Facts facts(boolean agentsHold, int underOld, Instant now) {
        return new TrustRotation.Facts(g -> agentsHold, underOld, now);
    }

    @Test
    void stableTrustsTheSignersRootsOnly() {
        assertThat(rotation.phase()).isEqualTo(TrustRotation.Phase.STABLE);
        assertThat(rotation.bundle()).isEqualTo(old.trustBundle());
        assertThat(rotation.signer()).isSameAs(old);
        assertThat(rotation.advance(facts(true, 0, T0))).isFalse();
    }

    @Test
    void aNewRootIsPublishedNextToTheOldOneWhileTheOldCaStillSigns() {
        long g = rotation.generation();
        assertThat(rotation.begin(next, Duration.ofSeconds(10))).isTrue();
        assertThat(rotation.phase()).isEqualTo(TrustRotation.Phase.PUBLISHING);
        assertThat(rotation.signer()).isSameAs(old);
        assertThat(rotation.bundle()).containsExactly(old.trustBundle().get(0), next.trustBundle().get(0));
        assertThat(rotation.generation()).isGreaterThan(g);
        assertThat(rotation.begin(IssuingCa.generate("cluster.local"), Duration.ZERO)).as("one rotation at a time").isFalse();
    }

    @Test
    void signingSwitchesOnlyOnceEveryAgentHoldsTheBundleWithBothRoots() {
        rotation.begin(next, Duration.ofSeconds(10));
        long published = rotation.generation();
        assertThat(rotation.advance(new TrustRotation.Facts(g -> g < published, 0, T0))).isFalse();
        assertThat(rotation.signer()).isSameAs(old);
        assertThat(rotation.advance(new TrustRotation.Facts(g -> g <= published, 0, T0))).isTrue();
        assertThat(rotation.phase()).isEqualTo(TrustRotation.Phase.RENEWING);
        assertThat(rotation.signer()).isSameAs(next);
        assertThat(rotation.bundle()).as("the signer's root first, the old one still trusted")
                .containsExactly(next.trustBundle().get(0), old.trustBundle().get(0));
        assertThat(rotation.generation()).isGreaterThan(published);
    }

    @Test
    void theOldRootLeavesOnlyWhenNoCertificateUnderItIsHeldAndTheOverlapHasPassed() {
        rotation.begin(next, Duration.ofSeconds(10));
        rotation.advance(facts(true, 0, T0));
        assertThat(rotation.advance(facts(true, 0, T0.plusSeconds(9)))).as("overlap not over").isFalse();
        assertThat(rotation.advance(facts(true, 3, T0.plusSeconds(60)))).as("certificates under the old root").isFalse();
        assertThat(rotation.bundle()).hasSize(2);
        assertThat(rotation.advance(facts(true, 0, T0.plusSeconds(10)))).isTrue();
        assertThat(rotation.phase()).isEqualTo(TrustRotation.Phase.STABLE);
        assertThat(rotation.bundle()).isEqualTo(next.trustBundle());
        assertThat(rotation.status().overlap()).isZero();
    }

    @Test
    void aRotationToTheSameRootsIsNoRotation() {
        assertThat(rotation.begin(old, Duration.ZERO)).isFalse();
        assertThat(rotation.phase()).isEqualTo(TrustRotation.Phase.STABLE);
    }

    @Test
    void anIntermediateRenewedUnderTheSameRootReplacesTheSignerWithoutARotation() throws Exception {
        var root = dev.tessera.api.identity.CertificateAuthority.generate("cluster.local");
        IssuingCa first = issuing(root);
        IssuingCa renewed = issuing(root);
        var r = new TrustRotation(first);
        long g = r.generation();
        assertThat(r.renewSigner(first)).as("same issuer").isFalse();
        assertThat(r.renewSigner(next)).as("other roots need a rotation").isFalse();
        assertThat(r.renewSigner(renewed)).isTrue();
        assertThat(r.signer()).isSameAs(renewed);
        assertThat(r.phase()).isEqualTo(TrustRotation.Phase.STABLE);
        assertThat(r.bundle()).containsExactly(root.certificate());
        assertThat(r.generation()).isEqualTo(g);
        r.begin(next, Duration.ZERO);
        assertThat(r.renewSigner(issuing(root))).as("not during a rotation").isFalse();
    }

    @Test
    void aRestartKeepsThePreviouslyPublishedRootsUntilTheOverlapHasPassed() {
        var resumed = TrustRotation.resuming(next, old.trustBundle(), Duration.ofSeconds(10), T0);
        assertThat(resumed.phase()).isEqualTo(TrustRotation.Phase.RENEWING);
        assertThat(resumed.signer()).isSameAs(next);
        assertThat(resumed.bundle()).containsExactly(next.trustBundle().get(0), old.trustBundle().get(0));
        assertThat(resumed.advance(facts(true, 0, T0.plusSeconds(9)))).isFalse();
        assertThat(resumed.advance(facts(true, 0, T0.plusSeconds(10)))).isTrue();
        assertThat(resumed.bundle()).isEqualTo(next.trustBundle());
        assertThat(TrustRotation.resuming(next, next.trustBundle(), Duration.ofSeconds(10), T0).phase())
                .as("nothing published beyond the Secret's roots").isEqualTo(TrustRotation.Phase.STABLE);
        assertThat(TrustRotation.resuming(next, List.of(), Duration.ofSeconds(10), T0).phase())
                .isEqualTo(TrustRotation.Phase.STABLE);
    }

    private static IssuingCa issuing(dev.tessera.api.identity.CertificateAuthority root) {
        var i = root.newIntermediate("cluster.local", Duration.ofDays(1));
        return IssuingCa.fromPem(dev.tessera.api.identity.CertificateAuthority.Pem.write(i.certificate()),
                dev.tessera.api.identity.CertificateAuthority.Pem.write(i.privateKey()),
                dev.tessera.api.identity.CertificateAuthority.Pem.write(root.certificate()));
    }

    @Test
    void theDriverStartsAPendingRequestAndHandsTheFinishedRotationBack() {
        var completed = new java.util.ArrayList<TrustRotation.Status>();
        var changes = new java.util.concurrent.atomic.AtomicInteger();
        var request = new java.util.concurrent.atomic.AtomicReference<>(
                java.util.Optional.of(new RotationDriver.Request(next, Duration.ZERO)));
        var held = new java.util.concurrent.atomic.AtomicInteger(2);
        var driver = new RotationDriver(rotation, new RotationDriver.Requests() {
            @Override
            public java.util.Optional<RotationDriver.Request> poll() {
                return request.get();
            }

            @Override
            public void completed(TrustRotation.Status status) {
                completed.add(status);
                request.set(java.util.Optional.empty());
            }
        }, g -> true, signer -> signer.equals(next.issuingCertificate()) ? held.get() : 99, changes::incrementAndGet);
        driver.tick(T0);
        assertThat(rotation.phase()).isEqualTo(TrustRotation.Phase.PUBLISHING);
        driver.tick(T0);
        assertThat(rotation.phase()).isEqualTo(TrustRotation.Phase.RENEWING);
        driver.tick(T0);
        assertThat(rotation.phase()).as("two certificates still under the old issuer").isEqualTo(TrustRotation.Phase.RENEWING);
        held.set(0);
        driver.tick(T0);
        assertThat(rotation.phase()).isEqualTo(TrustRotation.Phase.STABLE);
        assertThat(changes.get()).isEqualTo(3);
        assertThat(completed).singleElement().satisfies(s -> assertThat(s.bundle()).isEqualTo(next.trustBundle()));
        driver.tick(T0);
        assertThat(rotation.phase()).isEqualTo(TrustRotation.Phase.STABLE);
    }
}
