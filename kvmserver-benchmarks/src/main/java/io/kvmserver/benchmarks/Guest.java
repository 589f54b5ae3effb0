package io.kvmserver.benchmarks;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A server program the server benchmarks run natively and as a guest: its command line, what the
 * engine must let it read and write, the guest memory it needs, and what a correct answer to
 * {@code GET /} looks like. In the command line and the permissions, {@code PORT} stands for the
 * port of the run and {@code WORK} for a directory of the guest's own under {@code target/}.
 * {@link Guests} declares every guest; adding one is one declaration there.
 *
 * @param key the name used on the command line ({@code --plan c:native,e1 python:...})
 * @param title what the tables call it
 * @param program absolute path of the executable
 * @param args its arguments
 * @param allowRead host paths the guest may read, besides what the engine always allows
 * @param allowWrite host paths the guest may write
 * @param env NAME=VALUE pairs of the guest's environment
 * @param mainMemory guest memory ({@code max-main-memory}), in bytes; 0 for the engine's default
 * @param bodyPrefix what every answer's body starts with
 * @param ephemeralBody the exact body in ephemeral mode, where every request meets a pristine
 *     process (a counter reads 1), or null when the body does not tell
 * @param setup writes the files the program needs in {@code WORK} (nginx's configuration), once
 *     per run, natively and in the engine alike
 */
record Guest(String key, String title, String program, List<String> args, List<String> allowRead,
        List<String> allowWrite, List<String> env, long mainMemory, String bodyPrefix, String ephemeralBody,
        Setup setup) {

    /** Writes what a guest needs into its work directory before it starts. */
    @FunctionalInterface
    interface Setup {
        Setup NONE = (work, port) -> { };

        void prepare(Path work, int port) throws IOException;
    }

    /** A guest that answers {@code bodyPrefix}, with no permissions, files or environment. */
    static Guest of(String key, String title, String program, String... args) {
        return new Guest(key, title, program, List.of(args), List.of(), List.of(), List.of(), 0, "", null,
                Setup.NONE);
    }

    /** The same guest under another key and title (a variant with other permissions, say). */
    Guest named(String newKey, String newTitle) {
        return new Guest(newKey, newTitle, program, args, allowRead, allowWrite, env, mainMemory, bodyPrefix,
                ephemeralBody, setup);
    }

    Guest reads(String... paths) {
        return new Guest(key, title, program, args, List.of(paths), allowWrite, env, mainMemory, bodyPrefix,
                ephemeralBody, setup);
    }

    Guest writes(String... paths) {
        return new Guest(key, title, program, args, allowRead, List.of(paths), env, mainMemory, bodyPrefix,
                ephemeralBody, setup);
    }

    Guest memoryMiB(long mib) {
        return new Guest(key, title, program, args, allowRead, allowWrite, env, mib << 20, bodyPrefix, ephemeralBody,
                setup);
    }

    /** Every answer's body starts with {@code prefix}; in ephemeral mode it is exactly {@code ephemeral}. */
    Guest answers(String prefix, String ephemeral) {
        return new Guest(key, title, program, args, allowRead, allowWrite, env, mainMemory, prefix, ephemeral, setup);
    }

    Guest setup(Setup files) {
        return new Guest(key, title, program, args, allowRead, allowWrite, env, mainMemory, bodyPrefix, ephemeralBody,
                files);
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
