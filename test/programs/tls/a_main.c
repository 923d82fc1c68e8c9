// expect: 42
/* Thread-local storage with a minimal static-TLS runtime. test_main reads the
 * auxiliary vector (AT_PHDR, AT_PHNUM), finds PT_TLS, builds the initial TLS
 * block in a static buffer (.tdata image copied, .tbss part zeroed) and sets
 * the thread pointer:
 *   x86-64 (variant II): the block ends at TP, the word at TP holds TP;
 *     TP is set with arch_prctl(ARCH_SET_FS).
 *   AArch64 (variant I): TP points at a 16-byte TCB, followed by padding and
 *     the block; TP is set with msr tpidr_el0.
 * The padding formulas are the general ones (as in lld) so they hold for any
 * PT_TLS p_vaddr. Variables are then read and written from this unit (default
 * model), from le.c (-ftls-model=local-exec) and ie.c (initial-exec), which
 * must all agree on each variable's address. This exercises the linker's TLS
 * layout, R_X86_64_TPOFF32 / GOTTPOFF (relaxed or through the GOT) and the
 * AArch64 TLSLE / TLSIE relocations. */
#include "../start.h"
#include "tls.h"

__thread int t = 5;
__thread int z;
__thread long arr_tls[4] = {1, 2, 3, 4};
__thread char aligned_tls __attribute__((aligned(32))) = 9;
__thread int zz[8];

typedef struct {
  unsigned int p_type, p_flags;
  unsigned long p_offset, p_vaddr, p_paddr, p_filesz, p_memsz, p_align;
} Phdr;

#define PT_PHDR 6
#define PT_TLS 7
#define AT_PHDR 3
#define AT_PHNUM 5

static unsigned char tls_area[16384] __attribute__((aligned(64)));
static unsigned long tls_block, tls_memsz, tls_template;

__attribute__((noinline)) static int setup_tls(void) {
  long *p = start_sp;
  long argc = *p++;
  p += argc + 1;        /* argv and its terminator */
  while (*p) p++;       /* envp */
  p++;
  const Phdr *ph = 0;
  unsigned long phnum = 0;
  for (; p[0]; p += 2) {
    if (p[0] == AT_PHDR) ph = (const Phdr *)p[1];
    if (p[0] == AT_PHNUM) phnum = (unsigned long)p[1];
  }
  if (!ph || !phnum) return 50;
  const Phdr *tls = 0;
  unsigned long bias = 0;
  for (unsigned long i = 0; i < phnum; i++) {
    if (ph[i].p_type == PT_TLS) tls = &ph[i];
    if (ph[i].p_type == PT_PHDR) bias = (unsigned long)ph - ph[i].p_vaddr;
  }
  if (!tls) return 51;
  unsigned long align = tls->p_align ? tls->p_align : 1;
  if (align & (align - 1) || align > 4096) return 52;
  if (align < 32) return 53; /* aligned_tls asks for 32 */
  if (tls->p_filesz > tls->p_memsz || tls->p_memsz + 2 * 4096 + 64 > sizeof tls_area) return 54;
  volatile unsigned char *area = tls_area;
  for (unsigned long i = 0; i < sizeof tls_area; i++) area[i] = 0xa5; /* poison */
  unsigned long a = (unsigned long)tls_area, tp, block;
  unsigned long tp_align = align < 16 ? 16 : align;
#if defined(__x86_64__)
  unsigned long pad = (0 - tls->p_vaddr - tls->p_memsz) & (align - 1);
  tp = (a + tls->p_memsz + pad + tp_align - 1) & ~(tp_align - 1);
  block = tp - tls->p_memsz - pad;
#else
  tp = (a + tp_align - 1) & ~(tp_align - 1);
  block = tp + 16 + ((tls->p_vaddr - 16) & (align - 1));
#endif
  const volatile unsigned char *src = (const unsigned char *)(tls->p_vaddr + bias);
  volatile unsigned char *dst = (unsigned char *)block;
  for (unsigned long i = 0; i < tls->p_filesz; i++) dst[i] = src[i];
  for (unsigned long i = tls->p_filesz; i < tls->p_memsz; i++) dst[i] = 0;
  tls_block = block;
  tls_memsz = tls->p_memsz;
  tls_template = tls->p_vaddr + bias;
#if defined(__x86_64__)
  *(unsigned long *)tp = tp;
  long ret;
  __asm__ volatile("syscall" : "=a"(ret) : "a"(158L), "D"(0x1002L), "S"(tp) : "rcx", "r11", "memory");
  if (ret != 0) return 55;
#else
  __asm__ volatile("msr tpidr_el0, %0" : : "r"(tp) : "memory");
#endif
  return 0;
}

static int in_block(const void *p, unsigned long size) {
  unsigned long v = (unsigned long)p;
  return v >= tls_block && v + size <= tls_block + tls_memsz;
}

/* Kept out of line so no thread-pointer read can be scheduled before
 * setup_tls() has set it. */
__attribute__((noinline)) static int run_checks(void) {
  /* This unit, default model. */
  if (t != 5 || z != 0 || arr_tls[3] != 4 || aligned_tls != 9 || zz[7] != 0) return 1;
  if (!in_block(&t, 4) || !in_block(&z, 4) || !in_block(arr_tls, 32) || !in_block(&aligned_tls, 1) ||
      !in_block(zz, 32))
    return 2;
  if ((unsigned long)OPAQUE(&aligned_tls) % 32) return 3;
  /* Every unit sees the same addresses. */
  if (le_addr_t() != &t || le_addr_z() != &z || le_addr_arr() != arr_tls) return 4;
  if (ie_addr_t() != &t || ie_addr_aligned() != &aligned_tls || ie_addr_zz() != zz) return 5;
  if (!in_block(ie_addr_own(), 4) || !in_block(ie_addr_own_bss(), 4)) return 6;
  if (le_read_own() != 77 || le_read_own_bss() != 0) return 7;
  /* Reads and writes through each model. */
  if (le_sum() != 5 + 0 + (1 + 2 + 3 + 4)) return 8;
  if (ie_sum() != 5 + 9 + 0 + 77) return 9;
  t = 100;
  z = 7;
  arr_tls[0] = 50;
  le_write(3);      /* t += 3, z += 3, arr_tls[1] += 3 */
  ie_write(1000);   /* aligned_tls = 1, zz[7] = 1000, ie_own += 1000 */
  if (t != 103 || z != 10 || arr_tls[0] != 50 || arr_tls[1] != 5) return 10;
  if (aligned_tls != 1 || zz[7] != 1000 || zz[6] != 0) return 11;
  if (le_read_own() != 1077 || ie_sum() != 103 + 1 + 1000 + 1077) return 12;
  /* The template in the image is untouched by TLS writes. */
  const int *tmpl_t = (const int *)(tls_template + ((unsigned long)&t - tls_block));
  if (*OPAQUE(tmpl_t) != 5) return 13;
  return 42;
}

int test_main(void) {
  int r = setup_tls();
  if (r) return r;
  return run_checks();
}
