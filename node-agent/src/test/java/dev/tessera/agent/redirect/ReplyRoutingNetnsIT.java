package dev.tessera.agent.redirect;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tessera.agent.netty.EventLoops;
import dev.tessera.agent.netty.Listeners;
import dev.tessera.api.netns.Netns;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.epoll.EpollChannelOption;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@link ReplyRouting} for IPv6 on the real kernel: in the node's namespace of {@link NetnsFixture}, a transparent
 * socket bound to another pod's IPv6 address (what a delivery from the client pod's address is) dials the pod;
 * the pod's SYN-ACK, addressed to that other pod, reaches the socket only through the IPv6 rules.
 */
class ReplyRoutingNetnsIT {

    static final InetSocketAddress POD6 = new InetSocketAddress("2001:db8:200::2", 7000);
    /** tsE-pod2's address: the "client pod" a delivery would come from. */
    static final InetAddress CLIENT6 = address("2001:db8:202::2");
    static final int MARK = 0x2000;
    static final int TABLE = 15008;

    static NetnsFixture net;
    static Acceptor pod;
    static EventLoops loops;
    static Path node;

    @BeforeAll
    static void setUp() throws Exception {
        NetnsFixture.requireRoot();
        net = new NetnsFixture();
        node = NetnsFixture.path(NetnsFixture.NODE);
        pod = new Acceptor("pod6", NetnsFixture.path(NetnsFixture.POD), POD6);
        loops = EventLoops.create(1);
        Assumptions.assumeTrue(loops.nativeTransport(), "IP_TRANSPARENT needs epoll");
    }

    @AfterAll
    static void tearDown() throws Exception {
        try {
            if (loops != null) {
                loops.close();
            }
            if (pod != null) {
                pod.close();
            }
        } finally {
            if (net != null) {
                net.close();
            }
        }
    }

    /** A transparent dial from [CLIENT6]:0 to the pod, in the node's namespace. */
    static ChannelFuture transparentDial() throws IOException {
        var b = Listeners.dialer(loops, 1500).group(loops.worker())
                .option(EpollChannelOption.IP_TRANSPARENT, true);
        return Netns.call(node, () -> b.connect(POD6, new InetSocketAddress(CLIENT6, 0)));
    }

    @Test
    void ipv6RepliesReachTheTransparentSocketOnlyWithTheIpv6Rules() throws Exception {
        ChannelFuture without = transparentDial();
        assertThat(without.await(5, TimeUnit.SECONDS)).isTrue();
        assertThat(without.isSuccess()).as("without IPv6 reply routing the SYN-ACK never reaches the socket").isFalse();
        try {
            assertThat(Netns.call(node, () -> ReplyRouting.install6(MARK, TABLE))).isNull();
            assertThat(Netns.call(node, () -> ReplyRouting.install6(MARK, TABLE))).as("idempotent").isNull();
            assertThat(run("ip6tables", "-t", "mangle", "-S", "PREROUTING").split("\n"))
                    .filteredOn(l -> l.contains("--transparent")).hasSize(1);
            ChannelFuture with = transparentDial();
            assertThat(with.await(5, TimeUnit.SECONDS)).isTrue();
            assertThat(with.isSuccess()).as("dialled: %s", with.cause()).isTrue();
            Channel ch = with.channel();
            InetSocketAddress local = (InetSocketAddress) ch.localAddress();
            assertThat(local.getAddress()).isEqualTo(CLIENT6);
            assertThat(pod.awaitFrom(local)).as("the pod sees the client pod's IPv6 address").isEqualTo(local);
            ch.close().sync();
        } finally {
            Netns.call(node, () -> {
                ReplyRouting.uninstall(MARK, TABLE);
                return null;
            });
        }
        assertThat(run("ip", "-6", "rule", "show", "pref", "" + TABLE)).isEmpty();
        assertThat(run("ip", "-6", "route", "show", "table", "" + TABLE)).isEmpty();
        assertThat(run("ip6tables", "-t", "mangle", "-S", "PREROUTING")).doesNotContain("--transparent");
    }

    /** A command's output in the node's namespace ({@code nsenter}: ip netns exec would remount /sys). */
    static String run(String... cmd) throws Exception {
        var all = new java.util.ArrayList<>(List.of("nsenter", "--net=" + node));
        all.addAll(List.of(cmd));
        Process p = new ProcessBuilder(all).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor()).as(String.join(" ", cmd) + ": " + out).isZero();
        return out.strip();
    }

    private static InetAddress address(String ip) {
        try {
            return InetAddress.getByName(ip);
        } catch (java.net.UnknownHostException e) {
            throw new IllegalStateException(e);
        }
    }
}
