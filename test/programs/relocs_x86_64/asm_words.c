/* Data words and code with explicit x86-64 relocations (default assembler
 * options, so @GOTPCREL becomes GOTPCRELX / REX_GOTPCRELX). */
__asm__(
    "  .section .data.reloc_words, \"aw\", @progbits\n"
    "  .p2align 3\n"
    "  .globl words64, pc64_word, pc64_word_addend, words32, size32_word, size64_word\n"
    "words64:\n"
    "  .quad target_data\n"              /* R_X86_64_64 */
    "  .quad target_fn + 8\n"
    "pc64_word:\n"
    "  .quad target_data - .\n"          /* R_X86_64_PC64 */
    "pc64_word_addend:\n"
    "  .quad target_arr + 24 - .\n"
    "words32:\n"
    "  .long target_data\n"              /* R_X86_64_32 */
    "  .long target_fn\n"
    "size32_word:\n"
    "  .long sized_obj@SIZE\n"           /* R_X86_64_SIZE32 */
    "  .p2align 3\n"
    "size64_word:\n"
    "  .quad sized_obj@SIZE\n"           /* R_X86_64_SIZE64 */
    "  .quad sized_obj@SIZE + 3\n"
    "\n"
    "  .section .text.reloc_fns, \"ax\", @progbits\n"
    "  .weak missing_weak_sym\n"
    "  .globl get_abs32s, get_abs32, get_pc32, call_plt, call_plain\n"
    "  .globl get_rexgotpcrelx, add_rexgotpcrelx, call_gotpcrelx, jmp_gotpcrelx, get_weak_rexgotpcrelx\n"
    "get_abs32s:\n"
    "  movq $target_data, %rax\n"        /* R_X86_64_32S */
    "  ret\n"
    "get_abs32:\n"
    "  movl $target_arr, %eax\n"         /* R_X86_64_32 */
    "  ret\n"
    "get_pc32:\n"
    "  leaq target_arr+16(%rip), %rax\n" /* R_X86_64_PC32 */
    "  ret\n"
    "call_plt:\n"
    "  subq $8, %rsp\n"
    "  call target_fn@PLT\n"             /* R_X86_64_PLT32 */
    "  addq $8, %rsp\n"
    "  ret\n"
    "call_plain:\n"
    "  jmp target_fn\n"                  /* R_X86_64_PLT32 (tail call) */
    "get_rexgotpcrelx:\n"
    "  movq target_data@GOTPCREL(%rip), %rax\n" /* R_X86_64_REX_GOTPCRELX */
    "  ret\n"
    "add_rexgotpcrelx:\n"
    "  movl $5, %eax\n"
    "  addq target_arr@GOTPCREL(%rip), %rax\n"  /* R_X86_64_REX_GOTPCRELX */
    "  ret\n"
    "call_gotpcrelx:\n"
    "  subq $8, %rsp\n"
    "  call *target_fn@GOTPCREL(%rip)\n"        /* R_X86_64_GOTPCRELX */
    "  addq $8, %rsp\n"
    "  ret\n"
    "jmp_gotpcrelx:\n"
    "  jmp *target_fn@GOTPCREL(%rip)\n"         /* R_X86_64_GOTPCRELX */
    "get_weak_rexgotpcrelx:\n"
    "  movq missing_weak_sym@GOTPCREL(%rip), %rax\n"
    "  ret\n");
