package dev.tessera.images.harness;

import com.github.dockerjava.api.DockerClient;
import com.github.dockerjava.api.model.Network.Ipam;
import java.util.HashSet;
import java.util.Set;
import org.testcontainers.DockerClientFactory;
import org.testcontainers.containers.Network;

/**
 * A Docker bridge network with a fixed /24 in 198.19.0.0/16 (inside the test range 198.18.0.0/15), so
 * containers get addresses known before they start (the agent's {@code --node-ip}). The subnet is the
 * highest 198.19.X.0/24 (X from 255 down to 200) no network of the engine uses; the engine's own pool
 * (scripts/docker.sh) hands out 198.19.128.0/17 from the bottom.
 */
public final class TestNetwork implements AutoCloseable {

    private final Network network;
    private final String prefix;

    private TestNetwork(Network network, String prefix) {
        this.network = network;
        this.prefix = prefix;
    }

    /** Creates network {@code name} (use a {@code tsi-} name). */
    public static TestNetwork create(String name) {
        DockerClient docker = DockerClientFactory.instance().client();
        Set<String> used = new HashSet<>();
        for (var n : docker.listNetworksCmd().exec()) {
            if (n.getIpam() != null && n.getIpam().getConfig() != null) {
                n.getIpam().getConfig().forEach(c -> used.add(c.getSubnet()));
            }
        }
        for (int x = 255; x >= 200; x--) {
            String subnet = "198.19." + x + ".0/24";
            if (used.contains(subnet)) {
                continue;
            }
            String prefix = "198.19." + x + ".";
            Network network = Network.builder()
                    .createNetworkCmdModifier(cmd -> cmd.withName(name).withDriver("bridge")
                            .withIpam(new Ipam().withConfig(new Ipam.Config().withSubnet(subnet).withGateway(prefix + "1"))))
                    .build();
            network.getId(); // created now, so a clash shows here
            return new TestNetwork(network, prefix);
        }
        throw new IllegalStateException("no free /24 in 198.19.200.0-198.19.255.255 on the engine (remove stale tsi- networks)");
    }

    public Network network() {
        return network;
    }

    /** The address {@code 198.19.X.host} of this network; .1 is the host's bridge. */
    public String ip(int host) {
        if (host < 2 || host > 254) {
            throw new IllegalArgumentException("host: " + host + " (expected: 2-254)");
        }
        return prefix + host;
    }

    @Override
    public void close() {
        network.close();
    }
}
