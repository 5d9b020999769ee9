package dev.tessera.api.push;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tessera.api.net.IpCidr;
import dev.tessera.api.policy.AuthorizationPolicy;
import dev.tessera.api.policy.AuthorizationPolicy.Action;
import dev.tessera.api.policy.Translation;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Policy ipBlocks on the wire: IPv4 blocks keep their u32 network + u8 prefix (what every agent so far reads);
 * IPv6 blocks cannot be written before push protocol 4 and say so instead of being dropped or mangled.
 */
class IpBlocksWireTest {

    private static Translation<AuthorizationPolicy> policy(List<IpCidr> blocks, List<IpCidr> notBlocks) {
        var source = new AuthorizationPolicy.Source(List.of(), List.of(), List.of(), List.of(), blocks, notBlocks);
        var p = new AuthorizationPolicy("shop", "p", null, Action.ALLOW,
                List.of(new AuthorizationPolicy.Rule(List.of(source), List.of())));
        return new Translation<>("AuthorizationPolicy", p.namespace(), p.name(), p, List.of(), null, Action.ALLOW);
    }

    @Test
    void ipv4BlocksAreU32NetworkThenU8PrefixAndRoundTrip() throws Exception {
        var t = policy(List.of(IpCidr.parse("198.18.0.0/15")), List.of(IpCidr.parse("198.19.4.7/32")));
        ByteBuf buf = Unpooled.buffer();
        MeshCodec.authorizationPolicy(new WireWriter(buf), t);
        String hex = ByteBufUtil.hexDump(buf);
        assertThat(hex).contains("c61200000f").contains("c613040720"); // 198.18.0.0 /15, 198.19.4.7 /32
        assertThat(MeshCodec.authorizationPolicy(new WireReader(buf), "policy")).isEqualTo(t);
        assertThat(buf.readableBytes()).isZero();
    }

    @Test
    void ipv6BlocksNeedProtocol4() {
        for (var t : List.of(policy(List.of(IpCidr.parse("2001:db8::/32")), List.of()),
                policy(List.of(), List.of(IpCidr.parse("2001:db8::1/128"))))) {
            assertThatThrownBy(() -> MeshCodec.authorizationPolicy(new WireWriter(Unpooled.buffer()), t))
                    .isInstanceOf(IllegalStateException.class).hasMessage("IPv6 ipBlocks need push protocol 4");
        }
    }
}
