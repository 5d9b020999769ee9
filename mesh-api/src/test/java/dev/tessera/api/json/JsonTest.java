package dev.tessera.api.json;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tessera.api.netns.NetworkAttachments;
import java.math.BigDecimal;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class JsonTest {

    @Test
    void readsEveryKindOfValue() {
        Object v = Json.parse(" {\"a\": [1, -2, 3.5, 1e3, true, false, null, \"x\\n\\\"y\\u00e9\\/\"], \"b\": {}} ");
        assertThat(v).isEqualTo(Map.of("a", java.util.Arrays.asList(1L, -2L, new BigDecimal("3.5"),
                new BigDecimal("1e3"), true, false, null, "x\n\"yé/"), "b", Map.of()));
        assertThat(Json.parse("[]")).isEqualTo(List.of());
        assertThat(Json.parse("\"\"")).isEqualTo("");
        assertThat(Json.parse("12345678901234567890")).isEqualTo(new BigDecimal("12345678901234567890"));
        assertThat(Json.parse("-0")).isEqualTo(0L);
    }

    @Test
    void keepsMemberOrder() {
        assertThat(Json.parseObject("{\"z\":1,\"a\":2,\"m\":3}").keySet()).containsExactly("z", "a", "m");
    }

    @Test
    void malformedInputNamesTheOffsetAndTheExpectation() {
        String[][] rows = {
            {"", "offset 0: end of input (expected: a value)"},
            {"{", "offset 1: end of input (expected: a member name in double quotes)"},
            {"{\"a\" 1}", "offset 5: '1}' (expected: ':')"},
            {"{\"a\":1,}", "offset 7: '}' (expected: a member name in double quotes)"},
            {"[1 2]", "offset 3: '2]' (expected: ',' or ']')"},
            {"[1,]", "offset 3: ']' (expected: a value)"},
            {"01", "offset 1: '1' (expected: end of document)"},
            {"1.", "offset 2: end of input (expected: a digit after '.')"},
            {"-", "offset 1: end of input (expected: a digit)"},
            {"\"abc", "offset 4: end of input (expected: a closing '\"')"},
            {"\"a\tb\"", "(expected: no control character inside a string (escape it))"},
            {"\"\\x\"", "(expected: one of"},
            {"\"\\u12\"", "(expected: four hex digits after \\u)"},
            {"tru", "(expected: a value (true, false, null, a number, a string, an object or an array))"},
            {"{} {}", "offset 3: '{}' (expected: end of document)"},
        };
        for (String[] r : rows) {
            assertThatThrownBy(() -> Json.parse(r[0])).as(r[0]).isInstanceOf(Json.JsonException.class)
                    .hasMessageContaining(r[1]);
        }
    }

    @Test
    void nestingIsBounded() {
        String deep = "[".repeat(Json.MAX_DEPTH + 1) + "]".repeat(Json.MAX_DEPTH + 1);
        assertThatThrownBy(() -> Json.parse(deep)).hasMessageContaining("deeper than " + Json.MAX_DEPTH);
        String ok = "[".repeat(Json.MAX_DEPTH) + "]".repeat(Json.MAX_DEPTH);
        assertThat(Json.parse(ok)).isInstanceOf(List.class);
        assertThatThrownBy(() -> Json.parse("1" + "0".repeat(500))).hasMessageContaining("at most 400");
    }

    @Test
    void parseObjectRefusesOtherDocuments() {
        assertThatThrownBy(() -> Json.parseObject("[1]")).hasMessage("document: an array (expected: a JSON object)");
        assertThatThrownBy(() -> Json.requireString(Map.of("a", 1L), "a", "pods[0]"))
                .hasMessage("pods[0].a: a number (expected: a string)");
        assertThatThrownBy(() -> Json.requireString(Map.of(), "a", "pods[0]"))
                .hasMessage("pods[0].a: missing (expected: a string)");
    }

    @Test
    void writesWhatItReads() {
        var m = new LinkedHashMap<String, Object>();
        m.put("s", "a\"b\\c\n\u0001\u2028");
        m.put("n", 42);
        m.put("d", 1.5);
        m.put("nan", Double.NaN);
        m.put("l", List.of(true, "x"));
        m.put("null", null);
        m.put("e", Map.of());
        String one = Json.write(m);
        assertThat(one).isEqualTo("{\"s\":\"a\\\"b\\\\c\\n\\u0001\\u2028\",\"n\":42,\"d\":1.5,\"nan\":null,"
                + "\"l\":[true,\"x\"],\"null\":null,\"e\":{}}");
        var expected = new LinkedHashMap<>(m);
        expected.put("n", 42L);
        expected.put("d", new BigDecimal("1.5"));
        expected.put("nan", null);
        assertThat(Json.parse(one)).isEqualTo(expected);
        assertThat(Json.parse(Json.writePretty(m))).isEqualTo(expected);
        assertThat(Json.writePretty(Map.of("a", List.of(1)))).isEqualTo("{\n  \"a\" : [\n    1\n  ]\n}");
    }

    @Test
    void networkAttachmentsRoundTripAndReadTheJacksonWrittenFormat() {
        var n = new NetworkAttachments("c1", List.of(new NetworkAttachments.NodeAttachment("node1", "198.18.0.1",
                "198.18.1.0/24", "/var/run/netns/c1-n-node1")), List.of(new NetworkAttachments.PodAttachment("shop",
                "api", "node1", "198.18.1.2", "/var/run/netns/c1-p-shop-api")));
        assertThat(NetworkAttachments.parse(n.toJson())).isEqualTo(n);
        // as Jackson (INDENT_OUTPUT) wrote it before the agent stopped depending on Jackson
        String jackson = "{\n  \"cluster\" : \"c1\",\n  \"nodes\" : [ {\n    \"name\" : \"node1\",\n    \"ip\" : "
                + "\"198.18.0.1\",\n    \"podCidr\" : \"198.18.1.0/24\",\n    \"netns\" : \"/var/run/netns/c1-n-node1\"\n"
                + "  } ],\n  \"pods\" : [ {\n    \"namespace\" : \"shop\",\n    \"name\" : \"api\",\n    \"node\" : "
                + "\"node1\",\n    \"ip\" : \"198.18.1.2\",\n    \"netns\" : \"/var/run/netns/c1-p-shop-api\"\n  } ]\n}";
        assertThat(NetworkAttachments.parse(jackson)).isEqualTo(n);
        assertThatThrownBy(() -> NetworkAttachments.parse("{\"cluster\":\"c\",\"pods\":[{\"name\":\"a\"}]}"))
                .hasMessage("pods[0].namespace: missing (expected: a string)");
    }
}
