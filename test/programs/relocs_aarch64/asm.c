/* Data words and code with explicit AArch64 relocations. */
__asm__(
    "  .section .data.a64_words, \"aw\", %progbits\n"
    "  .p2align 3\n"
    "  .globl abs64_word, prel64_word, abs32_word, prel32_word\n"
    "abs64_word:\n"
    "  .xword t64\n"                        /* R_AARCH64_ABS64 */
    "  .xword target_fn + 4\n"
    "prel64_word:\n"
    "  .xword t64 - .\n"                    /* R_AARCH64_PREL64 */
    "abs32_word:\n"
    "  .word t32\n"                         /* R_AARCH64_ABS32 */
    "prel32_word:\n"
    "  .word t32 + 2 - .\n"                 /* R_AARCH64_PREL32 */
    "\n"
    "  .section .text.a64_fns, \"ax\", %progbits\n"
    "  .p2align 2\n"
    "  .weak missing_weak_sym\n"
    "  .globl a64_adrp_add, a64_ld8, a64_ld16, a64_ld32, a64_ld64, a64_ld128, a64_adr\n"
    "  .globl a64_got, a64_got_fn, a64_got_weak, a64_call, a64_tail, a64_condbr, a64_tbz\n"
    "  .globl a64_movw_g3, a64_movw_g2, a64_movw_g1, a64_movw_g0\n"
    "a64_adrp_add:\n"
    "  adrp x0, t128\n"                     /* ADR_PREL_PG_HI21 */
    "  add x0, x0, :lo12:t128\n"            /* ADD_ABS_LO12_NC */
    "  ret\n"
    "a64_ld8:\n"
    "  adrp x1, t8\n"
    "  ldrb w0, [x1, :lo12:t8]\n"           /* LDST8_ABS_LO12_NC */
    "  ret\n"
    "a64_ld16:\n"
    "  adrp x1, t16\n"
    "  ldrh w0, [x1, :lo12:t16]\n"          /* LDST16_ABS_LO12_NC */
    "  ret\n"
    "a64_ld32:\n"
    "  adrp x1, t32\n"
    "  ldr w0, [x1, :lo12:t32]\n"           /* LDST32_ABS_LO12_NC */
    "  ret\n"
    "a64_ld64:\n"
    "  adrp x1, t64\n"
    "  ldr x0, [x1, :lo12:t64]\n"           /* LDST64_ABS_LO12_NC */
    "  ret\n"
    "a64_ld128:\n"
    "  adrp x1, t128\n"
    "  ldr q0, [x1, :lo12:t128]\n"          /* LDST128_ABS_LO12_NC */
    "  str q0, [x0]\n"
    "  ret\n"
    "a64_adr:\n"
    "  adr x0, t64\n"                       /* ADR_PREL_LO21 */
    "  ret\n"
    "a64_got:\n"
    "  adrp x0, :got:t64\n"                 /* ADR_GOT_PAGE */
    "  ldr x0, [x0, :got_lo12:t64]\n"       /* LD64_GOT_LO12_NC */
    "  ret\n"
    "a64_got_fn:\n"
    "  adrp x0, :got:target_fn\n"
    "  ldr x0, [x0, :got_lo12:target_fn]\n"
    "  ret\n"
    "a64_got_weak:\n"
    "  adrp x0, :got:missing_weak_sym\n"
    "  ldr x0, [x0, :got_lo12:missing_weak_sym]\n"
    "  ret\n"
    "a64_call:\n"
    "  stp x29, x30, [sp, #-16]!\n"
    "  mov x29, sp\n"
    "  mov w0, #5\n"
    "  bl target_fn\n"                      /* CALL26 */
    "  ldp x29, x30, [sp], #16\n"
    "  ret\n"
    "a64_tail:\n"
    "  mov w0, #8\n"
    "  b target_fn\n"                       /* JUMP26 */
    "a64_condbr:\n"
    "  cmp w0, #0\n"
    "  b.eq a64_ret1\n"                     /* CONDBR19 */
    "  mov w0, #2\n"
    "  ret\n"
    "a64_tbz:\n"
    "  tbz x0, #0, a64_ret3\n"              /* TSTBR14 */
    "  mov w0, #4\n"
    "  ret\n"
    "a64_movw_g3:\n"
    "  movz x0, #:abs_g3:t64\n"             /* MOVW_UABS_G3 */
    "  movk x0, #:abs_g2_nc:t64\n"          /* MOVW_UABS_G2_NC */
    "  movk x0, #:abs_g1_nc:t64\n"          /* MOVW_UABS_G1_NC */
    "  movk x0, #:abs_g0_nc:t64\n"          /* MOVW_UABS_G0_NC */
    "  ret\n"
    "a64_movw_g2:\n"
    "  movz x0, #:abs_g2:t128\n"            /* MOVW_UABS_G2 */
    "  movk x0, #:abs_g1_nc:t128\n"
    "  movk x0, #:abs_g0_nc:t128\n"
    "  ret\n"
    "a64_movw_g1:\n"
    "  movz x0, #:abs_g1:t32\n"             /* MOVW_UABS_G1 */
    "  movk x0, #:abs_g0_nc:t32\n"
    "  ret\n"
    "a64_movw_g0:\n"
    "  movz x0, #:abs_g0:small_abs\n"       /* MOVW_UABS_G0 */
    "  ret\n"
    "\n"
    /* Branch targets in another section, global, so the branches above
     * need relocations. */
    "  .section .text.a64_targets, \"ax\", %progbits\n"
    "  .p2align 2\n"
    "  .globl a64_ret1, a64_ret3\n"
    "a64_ret1:\n"
    "  mov w0, #1\n"
    "  ret\n"
    "a64_ret3:\n"
    "  mov w0, #3\n"
    "  ret\n");
