package dev.tessera.agent.redirect;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tessera.agent.config.AgentConfig;
import java.net.InetAddress;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

class RedirectSettingsTest {

    private static final Path PIN = Path.of("/sys/fs/bpf/tessera");
    private static final Path CG = Path.of("/sys/fs/cgroup/unified");

    @Test
    void rejectsBadFieldsNamingThem() throws Exception {
        InetAddress ip = InetAddress.getByName("198.18.0.1");
        assertThatThrownBy(() -> new RedirectSettings(PIN, CG, ip, 0, List.of(), List.of()))
                .hasMessage("port: 0 (expected: 1-65535)");
        assertThatThrownBy(() -> new RedirectSettings(PIN, CG, InetAddress.getByName("fd00::1"), 15001, List.of(),
                List.of())).hasMessage("agentIp: fd00:0:0:0:0:0:0:1 (expected: IPv4)");
        assertThatThrownBy(() -> new RedirectSettings(PIN, CG, ip, 15001, List.of("198.18.0.0/40"), List.of()))
                .hasMessage("cidr: '198.18.0.0/40' (expected: a.b.c.d/n with n in 0-32)");
        assertThatThrownBy(() -> new RedirectSettings(PIN, CG, ip, 15001, List.of("198.18.7.9/15"), List.of()))
                .hasMessageContaining("(expected: a network address, e.g. 198.18.0.0/15)");
        assertThatThrownBy(() -> new RedirectSettings(PIN, CG, ip, 15001, List.of("2001:db8::/129"), List.of()))
                .hasMessage("cidr: '2001:db8::/129' (expected: an IPv6 network x:x::/n with n in 0-128)");
        assertThatThrownBy(() -> new RedirectSettings(PIN, CG, ip, 15001, List.of("2001:db8::1/32"), List.of()))
                .hasMessage("cidr: '2001:db8::1/32' (expected: a network address, e.g. 2001:db8::/32)");
        assertThatThrownBy(() -> new RedirectSettings(PIN, CG, ip, 15001, List.of(), List.of(), 8, ip))
                .hasMessage("agentIp6: 198.18.0.1 (expected: IPv6)");
        assertThatThrownBy(() -> new RedirectSettings(PIN, CG, ip, 15001, List.of(), List.of(), 8,
                InetAddress.getByName("fe80::1"))).hasMessage("agentIp6: fe80:0:0:0:0:0:0:1 (expected: a global IPv6"
                        + " address of the node, e.g. 2001:db8::1)");
        var many = new java.util.ArrayList<InetAddress>();
        for (int i = 0; i < 257; i++) {
            many.add(InetAddress.getByName("2001:db8::" + Integer.toHexString(i + 1)));
        }
        assertThatThrownBy(() -> new RedirectSettings(PIN, CG, ip, 15001, List.of(), many))
                .hasMessage("excludedAddresses: 0 IPv4 and 257 IPv6 addresses (expected: at most 256 per family)");
        assertThatThrownBy(() -> new RedirectSettings(null, CG, ip, 15001, List.of(), List.of()))
                .hasMessage("pinDir");
    }

    @Test
    void fromAgentConfigExcludesTheNodeIpAndDefaultsToAllOfIpv4() throws Exception {
        InetAddress ip = InetAddress.getByName("198.18.0.1");
        var config = AgentConfig.parse("--node", "node-1", "--node-ip", "198.18.0.1", "--bpf-pin-dir", PIN.toString(),
                "--cgroup", CG.toString(), "--network", "/run/network.json",
                "--controller", "controller:15012");
        RedirectSettings s = RedirectSettings.of(config, List.of());
        assertThat(s).isEqualTo(new RedirectSettings(PIN, CG, ip, 15001, List.of("0.0.0.0/0"), List.of(ip)));
    }

    @Test
    void theNodesOtherAddressesAreExcludedButNotLoopbackOrLinkLocal() throws Exception {
        InetAddress ip = InetAddress.getByName("198.18.0.1");
        var config = AgentConfig.parse("--node", "node-1", "--node-ip", "198.18.0.1", "--bpf-pin-dir", PIN.toString(),
                "--cgroup", CG.toString(), "--netns-source", "cri", "--controller", "controller:15012");
        RedirectSettings s = RedirectSettings.of(config, List.of(InetAddress.getByName("127.0.0.1"),
                InetAddress.getByName("198.18.0.1"), InetAddress.getByName("198.18.9.1"),
                InetAddress.getByName("169.254.1.1"), InetAddress.getByName("2001:db8::1")));
        assertThat(s.excludedAddresses()).containsExactly(ip, InetAddress.getByName("198.18.9.1"),
                InetAddress.getByName("2001:db8::1"));
        assertThat(s.agentIp6()).isNull();
    }

    @Test
    void bothFamiliesOfMeshCidrsAndTheIpv6ListenerFromAgentConfig() throws Exception {
        var config = AgentConfig.parse("--node", "node-1", "--node-ip", "198.18.0.1", "--node-ip6", "2001:db8::1",
                "--mesh-cidr", "198.18.0.0/15,2001:db8::/32", "--bpf-pin-dir", PIN.toString(), "--cgroup",
                CG.toString(), "--netns-source", "cri", "--controller", "controller:15012");
        RedirectSettings s = RedirectSettings.of(config, List.of(InetAddress.getByName("fe80::1"),
                InetAddress.getByName("::1"), InetAddress.getByName("2001:db8::7")));
        assertThat(s.agentIp6()).isEqualTo(InetAddress.getByName("2001:db8::1"));
        assertThat(s.parsedMeshCidrs()).extracting(Object::toString).containsExactly("198.18.0.0/15");
        assertThat(s.parsedMeshCidrs6()).extracting(Object::toString).containsExactly("2001:db8::/32");
        assertThat(s.excludedAddresses()).as("the node's own IPv6 addresses, never link-local or loopback")
                .containsExactly(InetAddress.getByName("198.18.0.1"), InetAddress.getByName("2001:db8::1"),
                        InetAddress.getByName("2001:db8::7"));
    }
}
