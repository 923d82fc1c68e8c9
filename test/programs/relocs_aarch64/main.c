// expect: 42
// arches: aarch64
/* AArch64 relocation kinds forced with assembly (asm.c). Each value computed
 * through one relocation is compared with the address taken the ordinary way
 * in C:
 *   ABS64, ABS32, PREL64, PREL32, CALL26, JUMP26, CONDBR19, TSTBR14,
 *   ADR_PREL_PG_HI21, ADR_PREL_LO21, ADD_ABS_LO12_NC,
 *   LDST8/16/32/64/128_ABS_LO12_NC, ADR_GOT_PAGE + LD64_GOT_LO12_NC,
 *   MOVW_UABS_G0, G0_NC, G1, G1_NC, G2, G2_NC, G3.
 * small_abs is an absolute symbol (SHN_ABS) defined in abs.c and used by
 * asm.c through MOVW_UABS_G0, whose value must fit in 16 bits, and by this
 * unit through ADRP/ADD (or the GOT). */
#include "../start.h"

unsigned char t8 = 0x5a;
unsigned short t16 = 0x1234;
unsigned int t32 = 0xdeadbeef;
unsigned long t64 = 0x0123456789abcdefUL;
__attribute__((aligned(16))) unsigned long t128[2] = {0x1111, 0x2222};
int target_fn(int x) { return x + 17; }

extern char small_abs[]; /* abs.c */

extern unsigned long abs64_word[2];
extern long prel64_word;
extern unsigned int abs32_word;
extern int prel32_word;
unsigned long a64_adrp_add(void);
unsigned long a64_ld8(void);
unsigned long a64_ld16(void);
unsigned long a64_ld32(void);
unsigned long a64_ld64(void);
void a64_ld128(unsigned long out[2]);
unsigned long a64_adr(void);
unsigned long a64_got(void);
unsigned long a64_got_fn(void);
unsigned long a64_got_weak(void);
int a64_call(void);
int a64_tail(void);
int a64_condbr(int x);
int a64_tbz(int x);
unsigned long a64_movw_g3(void);
unsigned long a64_movw_g2(void);
unsigned long a64_movw_g1(void);
unsigned long a64_movw_g0(void);

#define ADDR(x) ((unsigned long)OPAQUE(x))

int test_main(void) {
  if (abs64_word[0] != ADDR(&t64)) return 1;                           /* ABS64 */
  if (abs64_word[1] != ADDR(&target_fn) + 4) return 2;
  if ((unsigned long)&prel64_word + prel64_word != ADDR(&t64)) return 3; /* PREL64 */
  if (abs32_word != (unsigned int)ADDR(&t32)) return 4;                /* ABS32 */
  if ((unsigned long)&prel32_word + prel32_word != ADDR(&t32) + 2) return 5; /* PREL32 */
  if (a64_adrp_add() != ADDR(t128)) return 6;                          /* ADR_PREL_PG_HI21 + ADD_ABS_LO12_NC */
  if (a64_ld8() != 0x5a) return 7;                                     /* LDST8 */
  if (a64_ld16() != 0x1234) return 8;                                  /* LDST16 */
  if (a64_ld32() != 0xdeadbeef) return 9;                              /* LDST32 */
  if (a64_ld64() != 0x0123456789abcdefUL) return 10;                   /* LDST64 */
  unsigned long q[2] = {0, 0};
  a64_ld128(q);                                                        /* LDST128 */
  if (q[0] != 0x1111 || q[1] != 0x2222) return 11;
  if (a64_adr() != ADDR(&t64)) return 12;                              /* ADR_PREL_LO21 */
  if (a64_got() != ADDR(&t64)) return 13;                              /* ADR_GOT_PAGE + LD64_GOT_LO12_NC */
  if (a64_got_fn() != ADDR(&target_fn)) return 14;
  if (a64_got_weak() != 0) return 15;
  if (a64_call() != 5 + 17) return 16;                                 /* CALL26 */
  if (a64_tail() != 8 + 17) return 17;                                 /* JUMP26 */
  if (a64_condbr(0) != 1 || a64_condbr(5) != 2) return 18;             /* CONDBR19 */
  if (a64_tbz(6) != 3 || a64_tbz(7) != 4) return 19;                   /* TSTBR14 */
  if (a64_movw_g3() != ADDR(&t64)) return 20;                          /* G3, G2_NC, G1_NC, G0_NC */
  if (a64_movw_g2() != ADDR(t128)) return 21;                          /* G2, G1_NC, G0_NC */
  if (a64_movw_g1() != ADDR(&t32)) return 22;                          /* G1, G0_NC */
  if (a64_movw_g0() != 0x1234 || ADDR(small_abs) != 0x1234) return 23; /* G0 */
  return 42;
}
