package io.kvmserver.autoconfigure.route;

import java.nio.charset.Charset;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.function.BiConsumer;
import org.eclipse.jetty.http.HttpField;
import org.eclipse.jetty.http.HttpFields;
import org.springframework.http.HttpHeaders;

/**
 * The headers of a routed request on its way to the program, and of its answer on the way back,
 * as a proxy must treat them (RFC 9110, section 7.6.1): hop-by-hop headers, and those the
 * {@code Connection} header names, concern one connection and are dropped; the program learns
 * where the request came from through {@code X-Forwarded-For}, {@code -Proto}, {@code -Host} and
 * {@code -Port}, each appended to what an earlier proxy may have set (the last value is the
 * application's own view). The connection to the program is the request's alone, and is closed
 * after it: ephemeral request VMs serve one connection each. The server's sensitive headers
 * ({@code route.sensitive-headers}: credentials, cookies, HSTS by default) pass neither way.
 */
final class ForwardedHeaders {

    private static final Set<String> HOP_BY_HOP = Set.of("connection", "keep-alive", "proxy-authenticate",
            "proxy-authorization", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade");

    private ForwardedHeaders() {
    }

    /**
     * The client's request as the route saw it.
     *
     * @param method the HTTP method
     * @param path the raw (still encoded) path
     * @param query the raw query, or null
     * @param headers the request's headers
     * @param remoteAddress the client's address
     * @param scheme http or https
     * @param port the port the application received the request on
     */
    record Incoming(String method, String path, String query, HttpHeaders headers, String remoteAddress, String scheme,
            int port) {

        /** The path and query as the request line carries them, one leading slash (as Tomcat normalizes). */
        String target() {
            String single = path.replaceFirst("^/+", "/");
            return (query != null) ? single + "?" + query : single;
        }

        /** The length of the request's body: -1 when unknown (chunked), 0 when it has none. */
        long contentLength() {
            long length = headers.getContentLength();
            if (length >= 0) {
                return length;
            }
            String encoding = headers.getFirst(HttpHeaders.TRANSFER_ENCODING);
            return (encoding != null && !encoding.isBlank()) ? -1 : 0;
        }

    }

    /** The headers the program receives: not the {@code sensitive} ones (lower-case names). */
    static void toProgram(Incoming request, Set<String> sensitive, HttpFields.Mutable out) {
        Set<String> dropped = connectionHeaders(request.headers().get(HttpHeaders.CONNECTION));
        dropped.addAll(sensitive);
        dropped.add("expect"); // 100-continue is the application's to answer: it reads the body
        request.headers().forEach((name, values) -> {
            if (!dropped.contains(name.toLowerCase(Locale.ROOT))) {
                values.forEach((value) -> out.add(name, value));
            }
        });
        String host = request.headers().getFirst(HttpHeaders.HOST);
        append(out, "X-Forwarded-For", request.remoteAddress());
        append(out, "X-Forwarded-Proto", request.scheme());
        if (host != null) {
            append(out, "X-Forwarded-Host", host);
        }
        append(out, "X-Forwarded-Port", String.valueOf(request.port()));
        out.put("Connection", "close");
    }

    /** The program's answer headers, as the client receives them: not the {@code sensitive} ones (lower-case names). */
    static void toClient(HttpFields programHeaders, Set<String> sensitive, BiConsumer<String, String> out) {
        Set<String> dropped = connectionHeaders(programHeaders.getValuesList("Connection"));
        dropped.addAll(sensitive);
        for (HttpField field : programHeaders) {
            if (!dropped.contains(field.getLowerCaseName())) {
                out.accept(field.getName(), field.getValue());
            }
        }
    }

    /**
     * A {@code Content-Type} without a charset parameter the JVM does not know (the rest of it
     * kept as the program wrote it). Parameters are split as Tomcat reads them: at semicolons
     * outside quoted strings, a name before the first {@code =} with the spaces around it
     * dropped (the review of 2026-12-05 passed {@code charset =nope} by Tomcat's warning).
     */
    static String withKnownCharset(String contentType) {
        List<String> parts = new ArrayList<>();
        StringBuilder part = new StringBuilder();
        boolean quoted = false;
        for (int i = 0; i < contentType.length(); i++) {
            char c = contentType.charAt(i);
            if (c == '"') {
                quoted = !quoted;
            }
            else if (c == '\\' && quoted && i + 1 < contentType.length()) {
                part.append(c);
                c = contentType.charAt(++i);
            }
            else if (c == ';' && !quoted) {
                parts.add(part.toString());
                part.setLength(0);
                continue;
            }
            part.append(c);
        }
        parts.add(part.toString());
        StringBuilder kept = new StringBuilder(parts.get(0));
        for (String parameter : parts.subList(1, parts.size())) {
            int equals = parameter.indexOf('=');
            boolean charset = equals > 0 && parameter.substring(0, equals).strip().equalsIgnoreCase("charset");
            if (!charset || isKnownCharset(parameter.substring(equals + 1).strip())) {
                kept.append(';').append(parameter);
            }
        }
        return kept.toString();
    }

    private static boolean isKnownCharset(String name) {
        String unquoted = (name.length() >= 2 && name.startsWith("\"") && name.endsWith("\""))
                ? name.substring(1, name.length() - 1) : name;
        try {
            return Charset.isSupported(unquoted);
        }
        catch (IllegalArgumentException ex) {
            return false; // an illegal name (empty, or characters no charset name has)
        }
    }

    private static Set<String> connectionHeaders(List<String> connection) {
        Set<String> dropped = new HashSet<>(HOP_BY_HOP);
        if (connection != null) {
            for (String value : connection) {
                for (String token : value.split(",")) {
                    dropped.add(token.strip().toLowerCase(Locale.ROOT));
                }
            }
        }
        return dropped;
    }

    private static void append(HttpFields.Mutable headers, String name, String value) {
        String earlier = headers.get(name);
        headers.put(name, (earlier != null) ? earlier + ", " + value : value);
    }

}
