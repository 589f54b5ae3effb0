package io.kvmserver.server;

import io.kvmserver.config.InvalidOptionException;
import io.kvmserver.config.KvmServerOptions;
import io.kvmserver.config.Option;
import io.kvmserver.elf.DynamicDependencies;
import io.kvmserver.elf.ElfException;
import io.kvmserver.elf.ElfFile;
import io.kvmserver.kvm.Kvm;
import io.kvmserver.host.LibC;
import io.kvmserver.linux.ConsoleFile;
import io.kvmserver.linux.Denials;
import io.kvmserver.linux.FdTable;
import io.kvmserver.linux.GuestConsole;
import io.kvmserver.linux.HostFile;
import io.kvmserver.linux.Kernel;
import io.kvmserver.linux.RouteSocket;
import io.kvmserver.host.OpenFlags;
import io.kvmserver.linux.SyscallTable;
import io.kvmserver.sandbox.EnvironmentPolicy;
import io.kvmserver.sandbox.FileSystemPolicy;
import io.kvmserver.sandbox.NetworkPolicy;
import io.kvmserver.vm.GuestVm;
import io.kvmserver.vm.TrapPathCheck;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;

/**
 * A program ready to boot: its ELF file (and dynamic loader) read and validated, its
 * permissions, environment and argv decided. Everything that can be wrong with the user's input
 * is found here, before any VM exists.
 */
public final class Program implements AutoCloseable {

    private final KvmServerOptions options;
    private final ElfFile executable;
    private final ElfFile interpreter;
    private final Kernel kernel;
    private final List<String> argv;

    private Program(KvmServerOptions options, ElfFile executable, ElfFile interpreter, Kernel kernel,
            List<String> argv) {
        this.options = options;
        this.executable = executable;
        this.interpreter = interpreter;
        this.kernel = kernel;
        this.argv = argv;
    }

    /** Reads and validates the program; throws {@link ElfException} with a user-facing message. */
    public static Program prepare(KvmServerOptions options, GuestConsole console, Map<String, String> hostEnv) {
        Path path = Path.of(options.program());
        if (!path.isAbsolute()) {
            path = Path.of(options.cwd()).resolve(path).normalize();
        }
        ElfFile executable = ElfFile.read(path);
        if (!hasExecuteBit(path)) {
            // As execve(2), which refuses a file without an execute bit to everyone, root too. (A
            // noexec mount is not checked: the engine loads the file, the host never executes it,
            // and the starter's classpath: programs are extracted to a tmpdir often mounted so.)
            throw new ElfException("program " + path + " is not executable: it has no execute permission (chmod +x "
                    + path + ")");
        }
        ElfFile interpreter = null;
        if (executable.interpreter() != null) {
            Path loader;
            try {
                loader = Path.of(executable.interpreter());
            } catch (InvalidPathException e) {
                throw new ElfException("program " + path + " names a dynamic loader whose path this JVM cannot use ("
                        + e.getReason() + "; its file names are " + System.getProperty("sun.jnu.encoding")
                        + "): run the JVM with a UTF-8 locale (LANG=C.UTF-8), or link the program statically");
            }
            if (!Files.exists(loader)) {
                // Before the grant is asked for: no grant makes a missing loader appear.
                throw new ElfException("program " + path + " is dynamically linked, but its dynamic loader " + loader
                        + " does not exist on this host: link the program statically, or install the C library it"
                        + " was built for");
            }
            List<Path> homes = DynamicDependencies.homes(executable);
            if (!DynamicDependencies.isWhereLibrariesAre(loader, homes) && !mayReadExplicitly(options, loader)) {
                // The engine reads the loader into the guest's memory: a file the program names
                // there is one it reads, so it must be a grant's or where loaders are.
                throw new ElfException("program " + path + " names " + loader + " as its dynamic loader, which is"
                        + " neither in a system library directory (" + String.join(", ",
                                DynamicDependencies.SYSTEM_DIRECTORIES) + ") nor in the program's own directory:"
                        + " allow it with " + options.nameOf(Option.ALLOW_READ) + "=" + loader);
            }
            try {
                interpreter = ElfFile.read(loader);
            } catch (ElfException e) {
                throw new ElfException("program " + path + " is dynamically linked, but its dynamic loader cannot"
                        + " be used: " + e.getMessage());
            }
            // The name was checked before the file was opened, and may have been made a link to
            // anything since: the file read must pass the same check, or its bytes would be the
            // guest's to read.
            if (!DynamicDependencies.isInLibraryDirectory(interpreter.realPath(), homes)
                    && !mayReadExplicitly(options, interpreter.realPath())) {
                throw new ElfException("program " + path + " names " + loader + " as its dynamic loader, which"
                        + " changed while it was read: it is now " + interpreter.realPath());
            }
            if (interpreter.interpreter() != null || !interpreter.isPositionIndependent()) {
                throw new ElfException("dynamic loader " + interpreter.path() + " of " + path
                        + " is not a position-independent, self-contained loader");
            }
        }
        RouteSocket route = options.routeAddress().isEmpty() ? null : RouteSocket.create(options.routeAddress());
        FileSystemPolicy policy = new FileSystemPolicy(options, path, executable.realPath(),
                DynamicDependencies.of(executable, interpreter));
        List<String> env = new EnvironmentPolicy(options).guestEnvironment(hostEnv);
        List<String> argv = new ArrayList<>();
        argv.add(options.program());
        argv.addAll(options.args());
        try {
            checkWorkingDirectory(options, policy);
            checkArgumentSize(options, argv, env);
        } catch (InvalidOptionException e) {
            policy.close();
            if (route != null) {
                route.close();
            }
            throw e;
        }
        // -Dkvmserver.trace=true is the trace's older spelling, kept as an alias of the option.
        boolean trace = options.trace() || Boolean.getBoolean("kvmserver.trace");
        Kernel.Tracing tracing = trace ? Kernel.Tracing.ALL
                : options.traceHostCalls() ? Kernel.Tracing.HOST_CALLS : Kernel.Tracing.OFF;
        NetworkPolicy network = new NetworkPolicy(options);
        Kernel kernel = new Kernel(SyscallTable.standard(), policy, network, console, path.toString(), env,
                new Denials(options.naming(), options.verbose()), tracing, route);
        return new Program(options, executable, interpreter, kernel, List.copyOf(argv));
    }

