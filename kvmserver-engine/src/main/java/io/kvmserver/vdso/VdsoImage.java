package io.kvmserver.vdso;

import io.kvmserver.x86.GuestLayout;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * The guest's vDSO: an ELF shared object around {@link VdsoCode}, written here field by field from
 * the ELF specification ({@code <elf.h>}), as small as the C libraries and runtimes that parse a
 * vDSO themselves need it. glibc (static and dynamic) looks up {@code __vdso_clock_gettime} and
 * friends with version {@code LINUX_2.6} through {@code DT_GNU_HASH} or {@code DT_HASH},
 * {@code DT_VERSYM} and {@code DT_VERDEF}; Go and musl walk the same tables. Both hash tables
 * are present, each function is exported as {@code __vdso_NAME} and as the weak alias
 * {@code NAME}, both at version {@code LINUX_2.6}, and section headers let {@code readelf},
 * {@code objdump} and debuggers show it all.
 *
 * <p>Linked at address 0, position-independent, with no relocations and one read-and-execute
 * {@code PT_LOAD}: the engine maps it at {@link GuestLayout#VDSO} and the loader computes its bias
 * from there. The time page it reads sits one page below ({@link GuestLayout#VVAR}).
 *
 * <p>Layout: ELF header, program headers, the dynamic-linking tables, the code at
 * {@link VdsoCode#TEXT_OFFSET}, then the section names and headers.
 */
public final class VdsoImage {

    public static final String SONAME = "linux-vdso.so.1";
    public static final String VERSION = "LINUX_2.6";
    public static final String PREFIX = "__vdso_";

    // <elf.h>
    private static final int ELF_HEADER_SIZE = 64;
    private static final int PHDR_SIZE = 56;
    private static final int SHDR_SIZE = 64;
    private static final int SYM_SIZE = 24;
    private static final int DYN_SIZE = 16;
    private static final short ET_DYN = 3;
    private static final short EM_X86_64 = 62;
    private static final int PT_LOAD = 1;
    private static final int PT_DYNAMIC = 2;
    private static final int PF_X = 1;
    private static final int PF_R = 4;
    private static final int SHT_PROGBITS = 1;
    private static final int SHT_STRTAB = 3;
    private static final int SHT_HASH = 5;
    private static final int SHT_DYNAMIC = 6;
    private static final int SHT_DYNSYM = 11;
    private static final int SHT_GNU_HASH = 0x6ffffff6;
    private static final int SHT_GNU_VERDEF = 0x6ffffffd;
    private static final int SHT_GNU_VERSYM = 0x6fffffff;
    private static final long SHF_ALLOC = 2;
    private static final long SHF_EXECINSTR = 4;
    private static final long DT_NULL = 0;
    private static final long DT_HASH = 4;
    private static final long DT_STRTAB = 5;
    private static final long DT_SYMTAB = 6;
    private static final long DT_STRSZ = 10;
    private static final long DT_SYMENT = 11;
    private static final long DT_SONAME = 14;
    private static final long DT_GNU_HASH = 0x6ffffef5L;
    private static final long DT_VERSYM = 0x6ffffff0L;
    private static final long DT_VERDEF = 0x6ffffffcL;
    private static final long DT_VERDEFNUM = 0x6ffffffdL;
    private static final int STB_GLOBAL = 1;
    private static final int STB_WEAK = 2;
    private static final int STT_FUNC = 2;
    private static final short VER_FLG_BASE = 1;
    /** Version index of {@code LINUX_2.6} (1 is the base version, the soname). */
    private static final short VERSION_INDEX = 2;

    // Section header indices, in file order.
    private static final int SEC_HASH = 1;
    private static final int SEC_GNU_HASH = 2;
    private static final int SEC_DYNSYM = 3;
    private static final int SEC_DYNSTR = 4;
    private static final int SEC_VERSYM = 5;
    private static final int SEC_VERDEF = 6;
    private static final int SEC_DYNAMIC = 7;
    private static final int SEC_TEXT = 8;
    private static final int SEC_SHSTRTAB = 9;
    private static final String[] SECTION_NAMES = {"", ".hash", ".gnu.hash", ".dynsym", ".dynstr",
        ".gnu.version", ".gnu.version_d", ".dynamic", ".text", ".shstrtab"};

    /** Built once; after the constants {@link #build} uses. */
    private static final byte[] IMAGE = build();

    private VdsoImage() {
    }

    /** The image, at most {@link GuestLayout#VDSO_SIZE} bytes. */
    public static byte[] bytes() {
        return IMAGE.clone();
    }

    /** One dynamic symbol: an exported function. */
    private record Symbol(String name, int binding, long value, long size) {
    }

    /** One section: where it is in the file (and the image: linked at 0, the same) and its header fields. */
    private record Section(int type, long flags, int offset, int size, int link, int info, int align, int entsize) {
    }

    private static byte[] build() {
        byte[] code = VdsoCode.text();
        List<Symbol> symbols = new ArrayList<>();
        symbols.add(new Symbol("", 0, 0, 0));
        for (VdsoCode.Function f : VdsoCode.FUNCTIONS) {
            long address = VdsoCode.TEXT_OFFSET + f.offset();
            symbols.add(new Symbol(PREFIX + f.name(), STB_GLOBAL, address, VdsoCode.size(f)));
            symbols.add(new Symbol(f.name(), STB_WEAK, address, VdsoCode.size(f)));
        }
        StringTable dynstr = new StringTable();
        int soname = dynstr.add(SONAME);
        int version = dynstr.add(VERSION);
        int[] symbolNames = symbols.stream().mapToInt(s -> dynstr.add(s.name())).toArray();

        ByteBuffer b = ByteBuffer.allocate((int) GuestLayout.VDSO_SIZE).order(ByteOrder.LITTLE_ENDIAN);
        Section[] sections = new Section[SECTION_NAMES.length];
        int at = ELF_HEADER_SIZE + 2 * PHDR_SIZE;

        at = align(at, 8);
        b.position(at);
        writeSysvHash(b, symbols);
        sections[SEC_HASH] = new Section(SHT_HASH, SHF_ALLOC, at, b.position() - at, SEC_DYNSYM, 0, 8, 4);

        at = align(b.position(), 8);
        b.position(at);
        writeGnuHash(b, symbols);
        sections[SEC_GNU_HASH] = new Section(SHT_GNU_HASH, SHF_ALLOC, at, b.position() - at, SEC_DYNSYM, 0, 8, 0);

        at = align(b.position(), 8);
        b.position(at);
        for (int i = 0; i < symbols.size(); i++) {
            Symbol s = symbols.get(i);
            b.putInt(symbolNames[i]);
            b.put((byte) (i == 0 ? 0 : (s.binding() << 4) | STT_FUNC));
            b.put((byte) 0); // STV_DEFAULT
            b.putShort((short) (i == 0 ? 0 : SEC_TEXT));
            b.putLong(s.value());
            b.putLong(s.size());
        }
        // sh_info of a symbol table: one past the last local symbol (only the null one).
        sections[SEC_DYNSYM] = new Section(SHT_DYNSYM, SHF_ALLOC, at, b.position() - at, SEC_DYNSTR, 1, 8, SYM_SIZE);

        at = b.position();
        b.put(dynstr.bytes());
        sections[SEC_DYNSTR] = new Section(SHT_STRTAB, SHF_ALLOC, at, b.position() - at, 0, 0, 1, 0);

        at = align(b.position(), 2);
        b.position(at);
        for (int i = 0; i < symbols.size(); i++) {
            b.putShort(i == 0 ? 0 : VERSION_INDEX); // 0: VER_NDX_LOCAL for the null symbol
        }
        sections[SEC_VERSYM] = new Section(SHT_GNU_VERSYM, SHF_ALLOC, at, b.position() - at, SEC_DYNSYM, 0, 2, 2);

        at = align(b.position(), 8);
        b.position(at);
        writeVerdef(b, VER_FLG_BASE, (short) 1, elfHash(SONAME), soname, true);
        writeVerdef(b, (short) 0, VERSION_INDEX, elfHash(VERSION), version, false);
        sections[SEC_VERDEF] = new Section(SHT_GNU_VERDEF, SHF_ALLOC, at, b.position() - at, SEC_DYNSTR, 2, 8, 0);

        at = align(b.position(), 8);
        b.position(at);
        long[][] dynamic = {
            {DT_SONAME, soname},
            {DT_HASH, sections[SEC_HASH].offset()},
            {DT_GNU_HASH, sections[SEC_GNU_HASH].offset()},
            {DT_STRTAB, sections[SEC_DYNSTR].offset()},
            {DT_SYMTAB, sections[SEC_DYNSYM].offset()},
            {DT_STRSZ, sections[SEC_DYNSTR].size()},
            {DT_SYMENT, SYM_SIZE},
            {DT_VERSYM, sections[SEC_VERSYM].offset()},
            {DT_VERDEF, sections[SEC_VERDEF].offset()},
            {DT_VERDEFNUM, 2},
            {DT_NULL, 0},
        };
        for (long[] entry : dynamic) {
            b.putLong(entry[0]).putLong(entry[1]);
        }
        // Read-only: the image is mapped without write permission, and loaders know not to
        // relocate a vDSO's dynamic section in place.
        sections[SEC_DYNAMIC] = new Section(SHT_DYNAMIC, SHF_ALLOC, at, b.position() - at, SEC_DYNSTR, 0, 8, DYN_SIZE);

        if (b.position() > VdsoCode.TEXT_OFFSET) {
            throw new IllegalStateException("vDSO tables (" + b.position() + " bytes) overlap the code at "
                    + VdsoCode.TEXT_OFFSET);
        }
        b.position(VdsoCode.TEXT_OFFSET);
        b.put(code);
        int loadEnd = b.position();
        sections[SEC_TEXT] = new Section(SHT_PROGBITS, SHF_ALLOC | SHF_EXECINSTR, VdsoCode.TEXT_OFFSET, code.length,
                0, 0, 16, 0);

        StringTable shstrtab = new StringTable();
        int[] sectionNames = new int[SECTION_NAMES.length];
        for (int i = 0; i < SECTION_NAMES.length; i++) {
            sectionNames[i] = shstrtab.add(SECTION_NAMES[i]);
        }
        at = b.position();
        b.put(shstrtab.bytes());
        sections[SEC_SHSTRTAB] = new Section(SHT_STRTAB, 0, at, b.position() - at, 0, 0, 1, 0);

        int sectionHeaders = align(b.position(), 8);
        b.position(sectionHeaders);
        b.put(new byte[SHDR_SIZE]); // SHN_UNDEF
        for (int i = 1; i < sections.length; i++) {
            Section s = sections[i];
            boolean loaded = (s.flags() & SHF_ALLOC) != 0;
            b.putInt(sectionNames[i]).putInt(s.type()).putLong(s.flags()).putLong(loaded ? s.offset() : 0)
                    .putLong(s.offset()).putLong(s.size()).putInt(s.link()).putInt(s.info())
                    .putLong(s.align()).putLong(s.entsize());
        }
        int end = b.position();

        b.position(0);
        b.put(new byte[] {0x7f, 'E', 'L', 'F', 2 /* 64-bit */, 1 /* little-endian */, 1 /* EV_CURRENT */,
            0 /* ELFOSABI_SYSV */, 0, 0, 0, 0, 0, 0, 0, 0});
        b.putShort(ET_DYN).putShort(EM_X86_64).putInt(1);
        b.putLong(0); // e_entry: none
        b.putLong(ELF_HEADER_SIZE); // e_phoff
        b.putLong(sectionHeaders); // e_shoff
        b.putInt(0); // e_flags
        b.putShort((short) ELF_HEADER_SIZE).putShort((short) PHDR_SIZE).putShort((short) 2);
        b.putShort((short) SHDR_SIZE).putShort((short) sections.length).putShort((short) SEC_SHSTRTAB);
        // PT_LOAD: the whole image up to the end of the code, read and execute.
        b.putInt(PT_LOAD).putInt(PF_R | PF_X).putLong(0).putLong(0).putLong(0).putLong(loadEnd).putLong(loadEnd)
                .putLong(GuestLayout.PAGE_SIZE);
        Section dyn = sections[SEC_DYNAMIC];
        b.putInt(PT_DYNAMIC).putInt(PF_R).putLong(dyn.offset()).putLong(dyn.offset()).putLong(dyn.offset())
                .putLong(dyn.size()).putLong(dyn.size()).putLong(8);

        byte[] image = new byte[end];
        b.position(0);
        b.get(image);
        return image;
    }

    /** {@code DT_HASH}: nbucket, nchain, buckets, chains; the classic System V table. */
    private static void writeSysvHash(ByteBuffer b, List<Symbol> symbols) {
        int nbucket = 3;
        int[] bucket = new int[nbucket];
        int[] chain = new int[symbols.size()];
        for (int i = 1; i < symbols.size(); i++) {
            int h = (int) (elfHash(symbols.get(i).name()) % nbucket);
            chain[i] = bucket[h];
            bucket[h] = i;
        }
        b.putInt(nbucket).putInt(symbols.size());
        for (int x : bucket) {
            b.putInt(x);
        }
        for (int x : chain) {
            b.putInt(x);
        }
    }

    /**
     * {@code DT_GNU_HASH} with one bucket: every exported symbol (all but the null one) is in its
     * chain, in symbol-table order, each chain word its hash with bit 0 marking the last. The
     * one-word Bloom filter has both bits of every symbol set (shift 6).
     */
    private static void writeGnuHash(ByteBuffer b, List<Symbol> symbols) {
        int symoffset = 1;
        int bloomShift = 6;
        long bloom = 0;
        for (int i = symoffset; i < symbols.size(); i++) {
            int h = gnuHash(symbols.get(i).name());
            bloom |= 1L << (Integer.toUnsignedLong(h) % 64) | 1L << ((Integer.toUnsignedLong(h) >>> bloomShift) % 64);
        }
        b.putInt(1).putInt(symoffset).putInt(1).putInt(bloomShift);
        b.putLong(bloom);
        b.putInt(symoffset); // bucket 0: the first symbol of its chain
        for (int i = symoffset; i < symbols.size(); i++) {
            int h = gnuHash(symbols.get(i).name()) & ~1;
            b.putInt(i == symbols.size() - 1 ? h | 1 : h);
        }
    }

    /** One {@code Elf64_Verdef} with its single {@code Elf64_Verdaux} (20 + 8 bytes). */
    private static void writeVerdef(ByteBuffer b, short flags, short index, long hash, int name, boolean more) {
        b.putShort((short) 1).putShort(flags).putShort(index).putShort((short) 1);
        b.putInt((int) hash).putInt(20).putInt(more ? 28 : 0);
        b.putInt(name).putInt(0);
    }

    /** The System V ELF hash ({@code DT_HASH}, {@code vd_hash}). */
    static long elfHash(String name) {
        long h = 0;
        for (byte c : name.getBytes(StandardCharsets.US_ASCII)) {
            h = (h << 4) + (c & 0xff);
            long g = h & 0xf000_0000L;
            if (g != 0) {
                h ^= g >>> 24;
            }
            h &= ~g;
        }
        return h & 0xffff_ffffL;
    }

    /** The GNU hash (Bernstein's, {@code h * 33 + c} from 5381). */
    static int gnuHash(String name) {
        int h = 5381;
        for (byte c : name.getBytes(StandardCharsets.US_ASCII)) {
            h = h * 33 + (c & 0xff);
        }
        return h;
    }

    private static int align(int value, int alignment) {
        return (value + alignment - 1) & -alignment;
    }

    /** NUL-terminated strings after a leading NUL, as {@code .dynstr} and {@code .shstrtab} want. */
    private static final class StringTable {
        private final ByteArrayOutputStream bytes = new ByteArrayOutputStream();

        StringTable() {
            bytes.write(0);
        }

        int add(String s) {
            if (s.isEmpty()) {
                return 0;
            }
            int offset = bytes.size();
            bytes.writeBytes(s.getBytes(StandardCharsets.US_ASCII));
            bytes.write(0);
            return offset;
        }

        byte[] bytes() {
            return bytes.toByteArray();
        }
    }
}
