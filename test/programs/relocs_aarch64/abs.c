/* An absolute symbol (SHN_ABS), defined apart from its users so that their
 * references to it need relocations. */
__asm__("  .globl small_abs\n"
        "  .set small_abs, 0x1234\n");
