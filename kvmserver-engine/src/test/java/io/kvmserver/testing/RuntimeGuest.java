package io.kvmserver.testing;

import io.kvmserver.config.KvmServerOptions;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.IntFunction;
import java.util.function.UnaryOperator;

/**
 * One real runtime serving a fixture from {@code src/test/guests} (issue 10): how to start it,
 * what it may read, what to send it on a new connection, and what the answer is after it has
 * served {@code n} requests. The same description runs natively (where the counter counts) and in
 * the engine (where every ephemeral connection must see the template's answer, {@code n = 1}).
 *
 * @param name        what test reports call it
 * @param program     the executable, every link resolved
 * @param args        its arguments; {@code PORT} (alone or as {@code HOST:PORT}) is the port
 * @param allowRead   what the guest reads besides its program and shared libraries
 * @param allowWrite  where the guest writes
 * @param env         its environment, {@code NAME=VALUE}
 * @param mainMemory  the guest's address range in bytes (JIT runtimes reserve many GiB)
 * @param request     the bytes a client sends on a new connection
 * @param httpBody    whether the answer is the body of an HTTP response (else the whole reply)
 * @param answerAfter the answer once the process has served {@code n} requests, this one included
 */
public record RuntimeGuest(String name, Path program, List<String> args, List<String> allowRead, List<String> allowWrite,
        List<String> env,
        long mainMemory, String request, boolean httpBody, IntFunction<String> answerAfter) {

    /** The engine options that run this guest (add ephemeral, threads ... on top). */
    public UnaryOperator<KvmServerOptions.Builder> options() {
        return b -> b.args(args).allowRead(allowRead).allowWrite(allowWrite).env(env).maxMainMemory(mainMemory);
    }

    /** The command line that runs this guest natively on {@code port}. */
    public List<String> nativeCommand(int port) {
        List<String> command = new ArrayList<>();
        command.add(program.toString());
        args.forEach(a -> command.add(TestServer.withPort(a, port)));
        return command;
    }

    /** Sends the request on a new connection to {@code port} and returns the answer. */
    public String ask(int port) {
        String reply = TestServer.exchange(port, request);
        if (!httpBody || reply.startsWith("ERROR:")) {
            return reply;
        }
        int body = reply.indexOf("\r\n\r\n");
        return body < 0 ? "NO-RESPONSE:" + reply : reply.substring(body + 4);
    }

    @Override
    public String toString() {
        return name;
    }
}
