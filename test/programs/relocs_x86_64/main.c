// expect: 42
// arches: x86_64
/* x86-64 relocation kinds a compiler rarely emits, forced with assembly
 * (asm_words.c and asm_got.c). Each value computed through one relocation is
 * compared with the address (or size) taken the ordinary way in C:
 *   R_X86_64_64, PC64, 32, 32S, PC32, PLT32, SIZE32, SIZE64,
 *   GOTPCRELX (call/jmp *sym@GOTPCREL), REX_GOTPCRELX (movq/addq) and, from
 *   asm_got.c assembled with -mrelax-relocations=no, plain GOTPCREL.
 * Weak undefined symbols reached through the GOT must read as 0. */
#include "../start.h"

int target_data = 1234;
long target_arr[4] = {1, 2, 3, 4};
struct {
  char c[40];
} sized_obj;
int target_fn(void) { return 17; }

/* asm_words.c */
extern unsigned long words64[2];
extern long pc64_word;
extern long pc64_word_addend;
extern unsigned int words32[2];
extern unsigned int size32_word;
extern unsigned long size64_word[2];
unsigned long get_abs32s(void);
unsigned long get_abs32(void);
unsigned long get_pc32(void);
int call_plt(void);
int call_plain(void);
unsigned long get_rexgotpcrelx(void);
unsigned long add_rexgotpcrelx(void);
int call_gotpcrelx(void);
int jmp_gotpcrelx(void);
unsigned long get_weak_rexgotpcrelx(void);
/* asm_got.c */
unsigned long get_gotpcrel_data(void);
unsigned long get_gotpcrel_fn(void);
unsigned long get_gotpcrel_weak(void);
int call_gotpcrel(void);

#define ADDR(x) ((unsigned long)OPAQUE(x))

int test_main(void) {
  if (words64[0] != ADDR(&target_data)) return 1;                    /* 64 */
  if (words64[1] != ADDR(&target_fn) + 8) return 2;                  /* 64 + addend */
  if ((unsigned long)&pc64_word + pc64_word != ADDR(&target_data)) return 3; /* PC64 */
  if ((unsigned long)&pc64_word_addend + pc64_word_addend != ADDR(target_arr) + 24) return 4;
  if (words32[0] != (unsigned int)ADDR(&target_data)) return 5;      /* 32 */
  if (words32[1] != (unsigned int)ADDR(&target_fn)) return 6;
  if (get_abs32s() != ADDR(&target_data)) return 7;                  /* 32S */
  if (get_abs32() != ADDR(target_arr)) return 8;                     /* 32 in text */
  if (get_pc32() != ADDR(&target_arr[2])) return 9;                  /* PC32 + addend */
  if (call_plt() != 17 || call_plain() != 17) return 10;             /* PLT32 */
  if (size32_word != sizeof sized_obj) return 11;                    /* SIZE32 */
  if (size64_word[0] != sizeof sized_obj || size64_word[1] != sizeof sized_obj + 3) return 12; /* SIZE64 */
  if (get_rexgotpcrelx() != ADDR(&target_data)) return 13;           /* REX_GOTPCRELX mov */
  if (add_rexgotpcrelx() != ADDR(target_arr) + 5) return 14;         /* REX_GOTPCRELX add */
  if (call_gotpcrelx() != 17 || jmp_gotpcrelx() != 17) return 15;    /* GOTPCRELX */
  if (get_weak_rexgotpcrelx() != 0) return 16;
  if (get_gotpcrel_data() != ADDR(&target_data)) return 17;          /* GOTPCREL */
  if (get_gotpcrel_fn() != ADDR(&target_fn)) return 18;
  if (get_gotpcrel_weak() != 0) return 19;
  if (call_gotpcrel() != 17) return 20;
  return 42;
}
