package dev.tessera.controller.identity;

import static java.util.Objects.requireNonNull;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.atomic.LongAdder;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Remembers successful authentications so that an agent's HELLO and its CSRs (each authenticated by its
 * token) cost one TokenReview per token, not one per request. An entry lives until the token's own expiry
 * (the JWT {@code exp} claim of a projected service-account token) or {@code maxTtl}, whichever is first:
 * {@code maxTtl} bounds how long a token revoked early (its pod deleted) is still honoured, as
 * kube-apiserver's own webhook token cache does (2 min by default). At most {@code maxEntries} tokens are
 * kept, least recently used out first; refusals are never cached. Keys are SHA-256 digests of the tokens.
 * Thread-safe.
 */
public final class CachingAuthenticator implements AgentAuthenticator {

    private static final Pattern EXP = Pattern.compile("\"exp\"\\s*:\\s*(\\d{1,12})");

    private record Entry(Agent agent, Instant expires) {}

    private final AgentAuthenticator delegate;
    private final int maxEntries;
    private final Duration maxTtl;
    private final Clock clock;
    private final LinkedHashMap<String, Entry> entries;
    private final LongAdder hits = new LongAdder();
    private final LongAdder misses = new LongAdder();

    /**
     * @param delegate the authenticator whose successes are cached (a {@link TokenReviewAuthenticator})
     * @param maxEntries how many tokens are remembered at most (at least 1)
     * @param maxTtl longest time a success is reused (positive)
     * @param clock the time source
     */
    public CachingAuthenticator(AgentAuthenticator delegate, int maxEntries, Duration maxTtl, Clock clock) {
        this.delegate = requireNonNull(delegate, "delegate");
        this.clock = requireNonNull(clock, "clock");
        this.maxTtl = requireNonNull(maxTtl, "maxTtl");
        if (maxEntries < 1) {
            throw new IllegalArgumentException("maxEntries: " + maxEntries + " (expected: at least 1)");
        }
        if (maxTtl.isNegative() || maxTtl.isZero()) {
            throw new IllegalArgumentException("maxTtl: " + maxTtl + " (expected: a positive duration)");
        }
        this.maxEntries = maxEntries;
        this.entries = new LinkedHashMap<>(16, 0.75f, true) {
            @Override
            protected boolean removeEldestEntry(Map.Entry<String, Entry> eldest) {
                return size() > CachingAuthenticator.this.maxEntries;
            }
        };
    }

    @Override
    public Agent authenticate(String bearerToken) throws SvidRefusedException {
        if (bearerToken == null || bearerToken.isBlank()) {
            return delegate.authenticate(bearerToken); // refuses; nothing to cache
        }
        String key = digest(bearerToken);
        Instant now = clock.instant();
        synchronized (entries) {
            Entry e = entries.get(key);
            if (e != null && now.isBefore(e.expires())) {
                hits.increment();
                return e.agent();
            }
            if (e != null) {
                entries.remove(key);
            }
        }
        misses.increment();
        Agent agent = delegate.authenticate(bearerToken); // outside the lock: a slow review blocks nobody else
        Instant expires = now.plus(maxTtl);
        Instant exp = expiry(bearerToken);
        if (exp != null && exp.isBefore(expires)) {
            expires = exp;
        }
        if (now.isBefore(expires)) {
            synchronized (entries) {
                entries.put(key, new Entry(agent, expires));
            }
        }
        return agent;
    }

    /** Authentications answered from the cache. */
    public long hits() {
        return hits.sum();
    }

    /** Authentications passed on to the delegate. */
    public long misses() {
        return misses.sum();
    }

    /** Tokens remembered now. */
    public int size() {
        synchronized (entries) {
            return entries.size();
        }
    }

    /** The {@code exp} claim of a JWT, or null when the token is not a JWT or has none (then only maxTtl applies). */
    static Instant expiry(String token) {
        String[] parts = token.split("\\.", -1);
        if (parts.length != 3 || parts[1].length() > 8192) {
            return null;
        }
        try {
            String payload = new String(Base64.getUrlDecoder().decode(parts[1]), StandardCharsets.UTF_8);
            Matcher m = EXP.matcher(payload);
            return m.find() ? Instant.ofEpochSecond(Long.parseLong(m.group(1))) : null;
        } catch (IllegalArgumentException e) {
            return null;
        }
    }

    private static String digest(String token) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(token.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new AssertionError(e);
        }
    }
}
