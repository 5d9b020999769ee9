package dev.tessera.controller.model;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tessera.api.identity.SpiffeId;
import dev.tessera.api.model.MeshSnapshot;
import dev.tessera.api.model.NodeInfo;
import dev.tessera.api.model.Service;
import dev.tessera.api.model.Workload;
import java.net.InetAddress;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Snapshots made by patching the previous one equal what a model holding the same objects builds whole, through
 * random changes that also make and resolve IP and VIP conflicts (when something is left out, and after).
 */
class MeshModelTest {

    @Test
    void everySnapshotEqualsAWholeBuildOfTheSameObjects() throws Exception {
        for (long seed = 0; seed < 20; seed++) {
            var random = new Random(seed);
            var model = new MeshModel();
            var workloads = new HashMap<String, Workload>();
            var services = new HashMap<String, Service>();
            var nodes = new HashMap<String, NodeInfo>();
            for (int step = 0; step < 200; step++) {
                int changes = 1 + random.nextInt(3);
                for (int c = 0; c < changes; c++) {
                    int kind = random.nextInt(10);
                    if (kind < 7) { // pods: 30 names over 40 addresses, so IPs collide now and then
                        String name = "p" + random.nextInt(30);
                        Workload w = random.nextInt(6) == 0 ? null : new Workload("shop", name, "n" + random.nextInt(3),
                                ip(1, random.nextInt(40)), "sa", Map.of("v", "" + random.nextInt(3)), true,
                                new SpiffeId("cluster.local", "shop", "sa"));
                        model.putWorkload("shop/" + name, w);
                        put(workloads, "shop/" + name, w);
                    } else if (kind < 9) { // services: VIPs mostly their own, sometimes a pod's or another's
                        String name = "s" + random.nextInt(6);
                        InetAddress vip = random.nextInt(8) == 0 ? ip(1, random.nextInt(40)) : ip(2, random.nextInt(8));
                        Service s = random.nextInt(6) == 0 ? null : new Service("shop", name, List.of(vip),
                                List.of(new Service.Port("http", 80, 8080)), List.of());
                        model.putService("shop/" + name, s);
                        put(services, "shop/" + name, s);
                    } else {
                        String name = "n" + random.nextInt(3);
                        NodeInfo n = random.nextInt(4) == 0 ? null : new NodeInfo(name, ip(3, random.nextInt(5)), "198.18.4.0/24");
                        model.putNode(name, n);
                        put(nodes, name, n);
                    }
                }
                MeshSnapshot got = model.snapshot().mesh();
                var fresh = new MeshModel();
                workloads.forEach(fresh::putWorkload);
                services.forEach(fresh::putService);
                nodes.forEach(fresh::putNode);
                MeshSnapshot whole = fresh.snapshot().mesh();
                assertThat(got.workloads()).as("seed %d step %d", seed, step).containsExactlyInAnyOrderElementsOf(whole.workloads());
                assertThat(got.services()).as("seed %d step %d", seed, step).containsExactlyInAnyOrderElementsOf(whole.services());
                assertThat(got.nodes()).isEqualTo(whole.nodes());
                for (Workload w : whole.workloads()) {
                    assertThat(got.workloadByIp(w.ip())).contains(w);
                }
            }
        }
    }

    private static <T> void put(Map<String, T> map, String key, T value) {
        if (value == null) {
            map.remove(key);
        } else {
            map.put(key, value);
        }
    }

    private static InetAddress ip(int c, int d) throws Exception {
        return InetAddress.getByAddress(new byte[] {(byte) 198, 18, (byte) c, (byte) d});
    }
}
