void note(int v);
__attribute__((constructor)) static void b_ctor_plain(void) { note(65536); }
__attribute__((constructor(150))) static void b_ctor150(void) { note(150); }
