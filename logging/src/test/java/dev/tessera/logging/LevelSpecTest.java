package dev.tessera.logging;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class LevelSpecTest {

    @Test
    void aBareLevelIsTheDefault() {
        LevelSpec s = LevelSpec.parse("DEBUG");
        assertThat(s.levelOf("anything")).isEqualTo(LogLevel.DEBUG);
    }

    @Test
    void theLongestPrefixOnADotBoundaryWins() {
        LevelSpec s = LevelSpec.parse("info,io.netty=warn,io.netty.handler=error,tessera.access=off");
        assertThat(s.levelOf("io.netty.buffer.X")).isEqualTo(LogLevel.WARN);
        assertThat(s.levelOf("io.netty.handler.ssl.SslHandler")).isEqualTo(LogLevel.ERROR);
        assertThat(s.levelOf("io.netty")).isEqualTo(LogLevel.WARN);
        assertThat(s.levelOf("io.nettyx.Y")).isEqualTo(LogLevel.INFO);
        assertThat(s.levelOf("tessera.access")).isEqualTo(LogLevel.OFF);
        assertThat(s.levelOf("tessera.setup")).isEqualTo(LogLevel.INFO);
    }

    @Test
    void aBadValueNamesTheFlagAndTheExpectedValues() {
        assertThatThrownBy(() -> LevelSpec.parse("verbose")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("--log-level: 'verbose'").hasMessageContaining("trace|debug|info|warn|error|off");
        assertThatThrownBy(() -> LevelSpec.parse("info,io.netty=loud")).hasMessageContaining("'io.netty=loud'");
        assertThatThrownBy(() -> LevelSpec.parse("info,=debug")).hasMessageContaining("--log-level");
        assertThatThrownBy(() -> LevelSpec.parse(" ")).hasMessageContaining("--log-level");
    }

    @Test
    void aBadFormatNamesTheFlagAndTheExpectedValues() {
        assertThat(LogFormat.parse("JSON")).isEqualTo(LogFormat.JSON);
        assertThatThrownBy(() -> LogFormat.parse("yaml")).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("--log-format: 'yaml' (expected: text or json)");
    }

    @Test
    void settingADefaultReplacesNarrowerLevelsAndAPrefixReplacesItsChildren() {
        LevelSpec s = LevelSpec.parse("info,io.netty=warn,a.b.c=error");
        assertThat(s.with("", LogLevel.DEBUG).levelOf("io.netty.X")).isEqualTo(LogLevel.DEBUG);
        LevelSpec t = s.with("a", LogLevel.TRACE);
        assertThat(t.levelOf("a.b.c.D")).isEqualTo(LogLevel.TRACE);
        assertThat(t.levelOf("io.netty.X")).isEqualTo(LogLevel.WARN);
    }
}
