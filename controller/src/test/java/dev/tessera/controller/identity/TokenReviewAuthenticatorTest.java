package dev.tessera.controller.identity;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tessera.api.identity.CertificateAuthority;
import dev.tessera.api.identity.SpiffeId;
import io.fabric8.kubernetes.api.model.StatusBuilder;
import io.fabric8.kubernetes.api.model.authentication.TokenReviewBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** API-server answers the token authenticator must not trust; each test installs one canned answer. */
@EnableKubernetesMockClient(crud = true)
class TokenReviewAuthenticatorTest {

    static KubernetesMockServer server;
    static KubernetesClient client;

    private static final String PATH = "/apis/authentication.k8s.io/v1/tokenreviews";

    private AgentAuthenticator authenticator() {
        return new TokenReviewAuthenticator(client, "tessera-controller", Set.of());
    }

    private static void answer(String username, List<String> audiences, String node) {
        var user = new TokenReviewBuilder().withNewStatus().withAuthenticated(true).withAudiences(audiences)
                .withNewUser().withUsername(username);
        if (node != null) {
            user.addToExtra(TokenReviewAuthenticator.NODE_NAME_EXTRA, List.of(node));
        }
        server.expect().post().withPath(PATH).andReturn(201, user.endUser().endStatus().build()).once();
    }

    private void assertRefused(RefusalReason reason, String messagePart) {
        assertThatThrownBy(() -> authenticator().authenticate("some-token"))
                .isInstanceOfSatisfying(SvidRefusedException.class, e -> assertThat(e.reason()).isEqualTo(reason))
                .hasMessageContaining(messagePart);
    }

    @Test
    void acceptsANodeBoundServiceAccountToken() throws Exception {
        answer("system:serviceaccount:tessera-system:agent", List.of("tessera-controller"), "node7");
        assertThat(authenticator().authenticate("some-token"))
                .isEqualTo(new AgentAuthenticator.Agent("tessera-system", "agent", "node7"));
    }

    @Test
    void refusesWhenTheTokenReviewCannotBeMade() {
        // The client retries the 500; the retry reaches the CRUD store, which cannot review tokens (422).
        server.expect().post().withPath(PATH).andReturn(500,
                new StatusBuilder().withCode(500).withMessage("etcd down").build()).once();
        assertRefused(RefusalReason.TOKEN_REVIEW_FAILED, "TokenReview failed: HTTP 422");
    }

    @Test
    void refusesAnAnswerForAnotherAudience() {
        answer("system:serviceaccount:tessera-system:agent", List.of("kubernetes"), "node7");
        assertRefused(RefusalReason.TOKEN_INVALID, "(expected: tessera-controller)");
    }

    @Test
    void refusesUsersThatAreNotServiceAccounts() {
        answer("kubernetes-admin", List.of("tessera-controller"), "node7");
        assertRefused(RefusalReason.CALLER_NOT_AGENT, "user kubernetes-admin");
    }
}