    /** Linux's bound on one argument or environment string, its NUL included ({@code MAX_ARG_STRLEN}). */
    private static final int MAX_ARG_STRLEN = 32 * 4096;

    /**
     * What {@code execve(2)} refuses with {@code E2BIG}: a string longer than
     * {@value #MAX_ARG_STRLEN} bytes, or strings and their pointers together over a quarter of the
     * stack. The engine writes them onto the guest's stack, which they must leave room on (past
     * it, they overwrote the memory below it).
     */
    private static void checkArgumentSize(KvmServerOptions options, List<String> argv, List<String> env) {
        long total = 0;
        for (List<String> strings : List.of(argv, env)) {
            for (String string : strings) {
                int length = string.getBytes(StandardCharsets.UTF_8).length + 1;
                if (length > MAX_ARG_STRLEN) {
                    Option option = strings == argv ? Option.ARGS : Option.ENV;
                    throw new InvalidOptionException(option, options.nameOf(option), "an "
                            + (strings == argv ? "argument" : "environment variable") + " of the program ("
                            + options.nameOf(option) + ") is " + length + " bytes long (" + string.substring(0, Math.min(40, string.length()))
                            + "...), longer than the " + MAX_ARG_STRLEN + " bytes Linux allows one", null);
                }
                total += length + 8;
            }
        }
        long limit = GuestVm.STACK_SIZE / 4;
        if (total > limit) {
            throw new InvalidOptionException(Option.ARGS, options.nameOf(Option.ARGS), "the program's arguments and"
                    + " environment take " + total + " bytes, more than the " + (limit >> 20) + " MiB Linux allows"
                    + " them (a quarter of the program's " + (GuestVm.STACK_SIZE >> 20) + " MiB stack): shorten "
                    + options.nameOf(Option.ARGS) + " or " + options.nameOf(Option.ENV)
                    + " (or pass fewer host variables with " + options.nameOf(Option.ALLOW_ENV) + ")", null);
        }
    }

