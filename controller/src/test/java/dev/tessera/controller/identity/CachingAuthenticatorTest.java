package dev.tessera.controller.identity;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.Base64;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** TokenReview results reused until the token expires (or at most maxTtl), bounded, refusals never cached. */
class CachingAuthenticatorTest {

    private Instant now = Instant.parse("2026-12-06T10:00:00Z");
    private final Clock clock = new Clock() {
        @Override
        public ZoneOffset getZone() {
            return ZoneOffset.UTC;
        }

        @Override
        public Clock withZone(java.time.ZoneId zone) {
            return this;
        }

        @Override
        public Instant instant() {
            return now;
        }
    };
    private final AtomicInteger reviews = new AtomicInteger();
    private final AgentAuthenticator reviewer = token -> {
        reviews.incrementAndGet();
        if (token.contains("bad")) {
            throw new SvidRefusedException(RefusalReason.TOKEN_INVALID, "token rejected by TokenReview");
        }
        return new AgentAuthenticator.Agent("tessera-system", "tessera-node-agent", "node-" + token.length());
    };

    private static String jwt(Instant exp) {
        var b64 = Base64.getUrlEncoder().withoutPadding();
        return b64.encodeToString("{\"alg\":\"RS256\"}".getBytes(StandardCharsets.UTF_8)) + "."
                + b64.encodeToString(("{\"aud\":[\"tessera-controller\"],\"exp\":" + exp.getEpochSecond()
                        + ",\"sub\":\"system:serviceaccount:tessera-system:tessera-node-agent\"}").getBytes(StandardCharsets.UTF_8))
                + ".c2lnbmF0dXJl";
    }

    @Test
    void aTokenIsReviewedOnceUntilItExpires() throws Exception {
        var cache = new CachingAuthenticator(reviewer, 16, Duration.ofMinutes(10), clock);
        String token = jwt(now.plusSeconds(60));
        var first = cache.authenticate(token);
        assertThat(cache.authenticate(token)).isEqualTo(first);
        now = now.plusSeconds(59);
        cache.authenticate(token);
        assertThat(reviews).hasValue(1);
        now = now.plusSeconds(1); // the token's exp
        cache.authenticate(token);
        assertThat(reviews).as("an expired token is reviewed again (and refused by the API server)").hasValue(2);
        assertThat(cache.hits()).isEqualTo(2);
        assertThat(cache.misses()).isEqualTo(2);
    }

    @Test
    void aLongLivedOrOpaqueTokenIsReusedAtMostMaxTtl() throws Exception {
        var cache = new CachingAuthenticator(reviewer, 16, Duration.ofMinutes(2), clock);
        String longLived = jwt(now.plus(Duration.ofDays(365)));
        String opaque = "not-a-jwt-token";
        cache.authenticate(longLived);
        cache.authenticate(opaque);
        now = now.plus(Duration.ofMinutes(2)).minusSeconds(1);
        cache.authenticate(longLived);
        cache.authenticate(opaque);
        assertThat(reviews).hasValue(2);
        now = now.plusSeconds(1);
        cache.authenticate(longLived);
        cache.authenticate(opaque);
        assertThat(reviews).hasValue(4);
    }

    @Test
    void refusalsAreNeverCached() {
        var cache = new CachingAuthenticator(reviewer, 16, Duration.ofMinutes(2), clock);
        for (int i = 0; i < 3; i++) {
            assertThatThrownBy(() -> cache.authenticate("bad-token")).isInstanceOf(SvidRefusedException.class);
        }
        assertThat(reviews).hasValue(3);
        assertThat(cache.size()).isZero();
    }

    @Test
    void theCacheIsBoundedLeastRecentlyUsedFirstOut() throws Exception {
        var cache = new CachingAuthenticator(reviewer, 2, Duration.ofMinutes(2), clock);
        cache.authenticate("token-a");
        cache.authenticate("token-b");
        cache.authenticate("token-a"); // a is now the most recently used
        cache.authenticate("token-c"); // evicts b
        assertThat(cache.size()).isEqualTo(2);
        assertThat(reviews).hasValue(3);
        cache.authenticate("token-a");
        assertThat(reviews).hasValue(3);
        cache.authenticate("token-b");
        assertThat(reviews).hasValue(4);
    }

    @Test
    void anExpiredTokenIsNotCachedAndExpiryIsReadFromTheJwtPayloadOnly() throws Exception {
        var cache = new CachingAuthenticator(reviewer, 16, Duration.ofMinutes(2), clock);
        cache.authenticate(jwt(now.minusSeconds(1)));
        assertThat(cache.size()).isZero();
        assertThat(CachingAuthenticator.expiry("a.b")).isNull();
        assertThat(CachingAuthenticator.expiry("a.!!!.c")).isNull();
        assertThat(CachingAuthenticator.expiry(jwt(Instant.ofEpochSecond(1_800_000_000L))))
                .isEqualTo(Instant.ofEpochSecond(1_800_000_000L));
        assertThatThrownBy(() -> new CachingAuthenticator(reviewer, 0, Duration.ofMinutes(1), clock))
                .hasMessage("maxEntries: 0 (expected: at least 1)");
    }
}
