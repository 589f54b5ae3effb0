package io.kvmserver.benchmarks;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.IntFunction;

/**
 * A server program the server benchmarks run natively and as a guest: its command line, what the
 * engine gives it ({@link Settings}), what a client sends it on a new connection and what a
 * correct answer is ({@link Exchange}). In the command line and the settings, {@code PORT} stands
 * for the port of the run and {@code WORK} for a directory of the guest's own under
 * {@code target/}. {@link Guests} declares every guest; adding one is one declaration there.
 *
 * @param key the name used on the command line ({@code --plan c:native,e1 python:...})
 * @param title what the tables call it
 * @param program absolute path of the executable
 * @param args its arguments
 * @param settings its permissions, environment and guest memory in the engine
 * @param exchange the request on each new connection, and the answers that are right
 * @param setup writes the files the program needs in {@code WORK} (nginx's configuration), once
 *     per run, natively and in the engine alike
 */
record Guest(String key, String title, String program, List<String> args, Settings settings, Exchange exchange,
        Setup setup) {

    /** Writes what a guest needs into its work directory before it starts. */
    @FunctionalInterface
    interface Setup {
        Setup NONE = (work, port) -> { };

        void prepare(Path work, int port) throws IOException;
    }

    /**
     * What the engine gives the guest: the least it must allow (found by running it with
     * {@code -v}, which logs every denial), its environment and its guest memory.
     *
     * @param allowRead host paths the guest may read, besides what the engine always allows
     * @param allowWrite host paths the guest may write
     * @param env NAME=VALUE pairs of the guest's environment (natively too)
     * @param mainMemory guest memory ({@code max-main-memory}), in bytes; 0 for the engine's default
     */
    record Settings(List<String> allowRead, List<String> allowWrite, List<String> env, long mainMemory) {

        static final Settings NONE = new Settings(List.of(), List.of(), List.of(), 0);
    }

    /**
     * One request per new connection and what its answer must be.
     *
     * @param request the bytes the client sends, then it reads to EOF
     * @param http whether the answer is an HTTP response whose status must be 200 and whose body is
     *     checked; else the whole reply is (redis)
     * @param warmupPath the HTTP path the engine's warmup requests ask for ({@code --warmup-path})
     * @param prefix what every answer (body) starts with, however many requests the process served
     * @param ephemeral the exact answer in ephemeral mode, given the number of warmup requests the
     *     template served before it froze: every request meets the template's process, so a counter
     *     of requests reads one more than the warmup requests it counted
     */
    record Exchange(String request, boolean http, String warmupPath, String prefix, IntFunction<String> ephemeral) {

        /** {@code GET path} on a new connection; the body starts with {@code prefix}. */
        static Exchange get(String path, String prefix, IntFunction<String> ephemeral) {
            return new Exchange("GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", true,
                    path, prefix, ephemeral);
        }

        /** The exact ephemeral answer after {@code warmup} warmup requests. */
        String ephemeralAnswer(int warmup) {
            return ephemeral.apply(warmup);
        }
    }

    /** A guest answering {@code GET /} with "hello", with no permissions, files or environment. */
    static Guest of(String key, String title, String program, String... args) {
        return new Guest(key, title, program, List.of(args), Settings.NONE,
                Exchange.get("/", "hello", warmup -> "hello"), Setup.NONE);
    }

    /** The same guest under another key and title (a variant with other permissions, say). */
    Guest named(String newKey, String newTitle) {
        return new Guest(newKey, newTitle, program, args, settings, exchange, setup);
    }

    Guest reads(String... paths) {
        return with(new Settings(List.of(paths), settings.allowWrite(), settings.env(), settings.mainMemory()));
    }

    Guest writes(String... paths) {
        return with(new Settings(settings.allowRead(), List.of(paths), settings.env(), settings.mainMemory()));
    }

    Guest env(String... nameValues) {
        return with(new Settings(settings.allowRead(), settings.allowWrite(), List.of(nameValues),
                settings.mainMemory()));
    }

    Guest memoryMiB(long mib) {
        return with(new Settings(settings.allowRead(), settings.allowWrite(), settings.env(), mib << 20));
    }

    private Guest with(Settings newSettings) {
        return new Guest(key, title, program, args, newSettings, exchange, setup);
    }

    /** Every answer's body starts with {@code prefix}; in ephemeral mode it is {@code ephemeral}, warmed up or not. */
    Guest answers(String prefix, String ephemeral) {
        return with(Exchange.get(exchange.warmupPath(), prefix, warmup -> ephemeral));
    }

    /**
     * The body is {@code prefix} and the number of requests the process has served, this one
     * included: in ephemeral mode, one more than the warmup requests the template served.
     */
    Guest counts(String prefix) {
        return with(Exchange.get(exchange.warmupPath(), prefix, warmup -> prefix + (warmup + 1)));
    }

    /** Asks for {@code path} instead of {@code /}, the warmup requests too; the same answers. */
    Guest path(String path) {
        return with(Exchange.get(path, exchange.prefix(), exchange.ephemeral()));
    }

    /** Any other exchange (not HTTP: redis). */
    Guest with(Exchange newExchange) {
        return new Guest(key, title, program, args, settings, newExchange, setup);
    }

    Guest setup(Setup files) {
        return new Guest(key, title, program, args, settings, exchange, files);
    }

    /** The command line with {@code PORT} and {@code WORK} filled in. */
    List<String> command(int port, Path work) {
        List<String> command = new ArrayList<>();
        command.add(program);
        command.addAll(fill(args, port, work));
        return command;
    }

    static List<String> fill(List<String> values, int port, Path work) {
        List<String> filled = new ArrayList<>(values.size());
        for (String v : values) {
            filled.add(v.replace("PORT", Integer.toString(port)).replace("WORK", work.toString()));
        }
        return filled;
    }
}
