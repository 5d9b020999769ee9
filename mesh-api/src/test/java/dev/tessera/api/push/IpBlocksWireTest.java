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
 * IPv6 blocks (push protocol 4) are marked by a prefix no IPv4 block has; sessions before protocol 4 never get
 * one ({@link BeforeProtocol4}).
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
    void ipv6BlocksAreAnIpv4PrefixNoBlockHasThenSixteenBytesAndAPrefix() throws Exception {
        var t = policy(List.of(IpCidr.parse("2001:db8::/32"), IpCidr.parse("198.18.0.0/15")),
                List.of(IpCidr.parse("2001:db8::1/128")));
        ByteBuf buf = Unpooled.buffer();
        MeshCodec.authorizationPolicy(new WireWriter(buf), t);
        assertThat(ByteBufUtil.hexDump(buf)).contains("00000000ff20010db800000000000000000000000020")
                .contains("c61200000f");
        assertThat(MeshCodec.authorizationPolicy(new WireReader(buf), "policy")).isEqualTo(t);
        assertThat(buf.readableBytes()).isZero();
        buf.release();
    }

    @Test
    void aDamagedIpv6BlockIsAProtocolErrorNamingTheField() {
        var t = policy(List.of(IpCidr.parse("2001:db8::/32")), List.of());
        ByteBuf buf = Unpooled.buffer();
        MeshCodec.authorizationPolicy(new WireWriter(buf), t);
        int at = ByteBufUtil.indexOf(Unpooled.wrappedBuffer(new byte[] {0x20, 0x01, 0x0d, (byte) 0xb8}), buf);
        buf.setByte(at + 16, 129); // prefix /129
        assertThatThrownBy(() -> MeshCodec.authorizationPolicy(new WireReader(buf), "policy"))
                .isInstanceOf(ProtocolException.class).hasMessageContaining("prefix: 129 (expected: 0-128)");
        buf.release();
    }
}
