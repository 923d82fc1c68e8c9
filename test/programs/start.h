/*
 * start.h: entry point and system calls for the linker test corpus.
 *
 * There is no libc and no crt0. `_start` (top-level assembly, in its own
 * section .text._start) passes the initial stack pointer to start_c(), which
 * records it in `start_sp` (programs that need the auxiliary vector read it
 * from there), calls the program's `int test_main(void)` and exits with its
 * return value through the raw exit system call.
 *
 * Every unit of a program may include this header, but exactly one must do so
 * without defining START_NO_ENTRY first: that unit gets `_start`.
 *
 * x86-64:  entered with %rsp 16-byte aligned; we realign anyway and `call`
 *          pushes the return address as a C function expects.
 *          exit = syscall 60 (status in %edi), write = syscall 1.
 * AArch64: sp is 16-byte aligned on entry. exit = syscall 93 (x8), write = 64.
 */
#ifndef TEST_PROGRAMS_START_H
#define TEST_PROGRAMS_START_H

#ifdef __cplusplus
extern "C" {
#endif

int test_main(void);

static inline __attribute__((noreturn)) void sys_exit(int status) {
#if defined(__x86_64__)
  __asm__ volatile("syscall" : : "a"(60L), "D"((long)status) : "rcx", "r11", "memory");
#elif defined(__aarch64__)
  register long x0 __asm__("x0") = status;
  register long x8 __asm__("x8") = 93;
  __asm__ volatile("svc #0" : : "r"(x0), "r"(x8) : "memory");
#endif
  for (;;) {
  }
}

static inline long write(int fd, const void *buf, unsigned long n) {
#if defined(__x86_64__)
  long ret;
  __asm__ volatile("syscall"
                   : "=a"(ret)
                   : "a"(1L), "D"((long)fd), "S"(buf), "d"(n)
                   : "rcx", "r11", "memory");
  return ret;
#elif defined(__aarch64__)
  register long x0 __asm__("x0") = fd;
  register long x1 __asm__("x1") = (long)buf;
  register long x2 __asm__("x2") = (long)n;
  register long x8 __asm__("x8") = 64;
  __asm__ volatile("svc #0" : "+r"(x0) : "r"(x1), "r"(x2), "r"(x8) : "memory");
  return x0;
#endif
}

/* Hide a value from the optimiser (so alignment and address checks are not
 * folded at compile time). */
#define OPAQUE(x) ({ __auto_type opaque_v_ = (x); __asm__("" : "+r"(opaque_v_)); opaque_v_; })

static inline unsigned long str_len(const char *s) {
  unsigned long n = 0;
  while (s[n]) n++;
  return n;
}

static inline int str_eq(const char *a, const char *b) {
  while (*a && *a == *b) {
    a++;
    b++;
  }
  return *a == *b;
}

static inline void puts1(const char *s) { write(1, s, str_len(s)); }

#ifndef START_NO_ENTRY

/* The initial stack pointer: argc, argv..., 0, envp..., 0, auxv pairs. */
static long *start_sp;

__attribute__((used, noreturn)) static void start_c(long *sp) {
  start_sp = sp;
  sys_exit(test_main());
}

#if defined(__x86_64__)
__asm__(
    "  .pushsection .text._start, \"ax\", @progbits\n"
    "  .globl _start\n"
    "  .type _start, @function\n"
    "_start:\n"
    "  xor %ebp, %ebp\n"
    "  mov %rsp, %rdi\n"
    "  and $-16, %rsp\n"
    "  call start_c\n"
    "  hlt\n"
    "  .size _start, . - _start\n"
    "  .popsection\n");
#elif defined(__aarch64__)
__asm__(
    "  .pushsection .text._start, \"ax\", %progbits\n"
    "  .globl _start\n"
    "  .type _start, %function\n"
    "  .p2align 2\n"
    "_start:\n"
    "  mov x29, #0\n"
    "  mov x30, #0\n"
    "  mov x0, sp\n"
    "  bl start_c\n"
    "  brk #0\n"
    "  .size _start, . - _start\n"
    "  .popsection\n");
#else
#error "start.h: only x86-64 and AArch64 are supported"
#endif

#endif /* START_NO_ENTRY */

#ifdef __cplusplus
}
#endif

#endif
