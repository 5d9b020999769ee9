package dev.tessera.agent.config;

import static dev.tessera.agent.config.AgentArgs.parse;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tessera.agent.admin.LogLevels;
import dev.tessera.logging.LogFormat;
import dev.tessera.logging.LogLevel;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

class LogFlagsTest {

    @Test
    void defaultsAreTextAtInfoWithNettyAtWarn() {
        AgentConfig c = parse();
        assertThat(c.logFormat()).isEqualTo(LogFormat.TEXT);
        assertThat(c.logLevel().levelOf("dev.tessera.agent.X")).isEqualTo(LogLevel.INFO);
        assertThat(c.logLevel().levelOf("io.netty.handler.ssl.SslHandler")).isEqualTo(LogLevel.WARN);
    }

    @Test
    void levelsPerLoggerAndJson() {
        AgentConfig c = parse("--log-level", "debug,tessera.access=off,io.netty=error", "--log-format=json");
        assertThat(c.logFormat()).isEqualTo(LogFormat.JSON);
        assertThat(c.logLevel().levelOf("dev.tessera.agent.X")).isEqualTo(LogLevel.DEBUG);
        assertThat(c.logLevel().levelOf("tessera.access")).isEqualTo(LogLevel.OFF);
        assertThat(c.logLevel().levelOf("io.netty.X")).isEqualTo(LogLevel.ERROR);
    }

    @Test
    void aBadValueFailsNamingTheFlagAndTheExpectedValues() {
        assertThatThrownBy(() -> parse("--log-format", "logfmt")).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("--log-format: 'logfmt' (expected: text or json)");
        assertThatThrownBy(() -> parse("--log-level", "chatty")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("--log-level: 'chatty'").hasMessageContaining("trace|debug|info|warn|error|off");
    }

    @Test
    void theAdminApiChangesLevelsThroughTheBackend() {
        var logger = LoggerFactory.getLogger("tessera.setup.test");
        String before = LogLevels.all().getOrDefault("tessera.setup.test", "info");
        try {
            assertThat(LogLevels.set("tessera.setup.test", "debug")).isEqualTo(1);
            assertThat(logger.isDebugEnabled()).isTrue();
            assertThat(LogLevels.all()).containsEntry("tessera.setup.test", "debug");
            assertThatThrownBy(() -> LogLevels.set("x", "loud")).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("expected: trace, debug, info, warn, error or off");
        } finally {
            LogLevels.set("tessera.setup.test", before);
        }
    }
}