    /**
     * The program's working directory must be a directory on the host (through the volume that
     * holds it, if one does), as a process can only be started in one: a path that is missing or a
     * file is refused, where the program would see every relative path fail. Outside the grants is
     * allowed (the guest's default working directory, the JVM's, usually is): the program then
     * reaches nothing through it, as a process whose working directory it may not search.
     */
    private static void checkWorkingDirectory(KvmServerOptions options, FileSystemPolicy policy) {
        String cwd = options.cwd();
        Path directory = policy.hostPathOf(cwd);
        if (!Files.isDirectory(directory)) {
            String name = options.nameOf(Option.CWD);
            throw new InvalidOptionException(Option.CWD, name, name + " " + cwd
                    + (Files.exists(directory) ? " is not a directory" : " does not exist")
                    + (directory.toString().equals(cwd) ? "" : " (" + directory + " on the host, through its volume)")
                    + ": the program's working directory must be an existing directory", null);
        }
    }

    /** Whether any of the file's execute bits is set (owner, group or others), as execve requires of root. */
    private static boolean hasExecuteBit(Path file) {
        try {
            Set<PosixFilePermission> mode = Files.getPosixFilePermissions(file);
            return mode.contains(PosixFilePermission.OWNER_EXECUTE)
                    || mode.contains(PosixFilePermission.GROUP_EXECUTE)
                    || mode.contains(PosixFilePermission.OTHERS_EXECUTE);
        } catch (IOException | UnsupportedOperationException e) {
            return true; // no POSIX modes to go by: ElfFile.read has read it, let it run
        }
    }

    /** Whether the operator's own grants let the guest read the host file {@code file}. */
    private static boolean mayReadExplicitly(KvmServerOptions options, Path file) {
        if (options.allowAll()) {
            return true;
        }
        Path real;
        try {
            real = file.toRealPath();
        } catch (IOException e) {
            return false; // missing: ElfFile.read says so
        }
        return Stream.concat(options.allowRead().stream(), options.allowWrite().stream())
                .map(Path::of).anyMatch(grant -> file.normalize().startsWith(grant) && real.startsWith(grant));
    }

    public KvmServerOptions options() {
        return options;
    }

    public Kernel kernel() {
        return kernel;
    }

    /** Creates the VM with the program loaded at its entry point; stdin reads as empty. */
    public GuestVm boot(Kvm kvm) {
        TrapPathCheck.verify(kvm);
        checkAddressWidth(kvm);
        FdTable files = new FdTable();
        int devNull = LibC.open("/dev/null\0".getBytes(StandardCharsets.US_ASCII),
                LibC.O_RDWR | LibC.O_CLOEXEC | OpenFlags.O_NONBLOCK, 0);
        files.install(HostFile.opened(devNull, OpenFlags.O_RDONLY, "/dev/null", "/dev/null"), 0, false);
        files.install(new ConsoleFile(kernel.console(), 1), 1, false);
        files.install(new ConsoleFile(kernel.console(), 2), 2, false);
        try {
            return GuestVm.boot(kvm, kernel, executable, interpreter, argv, guestCwd(), options.maxMainMemory(),
                    options.maxAddressSpace(), files);
        } catch (ElfException e) {
            throw e.named(options.naming());
        }
    }

    /**
     * The guest's memory spans its address space, and the system call doorbell lies just above
     * it, so all of it must be a guest-physical address this machine's vCPUs can form (CPUID
     * 0x80000008); beyond that every system call would fault.
     */
    private void checkAddressWidth(Kvm kvm) {
        int bits = kvm.guestPhysicalAddressBits();
        long highest = GuestVm.highestPhysicalAddress(options.maxAddressSpace());
        if (highest >= 1L << bits) {
            Option option = Option.MAX_ADDRESS_SPACE;
            throw new InvalidOptionException(option, options.naming().nameOf(option) + " ("
                    + options.maxAddressSpace() / (1L << 20) + " MiB) is more than this machine's virtual machines can"
                    + " address: " + bits + "-bit guest-physical addresses (" + (1L << bits >> 30) + " GiB), and the"
                    + " engine's page tables live above the address space; lower it");
        }
    }

    /** Flushes the program's output and releases what its policies hold. */
    @Override
    public void close() {
        kernel.close();
    }

    private String guestCwd() {
        String cwd = options.cwd();
        return cwd == null || cwd.isEmpty() ? "/" : cwd;
    }
}
