// cflags: -Wa,-mrelax-relocations=no
/* Assembled with -mrelax-relocations=no: @GOTPCREL stays R_X86_64_GOTPCREL,
 * which the linker may not relax, so a real GOT entry is needed. */
__asm__(
    "  .section .text.got_fns, \"ax\", @progbits\n"
    "  .weak missing_weak_sym2\n"
    "  .globl get_gotpcrel_data, get_gotpcrel_fn, get_gotpcrel_weak, call_gotpcrel\n"
    "get_gotpcrel_data:\n"
    "  movq target_data@GOTPCREL(%rip), %rax\n" /* R_X86_64_GOTPCREL */
    "  ret\n"
    "get_gotpcrel_fn:\n"
    "  movq target_fn@GOTPCREL(%rip), %rax\n"
    "  ret\n"
    "get_gotpcrel_weak:\n"
    "  movq missing_weak_sym2@GOTPCREL(%rip), %rax\n"
    "  ret\n"
    "call_gotpcrel:\n"
    "  subq $8, %rsp\n"
    "  call *target_fn@GOTPCREL(%rip)\n"
    "  addq $8, %rsp\n"
    "  ret\n");
