package dev.tessera.logging;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import org.junit.jupiter.api.Test;

class LineWriterTest {

    /**
     * The writer thread parks without a timeout when it has nothing to write (an idle process's log writer does not
     * wake), so each line must wake it: here every line is offered to a parked writer and must reach the output
     * without a {@code flush()}.
     */
    @Test
    void aLineOfferedToAParkedWriterIsWrittenByItsThread() {
        var out = new ByteArrayOutputStream(); // synchronized: written by the writer thread, read here
        var writer = new LineWriter(out, 16, lost -> lost + " lost\n");
        for (int i = 0; i < 3; i++) {
            assertThat(writer.offer("line " + i + "\n")).isTrue();
            String expected = "line " + i + "\n";
            await().atMost(Duration.ofSeconds(5)).until(() -> out.toString(StandardCharsets.UTF_8).endsWith(expected));
            await().atMost(Duration.ofSeconds(5)).until(writer::parked);
        }
        assertThat(out.toString(StandardCharsets.UTF_8)).isEqualTo("line 0\nline 1\nline 2\n");
    }
}
