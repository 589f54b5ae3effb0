/*
 * Host program (not a guest): finds the vDSO image's functions the two ways programs do, and
 * prints "NAME dl=OFFSET sysv=OFFSET" for each name on the command line (-1: not found).
 *
 *   dl    glibc's own loader: dlopen + dlvsym(name, "LINUX_2.6"), through DT_GNU_HASH
 *   sysv  a parser of the kind Go's runtime and musl carry: program headers, PT_DYNAMIC,
 *         DT_HASH, DT_SYMTAB, DT_STRTAB, DT_VERSYM and DT_VERDEF, written from the ELF spec
 *
 * Usage: vdso_lookup IMAGE NAME...
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <elf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

static unsigned long elf_hash(const char *name) {
    unsigned long h = 0, g;
    for (; *name; name++) {
        h = (h << 4) + (unsigned char) *name;
        if ((g = h & 0xf0000000)) {
            h ^= g >> 24;
        }
        h &= ~g;
    }
    return h;
}

/* Offset of NAME at version VERSION from the image's load address, or -1. */
static long sysv_lookup(const unsigned char *image, const char *name, const char *version) {
    const Elf64_Ehdr *eh = (const Elf64_Ehdr *) image;
    const Elf64_Phdr *ph = (const Elf64_Phdr *) (image + eh->e_phoff);
    long bias = -1;
    const Elf64_Dyn *dyn = NULL;
    for (int i = 0; i < eh->e_phnum; i++) {
        if (ph[i].p_type == PT_LOAD && bias < 0) {
            bias = (long) ph[i].p_offset - (long) ph[i].p_vaddr;
        } else if (ph[i].p_type == PT_DYNAMIC) {
            dyn = (const Elf64_Dyn *) (image + ph[i].p_offset);
        }
    }
    if (bias < 0 || dyn == NULL) {
        return -1;
    }
    const Elf32_Word *hash = NULL;
    const Elf64_Sym *symtab = NULL;
    const char *strtab = NULL;
    const Elf64_Versym *versym = NULL;
    const Elf64_Verdef *verdef = NULL;
    for (; dyn->d_tag != DT_NULL; dyn++) {
        const unsigned char *p = image + bias + dyn->d_un.d_ptr;
        switch (dyn->d_tag) {
        case DT_HASH: hash = (const Elf32_Word *) p; break;
        case DT_SYMTAB: symtab = (const Elf64_Sym *) p; break;
        case DT_STRTAB: strtab = (const char *) p; break;
        case DT_VERSYM: versym = (const Elf64_Versym *) p; break;
        case DT_VERDEF: verdef = (const Elf64_Verdef *) p; break;
        }
    }
    if (hash == NULL || symtab == NULL || strtab == NULL || versym == NULL || verdef == NULL) {
        return -1;
    }
    int wanted = -1;
    for (const Elf64_Verdef *d = verdef;; d = (const Elf64_Verdef *) ((const char *) d + d->vd_next)) {
        const Elf64_Verdaux *aux = (const Elf64_Verdaux *) ((const char *) d + d->vd_aux);
        if (!(d->vd_flags & VER_FLG_BASE) && d->vd_hash == elf_hash(version)
            && strcmp(strtab + aux->vda_name, version) == 0) {
            wanted = d->vd_ndx;
        }
        if (d->vd_next == 0) {
            break;
        }
    }
    Elf32_Word nbucket = hash[0];
    const Elf32_Word *bucket = hash + 2, *chain = hash + 2 + nbucket;
    for (Elf32_Word i = bucket[elf_hash(name) % nbucket]; i != STN_UNDEF; i = chain[i]) {
        const Elf64_Sym *s = &symtab[i];
        if (strcmp(strtab + s->st_name, name) == 0 && ELF64_ST_TYPE(s->st_info) == STT_FUNC
            && s->st_shndx != SHN_UNDEF && (versym[i] & 0x7fff) == wanted) {
            return (long) s->st_value;
        }
    }
    return -1;
}

int main(int argc, char **argv) {
    FILE *f = fopen(argv[1], "rb");
    if (f == NULL) {
        perror(argv[1]);
        return 2;
    }
    unsigned char *image = mmap(NULL, 1 << 16, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    size_t size = fread(image, 1, 1 << 16, f);
    fclose(f);
    void *handle = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (handle == NULL) {
        printf("dlopen: %s\n", dlerror());
        return 1;
    }
    /* The load address: where the ELF header is mapped. */
    Dl_info info;
    void *any = dlvsym(handle, "__vdso_clock_gettime", "LINUX_2.6");
    char *base = any != NULL && dladdr(any, &info) ? (char *) info.dli_fbase : NULL;
    for (int i = 2; i < argc; i++) {
        void *p = dlvsym(handle, argv[i], "LINUX_2.6");
        printf("%s dl=%ld sysv=%ld\n", argv[i], p != NULL && base != NULL ? (long) ((char *) p - base) : -1L,
               size > 0 ? sysv_lookup(image, argv[i], "LINUX_2.6") : -1L);
    }
    return 0;
}
