package dev.tessera.localcluster;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tessera.api.model.MeshSnapshot;
import dev.tessera.api.model.Service.Port;
import dev.tessera.api.model.Service;
import dev.tessera.api.net.Ipv4Cidr;
import java.net.InetAddress;
import org.junit.jupiter.api.Test;

class LocalServicesTest {

    private static final String BASE = """
            apiVersion: v1
            kind: Node
            metadata: {name: node1}
            ---
            apiVersion: v1
            kind: Namespace
            metadata: {name: shop, labels: {tessera.dev/dataplane-mode: ambient}}
            ---
            apiVersion: v1
            kind: Pod
            metadata: {name: a, namespace: shop, labels: {app: a}}
            spec: {nodeName: node1, containers: [{name: a, image: a, ports: [{name: http, containerPort: 8080}]}]}
            ---
            apiVersion: v1
            kind: Pod
            metadata: {name: b, namespace: shop, labels: {app: a}}
            spec: {nodeName: node1, containers: [{name: a, image: a}]}
            status: {phase: Pending}
            ---
            apiVersion: v1
            kind: Service
            metadata: {name: a, namespace: shop}
            spec:
              selector: {app: a}
              ports: [{name: web, port: 80, targetPort: http}, {name: raw, port: 9000}, {name: dns, port: 53, protocol: UDP}]
            ---
            apiVersion: v1
            kind: Service
            metadata: {name: headless, namespace: shop}
            spec: {clusterIP: None, selector: {app: a}, ports: [{port: 80}]}
            ---
            apiVersion: v1
            kind: Service
            metadata: {name: fixed, namespace: shop}
            spec: {clusterIP: 198.19.0.7, ports: [{port: 80}]}
            """;

    private static MeshSnapshot snapshot(String extra) {
        ClusterDescription c = ClusterDescription.parse("test", BASE + extra);
        return LocalSnapshots.convert(c, c.plan("t", NetnsNaming.STANDARD), "cluster.local", 1).snapshot();
    }

    @Test
    void selectorEndpointsNamedTargetPortsAndVips() throws Exception {
        MeshSnapshot s = snapshot("");
        Service a = s.service("shop", "a").orElseThrow();
        assertThat(a.ports()).containsExactly(new Port("web", 80, 8080), new Port("raw", 9000, 9000)); // UDP left out
        assertThat(a.endpoints()).extracting(e -> e.workload() + "=" + e.ready()).containsExactly("shop/a=true", "shop/b=false");
        assertThat(a.vips()).singleElement().satisfies(v -> assertThat(Ipv4Cidr.parse(LocalServiceVips.SERVICE_CIDR)
                .contains(Ipv4Cidr.parseAddress(v.getHostAddress()))).isTrue());
        assertThat(s.service("shop", "headless").orElseThrow().vips()).isEmpty();
        assertThat(s.service("shop", "fixed").orElseThrow().vips()).containsExactly(InetAddress.getByName("198.19.0.7"));
        assertThat(s.service("shop", "fixed").orElseThrow().endpoints()).isEmpty(); // no selector, no slice
    }

    @Test
    void vipsAreStableAcrossEdits() {
        InetAddress before = snapshot("").service("shop", "a").orElseThrow().vips().get(0);
        MeshSnapshot after = snapshot("""
                ---
                apiVersion: v1
                kind: Service
                metadata: {name: z, namespace: shop}
                spec: {ports: [{port: 1}]}
                """);
        assertThat(after.service("shop", "a").orElseThrow().vips()).containsExactly(before);
        assertThat(after.service("shop", "z").orElseThrow().vips()).singleElement().isNotEqualTo(before);
    }

    @Test
    void endpointSlicesInTheFolderWin() {
        MeshSnapshot s = snapshot("""
                ---
                apiVersion: discovery.k8s.io/v1
                kind: EndpointSlice
                metadata: {name: a-1, namespace: shop, labels: {kubernetes.io/service-name: a}}
                addressType: IPv4
                ports: [{name: web, port: 8443}]
                endpoints: [{addresses: [198.18.1.99], conditions: {ready: false}}]
                """);
        Service a = s.service("shop", "a").orElseThrow();
        assertThat(a.ports()).contains(new Port("web", 80, 8443));
        assertThat(a.endpoints()).extracting(e -> e.ip().getHostAddress() + "/" + e.ready() + "/" + e.workload())
                .containsExactly("198.18.1.99/false/");
    }
}
