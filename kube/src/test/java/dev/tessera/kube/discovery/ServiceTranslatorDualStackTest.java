package dev.tessera.kube.discovery;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tessera.kube.discovery.ServiceTranslator.Addresses;
import io.fabric8.kubernetes.api.model.ServiceBuilder;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSliceBuilder;
import java.net.InetAddress;
import java.util.List;
import org.junit.jupiter.api.Test;

/** A dual-stack Service: both cluster IPs are VIPs, both address families' slices are endpoints. */
class ServiceTranslatorDualStackTest {

    private static EndpointSlice slice(String type, String... addresses) {
        var b = new EndpointSliceBuilder().withNewMetadata().withName("web-" + type).withNamespace("shop").endMetadata()
                .withAddressType(type);
        for (String a : addresses) {
            b.addNewEndpoint().withAddresses(a).withNewTargetRef().withKind("Pod").withName("web-" + a.length())
                    .endTargetRef().endEndpoint();
        }
        return b.build();
    }

    @Test
    void bothClusterIpsAreVips() {
        var svc = new ServiceBuilder().withNewMetadata().withName("web").withNamespace("shop").endMetadata()
                .withNewSpec().withClusterIP("198.18.128.5").withClusterIPs("198.18.128.5", "2001:db8::c612:8005")
                .endSpec().build();
        assertThat(ServiceTranslator.clusterIps(svc)).extracting(InetAddress::getHostAddress)
                .containsExactly("198.18.128.5", "2001:db8:0:0:0:0:c612:8005");
        var headless = new ServiceBuilder().withNewMetadata().withName("h").endMetadata().withNewSpec()
                .withClusterIP("None").withClusterIPs("None").endSpec().build();
        assertThat(ServiceTranslator.clusterIps(headless)).isEmpty();
    }

    @Test
    void ipv4AndIpv6SlicesAreEndpointsAndFqdnSlicesAreNot() {
        var endpoints = ServiceTranslator.endpoints(List.of(slice("IPv4", "198.18.1.5"),
                slice("IPv6", "2001:db8::c612:105"), slice("FQDN", "db.example.com")));
        assertThat(endpoints).extracting(e -> e.ip().getHostAddress())
                .containsExactly("198.18.1.5", "2001:db8:0:0:0:0:c612:105");
    }

    @Test
    void literalsAreNeverLookedUp() {
        assertThat(Addresses.literal("2001:db8::1")).isPresent();
        assertThat(Addresses.literal("::ffff:198.18.0.1")).isPresent();
        assertThat(Addresses.literal("198.18.0.1")).isPresent();
        assertThat(Addresses.literal("fe80::1%eth0")).isEmpty();
        assertThat(Addresses.literal("[2001:db8::1]")).isEmpty();
        assertThat(Addresses.literal("localhost")).isEmpty();
        assertThat(Addresses.literal("300.1.1.1")).isEmpty();
        assertThat(Addresses.literal("2001:db8::g")).isEmpty();
        assertThat(Addresses.literal(null)).isEmpty();
    }
}
