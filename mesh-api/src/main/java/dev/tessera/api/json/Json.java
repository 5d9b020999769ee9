package dev.tessera.api.json;

import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A small, strict JSON (RFC 8259) reader and writer for the few documents the agent reads and writes: the
 * container runtime's sandbox specs, {@code network.json}, the admin API's views and the access log. It
 * keeps the agent free of Jackson (class metadata and start-up time; see ARCHITECTURE.md).
 *
 * <p>Reading gives {@link Map} (insertion-ordered), {@link List}, {@link String}, {@link Long} (integers that
 * fit), {@link BigDecimal} (other numbers), {@link Boolean} and {@code null}. Bad input fails with a
 * {@link JsonException} naming the offset and what was expected; nesting is bounded ({@value #MAX_DEPTH}) so a
 * hostile document cannot overflow the stack.
 */
public final class Json {

    /** Deepest nesting of objects and arrays a document may have. */
    public static final int MAX_DEPTH = 64;

    private final String in;
    private int pos;

    private Json(String in) {
        this.in = in;
    }

    /** A malformed document: the message names the offset and what was expected there. */
    public static final class JsonException extends IllegalArgumentException {
        JsonException(String message) {
            super(message);
        }
    }

    /** Parses one JSON value (with nothing but whitespace after it). */
    public static Object parse(String text) {
        var p = new Json(text);
        p.ws();
        Object v = p.value(0);
        p.ws();
        if (p.pos != p.in.length()) {
            throw p.error("end of document");
        }
        return v;
    }

    /** Parses a document whose top level must be an object. */
    @SuppressWarnings("unchecked")
    public static Map<String, Object> parseObject(String text) {
        Object v = parse(text);
        if (!(v instanceof Map)) {
            throw new JsonException("document: " + typeName(v) + " (expected: a JSON object)");
        }
        return (Map<String, Object>) v;
    }

    private Object value(int depth) {
        if (pos >= in.length()) {
            throw error("a value");
        }
        char c = in.charAt(pos);
        switch (c) {
            case '{':
                return object(depth + 1);
            case '[':
                return array(depth + 1);
            case '"':
                return string();
            case 't':
                return literal("true", Boolean.TRUE);
            case 'f':
                return literal("false", Boolean.FALSE);
            case 'n':
                return literal("null", null);
            default:
                if (c == '-' || (c >= '0' && c <= '9')) {
                    return number();
                }
                throw error("a value");
        }
    }

    private Map<String, Object> object(int depth) {
        checkDepth(depth);
        pos++; // {
        var out = new LinkedHashMap<String, Object>();
        ws();
        if (peek() == '}') {
            pos++;
            return out;
        }
        while (true) {
            ws();
            if (peek() != '"') {
                throw error("a member name in double quotes");
            }
            String key = string();
            ws();
            expect(':');
            ws();
            out.put(key, value(depth));
            ws();
            char c = next("',' or '}'");
            if (c == '}') {
                return out;
            }
            if (c != ',') {
                pos--;
                throw error("',' or '}'");
            }
        }
    }

    private List<Object> array(int depth) {
        checkDepth(depth);
        pos++; // [
        var out = new ArrayList<Object>();
        ws();
        if (peek() == ']') {
            pos++;
            return out;
        }
        while (true) {
            ws();
            out.add(value(depth));
            ws();
            char c = next("',' or ']'");
            if (c == ']') {
                return out;
            }
            if (c != ',') {
                pos--;
                throw error("',' or ']'");
            }
        }
    }

    private String string() {
        pos++; // "
        StringBuilder b = null;
        int start = pos;
        while (true) {
            if (pos >= in.length()) {
                throw error("a closing '\"'");
            }
            char c = in.charAt(pos);
            if (c == '"') {
                String s = b == null ? in.substring(start, pos) : b.append(in, start, pos).toString();
                pos++;
                return s;
            }
            if (c < 0x20) {
                throw error("no control character inside a string (escape it)");
            }
            if (c != '\\') {
                pos++;
                continue;
            }
            if (b == null) {
                b = new StringBuilder();
            }
            b.append(in, start, pos);
            pos++;
            char e = next("an escape character");
            switch (e) {
                case '"', '\\', '/' -> b.append(e);
                case 'b' -> b.append('\b');
                case 'f' -> b.append('\f');
                case 'n' -> b.append('\n');
                case 'r' -> b.append('\r');
                case 't' -> b.append('\t');
                case 'u' -> {
                    if (pos + 4 > in.length()) {
                        throw error("four hex digits after \\u");
                    }
                    int cp = 0;
                    for (int i = 0; i < 4; i++) {
                        int d = Character.digit(in.charAt(pos + i), 16);
                        if (d < 0) {
                            throw error("four hex digits after \\u");
                        }
                        cp = cp * 16 + d;
                    }
                    pos += 4;
                    b.append((char) cp);
                }
                default -> {
                    pos--;
                    throw error("one of \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX");
                }
            }
            start = pos;
        }
    }

    private Object number() {
        int start = pos;
        if (peek() == '-') {
            pos++;
        }
        if (peek() == '0') {
            pos++;
        } else if (isDigit(peek())) {
            digits();
        } else {
            throw error("a digit");
        }
        boolean integral = true;
        if (peek() == '.') {
            integral = false;
            pos++;
            if (!isDigit(peek())) {
                throw error("a digit after '.'");
            }
            digits();
        }
        if (peek() == 'e' || peek() == 'E') {
            integral = false;
            pos++;
            if (peek() == '+' || peek() == '-') {
                pos++;
            }
            if (!isDigit(peek())) {
                throw error("a digit in the exponent");
            }
            digits();
        }
        String text = in.substring(start, pos);
        if (integral && text.length() <= 18) {
            return Long.parseLong(text);
        }
        if (text.length() > 400) {
            throw new JsonException("number at offset " + start + ": " + text.length() + " characters (expected: at most 400)");
        }
        return new BigDecimal(text);
    }

    private void digits() {
        while (isDigit(peek())) {
            pos++;
        }
    }

    private static boolean isDigit(char c) {
        return c >= '0' && c <= '9';
    }

    private Object literal(String word, Object value) {
        if (!in.startsWith(word, pos)) {
            throw error("a value (true, false, null, a number, a string, an object or an array)");
        }
        pos += word.length();
        return value;
    }

    private void checkDepth(int depth) {
        if (depth > MAX_DEPTH) {
            throw new JsonException("nesting at offset " + pos + ": deeper than " + MAX_DEPTH + " (expected: at most "
                    + MAX_DEPTH + " nested objects and arrays)");
        }
    }

    private void ws() {
        while (pos < in.length()) {
            char c = in.charAt(pos);
            if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
                return;
            }
            pos++;
        }
    }

    private char peek() {
        return pos < in.length() ? in.charAt(pos) : '\0';
    }

    private char next(String expected) {
        if (pos >= in.length()) {
            throw error(expected);
        }
        return in.charAt(pos++);
    }

    private void expect(char c) {
        if (peek() != c) {
            throw error("'" + c + "'");
        }
        pos++;
    }

    private JsonException error(String expected) {
        String found = pos >= in.length() ? "end of input"
                : "'" + in.substring(pos, Math.min(in.length(), pos + 12)).replaceAll("\\p{Cntrl}", "?") + "'";
        return new JsonException("JSON at offset " + pos + ": " + found + " (expected: " + expected + ")");
    }

    private static String typeName(Object v) {
        if (v == null) {
            return "null";
        }
        if (v instanceof List) {
            return "an array";
        }
        if (v instanceof String) {
            return "a string";
        }
        return v instanceof Boolean ? "a boolean" : "a number";
    }

    // ---- reading helpers -------------------------------------------------------------------------------

    /** The member {@code name} of {@code object} when it is a string, else null. */
    public static String string(Map<String, Object> object, String name) {
        return object.get(name) instanceof String s ? s : null;
    }

    /** The member {@code name} of {@code object} when it is an object, else an empty map. */
    @SuppressWarnings("unchecked")
    public static Map<String, Object> object(Map<String, Object> object, String name) {
        return object.get(name) instanceof Map<?, ?> m ? (Map<String, Object>) m : Map.of();
    }

    /** The member {@code name} of {@code object} when it is an array, else an empty list. */
    @SuppressWarnings("unchecked")
    public static List<Object> array(Map<String, Object> object, String name) {
        return object.get(name) instanceof List<?> l ? (List<Object>) l : List.of();
    }

    /** The member {@code name}: a string, or a {@link JsonException} naming {@code where.name}. */
    public static String requireString(Map<String, Object> object, String name, String where) {
        Object v = object.get(name);
        if (!(v instanceof String s)) {
            throw new JsonException(where + "." + name + ": " + (v == null && !object.containsKey(name) ? "missing"
                    : typeName(v)) + " (expected: a string)");
        }
        return s;
    }

    // ---- writing ---------------------------------------------------------------------------------------

    /** One line of JSON: maps, iterables, strings, numbers, booleans and null ({@code toString()} otherwise). */
    public static String write(Object value) {
        var b = new StringBuilder(128);
        write(b, value, false, 0);
        return b.toString();
    }

    /** Indented JSON (two spaces), for people. */
    public static String writePretty(Object value) {
        var b = new StringBuilder(256);
        write(b, value, true, 0);
        return b.toString();
    }

    private static void write(StringBuilder b, Object v, boolean pretty, int level) {
        if (v == null) {
            b.append("null");
        } else if (v instanceof String s) {
            quote(b, s);
        } else if (v instanceof Boolean || v instanceof Integer || v instanceof Long || v instanceof Short
                || v instanceof Byte || v instanceof BigDecimal || v instanceof java.math.BigInteger) {
            b.append(v);
        } else if (v instanceof Number n) {
            double d = n.doubleValue();
            b.append(Double.isFinite(d) ? Double.toString(d) : "null");
        } else if (v instanceof Map<?, ?> m) {
            b.append('{');
            boolean first = true;
            for (var e : m.entrySet()) {
                b.append(first ? "" : ",");
                first = false;
                newline(b, pretty, level + 1);
                quote(b, String.valueOf(e.getKey()));
                b.append(pretty ? " : " : ":");
                write(b, e.getValue(), pretty, level + 1);
            }
            if (!first) {
                newline(b, pretty, level);
            }
            b.append('}');
        } else if (v instanceof Iterable<?> it) {
            b.append('[');
            boolean first = true;
            for (Object o : it) {
                b.append(first ? "" : ",");
                first = false;
                newline(b, pretty, level + 1);
                write(b, o, pretty, level + 1);
            }
            if (!first) {
                newline(b, pretty, level);
            }
            b.append(']');
        } else if (v instanceof Object[] arr) {
            write(b, java.util.Arrays.asList(arr), pretty, level);
        } else {
            quote(b, v.toString());
        }
    }

    private static void newline(StringBuilder b, boolean pretty, int level) {
        if (pretty) {
            b.append('\n').append("  ".repeat(level));
        }
    }

    /** Appends {@code s} as a JSON string, escaping quotes, backslashes and control characters. */
    public static void quote(StringBuilder b, String s) {
        b.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> b.append("\\\"");
                case '\\' -> b.append("\\\\");
                case '\n' -> b.append("\\n");
                case '\r' -> b.append("\\r");
                case '\t' -> b.append("\\t");
                default -> {
                    if (c < 0x20 || c == 0x2028 || c == 0x2029) {
                        b.append(String.format("\\u%04x", (int) c));
                    } else {
                        b.append(c);
                    }
                }
            }
        }
        b.append('"');
    }
}
