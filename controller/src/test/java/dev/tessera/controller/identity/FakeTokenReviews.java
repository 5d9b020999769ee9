package dev.tessera.controller.identity;

import io.fabric8.kubernetes.api.model.authentication.TokenReview;
import io.fabric8.kubernetes.api.model.authentication.TokenReviewBuilder;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.fabric8.kubernetes.client.utils.Serialization;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The API server's token authenticator for tests: the fabric8 mock server cannot answer TokenReviews
 * (422), so this installs a canned responder that authenticates the tokens registered here, checking
 * the requested audience like kube-apiserver does, and rejects every other token.
 */
public final class FakeTokenReviews {

    record Token(String username, String node, String audience) {}

    private final Map<String, Token> tokens = new ConcurrentHashMap<>();

    public FakeTokenReviews(KubernetesMockServer server) {
        server.expect().post().withPath("/apis/authentication.k8s.io/v1/tokenreviews")
                .andReply(201, request -> review(Serialization.unmarshal(request.getUtf8Body(), TokenReview.class)))
                .always();
    }

    /** Registers a valid node-bound service-account token. */
    public FakeTokenReviews add(String token, String namespace, String serviceAccount, String node, String audience) {
        tokens.put(token, new Token("system:serviceaccount:" + namespace + ":" + serviceAccount, node, audience));
        return this;
    }

    private TokenReview review(TokenReview in) {
        Token t = tokens.get(in.getSpec().getToken());
        List<String> audiences = in.getSpec().getAudiences();
        var b = new TokenReviewBuilder(in).withNewStatus();
        if (t == null || audiences == null || !audiences.contains(t.audience())) {
            return b.withAuthenticated(false).withError("[invalid bearer token, token lookup failed]").endStatus().build();
        }
        var user = b.withAuthenticated(true).withAudiences(t.audience()).withNewUser().withUsername(t.username());
        if (t.node() != null) {
            user.addToExtra(TokenReviewAuthenticator.NODE_NAME_EXTRA, List.of(t.node()));
        }
        return user.endUser().endStatus().build();
    }
}
