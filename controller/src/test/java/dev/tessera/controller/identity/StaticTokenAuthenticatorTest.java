package dev.tessera.controller.identity;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import org.junit.jupiter.api.Test;

class StaticTokenAuthenticatorTest {

    private static final String T1 = "0123456789abcdef0123";
    private static final String T2 = "fedcba9876543210fedc";

    @Test
    void eachTokenNamesOneNode() throws Exception {
        var auth = StaticTokenAuthenticator.parse("tokens", List.of("# token,node[,ns/sa]", "", T1 + ",node1",
                T2 + ",node2,kube-system/agent"));
        assertThat(auth.size()).isEqualTo(2);
        assertThat(auth.authenticate(T1)).isEqualTo(new AgentAuthenticator.Agent("tessera-system", "tessera-agent", "node1"));
        assertThat(auth.authenticate(" " + T2 + "\n")).isEqualTo(new AgentAuthenticator.Agent("kube-system", "agent", "node2"));
    }

    @Test
    void refusesUnknownAndMissingTokens() {
        var auth = StaticTokenAuthenticator.parse("tokens", List.of(T1 + ",node1"));
        assertThatThrownBy(() -> auth.authenticate(T2)).isInstanceOfSatisfying(SvidRefusedException.class,
                e -> assertThat(e.reason()).isEqualTo(RefusalReason.TOKEN_INVALID));
        assertThatThrownBy(() -> auth.authenticate(T1.substring(1))).isInstanceOf(SvidRefusedException.class);
        assertThatThrownBy(() -> auth.authenticate(null)).isInstanceOfSatisfying(SvidRefusedException.class,
                e -> assertThat(e.reason()).isEqualTo(RefusalReason.TOKEN_MISSING));
    }

    @Test
    void badLinesNameTheLineAndTheExpectedShape() {
        assertThatThrownBy(() -> StaticTokenAuthenticator.parse("f", List.of("", T1)))
                .hasMessage("f:2: '<" + T1.length() + " characters>' (expected: token,node[,namespace/serviceAccount])");
        assertThatThrownBy(() -> StaticTokenAuthenticator.parse("f", List.of("short,node1")))
                .hasMessage("f:1: token of 5 characters (expected: at least 16)");
        assertThatThrownBy(() -> StaticTokenAuthenticator.parse("f", List.of(T1 + ",node1,agent")))
                .hasMessage("f:1: service account 'agent' (expected: namespace/serviceAccount)");
        assertThatThrownBy(() -> StaticTokenAuthenticator.parse("f", List.of(T1 + ",node1", T1 + ",node2")))
                .hasMessage("f:2: duplicate token (expected: one token per agent)");
    }
}
