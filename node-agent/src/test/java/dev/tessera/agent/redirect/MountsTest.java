package dev.tessera.agent.redirect;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

class MountsTest {

    private static final List<String> HYBRID = List.of(
            "25 1 0:23 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw",
            "30 25 0:26 / /sys/fs/cgroup ro,nosuid shared:9 - tmpfs tmpfs ro,mode=755",
            "31 30 0:27 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 cgroup2 rw",
            "32 30 0:28 / /sys/fs/cgroup/cpu rw,relatime shared:11 - cgroup cgroup rw,cpu",
            "40 25 0:35 / /sys/fs/bpf rw,relatime shared:20 - bpf bpf rw,mode=700",
            "41 1 0:36 / /mnt/with\\040space rw - ext4 /dev/sda1 rw");

    @Test
    void findsTheCgroupV2MountOnAHybridHost() {
        assertThat(Cgroups.v2Root(Mounts.parse(HYBRID))).contains(Path.of("/sys/fs/cgroup/unified"));
        assertThat(Cgroups.v2Root(Mounts.parse(HYBRID.subList(0, 2)))).isEmpty();
    }

    @Test
    void decodesEscapedMountPoints() {
        assertThat(Mounts.parse(HYBRID)).contains(new Mounts.Mount(Path.of("/mnt/with space"), "ext4"));
    }

    @Test
    void pinDirMustBeOnTheDeepestMountBeingBpffs() {
        List<Mounts.Mount> mounts = Mounts.parse(HYBRID);
        assertThat(BpfFs.onBpfFs(Path.of("/sys/fs/bpf/tessera/node-1"), mounts)).isTrue();
        assertThat(BpfFs.onBpfFs(Path.of("/sys/fs/bpfx"), mounts)).isFalse();
        assertThat(BpfFs.onBpfFs(Path.of("/sys/fs/bpf/tessera"), Mounts.parse(HYBRID.subList(0, 4)))).isFalse();
    }

    @Test
    void theRealCgroupV2RootIsADirectory() {
        assertThat(Cgroups.v2Root()).isDirectory();
    }
}
